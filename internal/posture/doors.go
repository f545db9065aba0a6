package posture

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// doors lists the four doors of s with what guards each, for the login
// map: the password and second factors for the doors a person signs in
// through, the devices and sessions seen there, and the keys of the api.
func doors(s Snapshot, now time.Time) []Door {
	used := s.DoorsUsed()
	var factors []Guard
	for _, f := range s.Factors {
		if f.Kind == Recovery {
			continue
		}
		g := Guard{Kind: "factor", Name: factorName(f), Note: kindLabel(f)}
		if g.Note == g.Name {
			g.Note = "" // unnamed: its kind is its name, said once
		}
		switch {
		case f.Kind == SMS:
			g.Note, g.Weak = "SMS codes, weak", true
		case f.Kind == WebAuthn && f.DeviceBound:
			g.Note = "security key, AAL3"
		}
		factors = append(factors, g)
	}
	switch {
	case s.unstated(FieldFactors):
		factors = []Guard{{Kind: "factor", Name: "second factors not stated"}}
	case len(factors) == 0:
		factors = []Guard{{Kind: "factor", Name: "no second factor", Weak: true}}
	}
	out := make([]Door, 0, len(Doors))
	for _, name := range Doors {
		d := Door{Name: name, Used: slices.Contains(used, name)}
		if name == DoorAPI {
			for _, k := range s.Keys {
				if !k.Valid(now) {
					continue
				}
				g := Guard{Kind: "key", Name: keyName(k), Note: k.Environment}
				if k.CanMoveMoney() {
					g.Note += ", trades"
				}
				if k.Environment == Live && openAllowlist(k.Allowlist) {
					g.Note += ", no IP allowlist"
					g.Weak = k.CanMoveMoney()
				} else if len(k.Allowlist) > 0 {
					g.Note += ", IP allowlist"
				}
				d.Guards = append(d.Guards, g)
			}
			out = append(out, d)
			continue
		}
		if d.Used {
			d.Guards = append(d.Guards, Guard{Kind: "password", Name: "password"})
			d.Guards = append(d.Guards, factors...)
		}
		for _, dev := range s.Devices {
			if dev.Interface != name {
				continue
			}
			g := Guard{Kind: "device", Name: dev.Name}
			var notes []string
			if !dev.Trusted {
				notes = append(notes, "not trusted")
			}
			if name == DoorMobile {
				lock := dev.Lock
				if lock == "" {
					lock = LockUnknown
				}
				notes = append(notes, "screen lock "+lock)
				g.Weak = lock == LockOff
			}
			if dev.HoldsPassword {
				notes = append(notes, "stores the password")
			}
			g.Note = strings.Join(notes, ", ")
			d.Guards = append(d.Guards, g)
		}
		var live []Session
		for _, se := range s.Sessions {
			if se.Interface == name && se.Valid(now) {
				live = append(live, se)
			}
		}
		if len(live) > 0 {
			g := Guard{Kind: "session", Name: plural(len(live), "session")}
			var longest time.Duration
			forever := false
			for _, se := range live {
				if se.Expires.IsZero() {
					forever = true
				}
				longest = max(longest, se.Lifetime())
			}
			switch {
			case forever:
				g.Note = "one never expires"
				g.Weak = true
			case longest > 0:
				g.Note = fmt.Sprintf("up to %s", span(longest))
				g.Weak = name == DoorDesktop && longest > longSession && !s.hasDeviceBoundKey()
			}
			d.Guards = append(d.Guards, g)
		}
		out = append(out, d)
	}
	return out
}
