package setup

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/posture"
)

// Marshal writes s as a SETUP.yaml that [Load] reads back to the same
// snapshot: times absolute (RFC 3339), every default written out. An
// account's entity is written as its code.
func Marshal(s posture.Snapshot) ([]byte, error) {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	f := file{
		User: s.UserID, Name: s.UserName, Profile: string(s.Profile), Interfaces: s.Interfaces,
		Settings:          settingsFile{SessionNotifications: s.Settings.SessionNotifications},
		RecoveryCodesLeft: s.RecoveryCodesLeft,
	}
	for _, x := range s.Factors {
		f.Factors = append(f.Factors, factorFile{
			ID: x.ID, Kind: string(x.Kind), Name: x.Name, DeviceBound: x.DeviceBound, Device: x.Device,
			Added: ts(x.Created), LastUsed: ts(x.LastUsed),
		})
	}
	for _, d := range s.Devices {
		trusted := d.Trusted
		f.Devices = append(f.Devices, deviceFile{
			ID: d.ID, Name: d.Name, Interface: d.Interface, Trusted: &trusted, DeviceLock: d.Lock, HoldsPassword: d.HoldsPassword,
		})
	}
	for _, se := range s.Sessions {
		exp := ts(se.Expires)
		if exp == "" {
			exp = "never"
		}
		f.Sessions = append(f.Sessions, sessionFile{
			ID: se.ID, Interface: se.Interface, Device: se.Device, Started: ts(se.Created), LastSeen: ts(se.LastSeen),
			Expires: exp, Assurance: se.Assurance,
		})
	}
	for _, k := range s.Keys {
		kf := keyFile{
			ID: k.ID, Name: k.Name, Account: k.Account, Environment: k.Environment, Scopes: k.Scopes,
			Allowlist: k.Allowlist, Created: ts(k.Created), Expires: ts(k.Expires), LastUsed: ts(k.LastUsed),
			UsedFor: k.UsedEnvironments, LivesOn: k.Location,
		}
		if k.UsedScopes != nil {
			used := slices.Clone(k.UsedScopes)
			if used == nil {
				used = []string{}
			}
			kf.UsedScopes = &used
		}
		f.Keys = append(f.Keys, kf)
	}
	for _, a := range s.Accounts {
		f.Accounts = append(f.Accounts, accountFile{
			ID: a.ID, Name: a.Name, Environment: a.Environment, Entity: a.Entity.Code, Permissions: a.Permissions.List(),
		})
	}
	for _, p := range s.Pushes {
		f.Pushes = append(f.Pushes, pushFile{At: ts(p.Time), Outcome: p.Outcome})
	}
	var doc yaml.Node
	if err := doc.Encode(f); err != nil {
		return nil, fmt.Errorf("setup: marshal: %w", err)
	}
	stated(&doc, s)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("setup: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("setup: marshal: %w", err)
	}
	return b.Bytes(), nil
}

// stated makes the mapping m say exactly what s states: a field s leaves
// unstated is left out, and a stated empty list of factors is written
// as [] (left out, it would read back as unstated).
func stated(m *yaml.Node, s posture.Snapshot) {
	drop := func(key string) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content = slices.Delete(m.Content, i, i+2)
				return
			}
		}
	}
	unstated := func(field string) bool { return slices.Contains(s.Unstated, field) }
	if unstated(posture.FieldRecoveryCodes) {
		drop("recovery_codes_left")
	}
	if unstated(posture.FieldNotifications) {
		drop("settings") // its only field
	}
	if len(s.Factors) == 0 && !unstated(posture.FieldFactors) {
		m.Content = append(m.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "factors"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle})
	}
}
