package posture

import (
	"slices"
	"strings"
	"time"
)

// Apply returns s as it is once the account holder has followed f's next
// step, and whether the step changes anything the set-up records (a
// password change or "deny pushes you did not start" does not). It is the
// model of every next step, kept beside the rules so that a test can
// follow each step, assess again, and check that no step brings back a
// finding as bad as the one it fixed (see TestStepsConverge).
func Apply(s Snapshot, f Finding, now time.Time) (Snapshot, bool) {
	s = clone(s)
	kind, ref, _ := strings.Cut(f.ID, "/")
	key := func(fn func(k *APIKey)) bool {
		for i := range s.Keys {
			if keyRef(s.Keys[i]) == ref {
				fn(&s.Keys[i])
				return true
			}
		}
		return false
	}
	dropKey := func() bool {
		n := len(s.Keys)
		s.Keys = slices.DeleteFunc(s.Keys, func(k APIKey) bool { return keyRef(k) == ref })
		return len(s.Keys) < n
	}
	device := func(fn func(d *Device)) bool {
		for i := range s.Devices {
			if s.Devices[i].ID == ref || s.Devices[i].Name == ref {
				fn(&s.Devices[i])
				return true
			}
		}
		return false
	}
	addFactor := func(x Factor) { x.Created = now; s.Factors = append(s.Factors, x) }
	// backup is the "printed recovery codes" the factor steps ask for
	// where one strong factor would otherwise stand alone.
	backup := func() {
		if s.RecoveryCodesLeft == 0 {
			s.RecoveryCodesLeft = 10
		}
	}
	dropKinds := func(kinds ...FactorKind) {
		s.Factors = slices.DeleteFunc(s.Factors, func(x Factor) bool { return slices.Contains(kinds, x.Kind) })
	}
	switch kind {
	case "key-no-allowlist":
		return s, key(func(k *APIKey) { k.Allowlist, k.Created = []string{"203.0.113.7/32"}, now })
	case "key-rotation":
		return s, key(func(k *APIKey) { k.Created, k.MinterEnded = now, false })
	case "key-unused", "key-minted-by-ended-session":
		return s, dropKey()
	case "key-broad-scopes":
		return s, key(func(k *APIKey) {
			if k.UsedScopes != nil {
				k.Scopes = slices.Clone(k.UsedScopes)
			} else {
				k.Scopes = slices.DeleteFunc(slices.Clone(k.Scopes), func(sc string) bool { return sc == ScopeTransfersWrite })
			}
			k.Created = now
		})
	case "key-shared-environments":
		return s, key(func(k *APIKey) {
			k.UsedEnvironments = []string{k.Environment}
			if a, ok := s.account(k.Account); ok && a.Environment != k.Environment {
				k.Account = ""
			}
			k.Created = now
		})
	case "key-twins":
		return s, key(func(k *APIKey) { k.Location, k.Created = "live deployment's secret store", now })
	case "key-no-paper":
		s.Keys = append(s.Keys, APIKey{ID: "paper-for-testing", Name: "paper-for-testing", Environment: Paper, Scopes: []string{ScopeMarketdataRead, ScopeOrdersRead, ScopeOrdersWrite}, Created: now, LastUsed: now})
		return s, true
	case "sms-only-second-factor", "sms-enrolled":
		if !slices.ContainsFunc(s.Factors, Factor.Strong) {
			addFactor(Factor{ID: "app", Kind: TOTP, Name: "authenticator app"})
		}
		backup()
		dropKinds(SMS)
		return s, true
	case "desktop-long-session":
		s.Sessions = slices.DeleteFunc(s.Sessions, func(se Session) bool { return se.Interface == DoorDesktop })
		return s, true
	case "desktop-no-hardware-key", "desktop-session-below-aal3":
		if !slices.ContainsFunc(s.Factors, func(x Factor) bool { return x.Kind == WebAuthn && x.DeviceBound }) {
			addFactor(Factor{ID: "security-key", Kind: WebAuthn, Name: "security key", DeviceBound: true})
			backup()
		}
		for i := range s.Sessions {
			if s.Sessions[i].Interface == DoorDesktop {
				s.Sessions[i].Assurance = 3
			}
		}
		return s, true
	case "no-second-factor", "phishing-no-resistant-factor":
		if kind == "no-second-factor" && s.Profile == Professional {
			addFactor(Factor{ID: "security-key", Kind: WebAuthn, Name: "security key", DeviceBound: true})
			for i := range s.Sessions {
				if s.Sessions[i].Interface == DoorDesktop {
					s.Sessions[i].Assurance = 3
				}
			}
		} else {
			addFactor(Factor{ID: "passkey", Kind: WebAuthn, Name: "passkey"})
		}
		backup()
		if kind == "phishing-no-resistant-factor" {
			dropKinds(SMS, TOTP)
		}
		return s, true
	case "phishing-fallback":
		backup()
		dropKinds(SMS, TOTP)
		return s, true
	case "recovery-single-factor":
		addFactor(Factor{ID: "backup-key", Kind: WebAuthn, Name: "backup security key", DeviceBound: true})
		s.RecoveryCodesLeft = 10
		return s, true
	case "recovery-codes-low":
		s.RecoveryCodesLeft = 10
		return s, true
	case "session-stale":
		n := len(s.Sessions)
		s.Sessions = slices.DeleteFunc(s.Sessions, func(se Session) bool { return sessionRef(se) == ref })
		return s, len(s.Sessions) < n
	case "desktop-sessions-many":
		// Keep the newest desktop session of each workstation (one when
		// none is listed); sign the rest out.
		seen := map[string]bool{}
		slices.SortStableFunc(s.Sessions, func(a, b Session) int { return b.Created.Compare(a.Created) })
		s.Sessions = slices.DeleteFunc(s.Sessions, func(se Session) bool {
			if se.Interface != DoorDesktop {
				return false
			}
			drop := seen[se.Device]
			seen[se.Device] = true
			return drop
		})
		return s, true
	case "notifications-off":
		s.Settings.SessionNotifications = true
		return s, true
	case "phone-no-lock", "phone-lock-unknown":
		return s, device(func(d *Device) { d.Lock = LockOn })
	case "phone-password-store":
		return s, device(func(d *Device) { d.HoldsPassword = false })
	}
	// The rest ask for conduct (change the password, deny pushes, check
	// the audit trail) or for other findings first: nothing recorded
	// changes.
	return s, false
}

// clone copies the lists of s that Apply changes.
func clone(s Snapshot) Snapshot {
	s.Factors = slices.Clone(s.Factors)
	s.Devices = slices.Clone(s.Devices)
	s.Sessions = slices.Clone(s.Sessions)
	s.Keys = slices.Clone(s.Keys)
	for i := range s.Keys {
		s.Keys[i].Scopes = slices.Clone(s.Keys[i].Scopes)
		s.Keys[i].Allowlist = slices.Clone(s.Keys[i].Allowlist)
	}
	return s
}
