package posture

import (
	"cmp"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// staleAfter is how long a valid session may go unseen before it counts
// as stale.
const staleAfter = 3 * day

// maxDesktopSessions is how many desktop sessions are expected beyond one
// per desktop device.
const maxDesktopSessions = 2

// checkSessions looks for stale sessions (valid but not seen for days)
// and for more concurrent desktop sessions than there are workstations.
func checkSessions(s Snapshot, now time.Time) []Finding {
	var out []Finding
	var desktop []Session
	for _, se := range s.Sessions {
		if !se.Valid(now) {
			continue
		}
		if se.Interface == DoorDesktop {
			desktop = append(desktop, se)
		}
		seen := se.LastSeen
		if seen.IsZero() {
			seen = se.Created
		}
		if seen.IsZero() || now.Sub(seen) <= staleAfter {
			continue
		}
		exp := Low
		left := "never expires"
		if se.Expires.IsZero() || se.Expires.Sub(now) > day {
			exp = Medium
		}
		if !se.Expires.IsZero() {
			left = "stays valid for " + span(se.Expires.Sub(now))
		}
		out = append(out, Finding{
			ID: "session-stale/" + sessionRef(se), FailureMode: StaleSessions, Doors: []string{se.Interface}, Exposure: exp,
			Summary:  fmt.Sprintf("A %s session on %q was last used %s but %s: a copy of its token works until then, and nobody would notice its use.", se.Interface, deviceName(se), ago(now, seen), left),
			Evidence: []Evidence{sessionEvidence(se, now)},
			NextStep: fmt.Sprintf("Sign that session out: on the portal's Sessions page, the %s session on %q last used %s.", se.Interface, deviceName(se), ago(now, seen)),
		})
	}
	devices := 0
	for _, d := range s.Devices {
		if d.Interface == DoorDesktop {
			devices++
		}
	}
	limit := max(devices, 1) + maxDesktopSessions - 1
	if len(desktop) > limit {
		// Sprawl on the door the profile trades through, with sessions
		// nobody has used for days among them, is where a copied token
		// hides: high for a professional, whose desktop is the account.
		exp, why := Medium, ""
		if s.Profile == Professional {
			for _, se := range desktop {
				if seen := cmp.Or(se.LastSeen, se.Created); !seen.IsZero() && now.Sub(seen) > staleAfter {
					exp, why = High, " Some have not been used for days, and the desktop is the door you trade through."
					break
				}
			}
		}
		out = append(out, Finding{
			ID: "desktop-sessions-many", FailureMode: StaleSessions, Doors: []string{DoorDesktop}, Exposure: exp,
			Summary:  fmt.Sprintf("%s are signed in at once, more than your %s explain: one of them may be a copy.%s", plural(len(desktop), "desktop session"), plural(max(devices, 1), "workstation"), why),
			Evidence: sessionsEvidence(desktop, now),
			NextStep: "Sign out every desktop session you cannot place, then sign in again on each workstation.",
		})
	}
	return out
}

func sessionRef(se Session) string {
	if se.ID != "" {
		return se.ID
	}
	return se.Device
}

func deviceName(se Session) string {
	if se.Device != "" {
		return se.Device
	}
	return "an unnamed device"
}

// checkPermissions looks for permissions ahead of controls: margin,
// options, futures or withdrawals enabled on a live account while any
// high finding of the other rules is open.
func checkPermissions(s Snapshot, now time.Time) []Finding {
	var highs []string
	// Root causes, not symptoms: the findings are merged by cause first,
	// so one missing security key counts once.
	for _, f := range baseFindings(s, now) {
		// Only takeover paths count: a lock-out (no recovery) is a high
		// of its own, not a way in for someone else.
		if f.Exposure == High && f.FailureMode != NoRecovery {
			highs = append(highs, f.ID)
		}
	}
	var out []Finding
	var every []string // the permissions on, over every live account
	for _, a := range s.Accounts {
		if a.Environment == Live {
			every = append(every, a.Permissions.List()...)
		}
	}
	every = uniq(every)
	for _, a := range s.Accounts {
		perms := a.Permissions.List()
		if a.Environment != Live || len(perms) == 0 || len(highs) == 0 {
			continue
		}
		ev := []Evidence{{Kind: "account", ID: a.ID, Name: a.Name, Detail: strings.Join(perms, ", ") + " enabled"}}
		for _, h := range highs {
			ev = append(ev, Evidence{Kind: "finding", ID: h, Detail: "high finding open"})
		}
		what := "losses beyond the cash in the account"
		if a.Permissions.Withdrawals && len(perms) == 1 {
			what = "money leaving the account"
		} else if a.Permissions.Withdrawals {
			what = "losses beyond the cash in the account, and money leaving it"
		}
		through := "any of them"
		if len(highs) == 1 {
			through = "it"
		}
		out = append(out, Finding{
			ID: "permissions-ahead/" + a.ID, FailureMode: PermissionsAhead, Doors: []string{}, Exposure: High, // the account, not a door
			Summary:  fmt.Sprintf("%s %s on, while %s open: a takeover through %s can mean %s.", capitalize(list(perms)), isAre(perms), openHighs(len(highs)), through, what),
			Evidence: ev,
			NextStep: fmt.Sprintf("Fix the other high findings first; until they are fixed, switch off whatever you do not use today among %s.", list(every)),
		})
	}
	return out
}

func openHighs(n int) string {
	if n == 1 {
		return "a high finding is"
	}
	return fmt.Sprintf("%d high findings are", n)
}

// isAre is the verb for a list of permissions; "withdrawals" is plural.
func isAre(perms []string) string {
	if len(perms) == 1 && perms[0] != "withdrawals" {
		return "is"
	}
	return "are"
}

// doorsUsedOr returns [Snapshot.DoorsUsed], or just fallback when no door
// is known.
func (s Snapshot) doorsUsedOr(fallback string) []string {
	if d := s.DoorsUsed(); len(d) > 0 {
		return d
	}
	return []string{fallback}
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
