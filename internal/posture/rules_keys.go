package posture

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// unusedAfter is how long without use makes a key forgotten.
const unusedAfter = 21 * day

// checkKeys looks for API key leakage, key by key: live keys that can
// trade or transfer without an IP allowlist, keys older than the rotation
// period, keys unused for weeks, keys with more scopes than their use
// shows, and keys shared between paper and live work. Expired keys are
// skipped: they open nothing.
func checkKeys(s Snapshot, now time.Time) []Finding {
	var out []Finding
	live, paper := false, false
	for _, k := range s.Keys {
		if !k.Valid(now) {
			continue
		}
		if k.Environment == Paper {
			paper = true
		}
		if k.Environment == Live && k.CanMoveMoney() {
			live = true
		}
		out = append(out, keyAllowlist(k)...)
		out = append(out, keyRotation(s.Profile, k, now)...)
		out = append(out, keyUnused(k, now)...)
		out = append(out, keyScopes(k)...)
		out = append(out, keyShared(s, k)...)
		out = append(out, keyMinterEnded(k)...)
	}
	out = append(out, keyTwins(s, now)...)
	if s.Profile == Professional && live && !paper {
		out = append(out, Finding{
			ID: "key-no-paper", FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: Low,
			Summary:  "You have live trading keys and no paper key: strategies are tried with live credentials, which then sit in test code and notebooks, and a bug places real orders.",
			Evidence: []Evidence{{Kind: "key", Name: "paper key", Detail: "no paper key"}},
			NextStep: "Create a paper key for development and testing, and keep the live key only where live strategies run.",
		})
	}
	return out
}

// powers says what a key may do, for a sentence.
func powers(k APIKey) string {
	var p []string
	if k.Has(ScopeOrdersWrite) {
		p = append(p, "place orders")
	}
	if k.Has(ScopeTransfersWrite) {
		p = append(p, "move money")
	}
	if len(p) == 0 {
		return "read your account"
	}
	return strings.Join(p, " and ")
}

// openAllowlist reports whether allowlist admits (nearly) any address:
// it is empty, or holds a prefix wider than /8 (IPv4) or /16 (IPv6).
func openAllowlist(allowlist []string) bool {
	if len(allowlist) == 0 {
		return true
	}
	for _, c := range allowlist {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		if (p.Addr().Is4() && p.Bits() < 8) || (!p.Addr().Is4() && p.Bits() < 16) {
			return true
		}
	}
	return false
}

func keyAllowlist(k APIKey) []Finding {
	exp := Severity(WeakOpenAllowlist, k.Power())
	if exp == Mitigated || !openAllowlist(k.Allowlist) {
		return nil
	}
	detail := "live, " + strings.Join(k.Scopes, " ") + ", no IP allowlist"
	if len(k.Allowlist) > 0 {
		detail = "live, " + strings.Join(k.Scopes, " ") + ", allowlist " + strings.Join(k.Allowlist, " ") + " admits nearly any address"
	}
	if k.Location != "" {
		detail += ", lives on " + k.Location
	}
	if !k.CanMoveMoney() {
		return []Finding{{
			ID: "key-no-allowlist/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
			Summary:  fmt.Sprintf("The read-only live key %q works from any address: a copy of it shows your positions and orders to whoever holds it.", keyName(k)),
			Evidence: []Evidence{keyEvidence(k, detail)},
			NextStep: "Restrict the key to the addresses it is used from (an IP allowlist).",
		}}
	}
	return []Finding{{
		ID: "key-no-allowlist/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
		Summary:  fmt.Sprintf("The live key %q%s can %s from any address in the world: one copy of it, from a snapshot, a log or a repository, is the account.", keyName(k), where(k), powers(k)),
		Evidence: []Evidence{keyEvidence(k, detail)},
		NextStep: "Add an IP allowlist holding only the address of the machine that runs the strategy (a cloud VM's static or elastic IP), then rotate the key, since it may already have been copied.",
	}}
}

func keyRotation(p Profile, k APIKey, now time.Time) []Finding {
	period := p.RotationPeriod()
	if k.Created.IsZero() || now.Sub(k.Created) <= period {
		return nil
	}
	exp := Severity(WeakOld, k.Power())
	return []Finding{{
		ID: "key-rotation/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
		Summary:  fmt.Sprintf("The %s key %q is %s old, past the %d-day rotation period: the longer a key lives, the more copies of it there are.", k.Environment, keyName(k), span(now.Sub(k.Created)), int(period/day)),
		Evidence: []Evidence{keyEvidence(k, "created "+ago(now, k.Created))},
		NextStep: fmt.Sprintf("Rotate the key now and every %d days: create the new one, deploy it, then revoke the old.", int(period/day)),
	}}
}

func keyUnused(k APIKey, now time.Time) []Finding {
	var idle time.Duration
	var detail string
	switch {
	case !k.LastUsed.IsZero():
		idle, detail = now.Sub(k.LastUsed), "last used "+ago(now, k.LastUsed)
	case !k.Created.IsZero():
		idle, detail = now.Sub(k.Created), "never used, created "+ago(now, k.Created)
	default:
		return nil
	}
	if idle <= unusedAfter {
		return nil
	}
	exp := Severity(WeakDormant, k.Power())
	return []Finding{{
		ID: "key-unused/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
		Summary:  fmt.Sprintf("The %s key %q has not been used for %s but still works: a forgotten key is one nobody watches.", k.Environment, keyName(k), span(idle)),
		Evidence: []Evidence{keyEvidence(k, detail)},
		NextStep: "Revoke the key; create a new one when a strategy needs it again.",
	}}
}

func keyScopes(k APIKey) []Finding {
	if k.UsedScopes == nil {
		if k.Environment == Live && k.Has(ScopeOrdersWrite) && k.Has(ScopeTransfersWrite) {
			return []Finding{{
				ID: "key-broad-scopes/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: Severity(WeakBroadScopes, PowerTransfer),
				Summary:  fmt.Sprintf("The live key %q can both trade and move money out: whoever copies it can sell your positions and withdraw the proceeds.", keyName(k)),
				Evidence: []Evidence{keyEvidence(k, "scopes "+strings.Join(k.Scopes, " "))},
				NextStep: "Split it: one key that trades, and transfers done from the portal (or a separate key used only where transfers are made).",
			}}
		}
		return nil
	}
	var extra []string
	for _, sc := range k.Scopes {
		if !slices.Contains(k.UsedScopes, sc) {
			extra = append(extra, sc)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	// Judged by the power the unused scopes add, not the key's: a live
	// trading key that also reads positions it never reads is a small
	// excess; one that can withdraw and never does is the worst one.
	exp := Severity(WeakBroadScopes, powerOf(k.Environment, extra))
	keep := slices.DeleteFunc(slices.Clone(k.Scopes), func(sc string) bool { return slices.Contains(extra, sc) })
	need := strings.Join(keep, " ")
	if need == "" {
		need = "none: revoke it"
	}
	return []Finding{{
		ID: "key-broad-scopes/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
		Summary:  fmt.Sprintf("The %s key %q holds %s, which its use never shows: a leak gives away more than the strategy needs.", k.Environment, keyName(k), strings.Join(extra, " ")),
		Evidence: []Evidence{keyEvidence(k, "scopes "+strings.Join(k.Scopes, " ")+"; used "+strings.Join(k.UsedScopes, " "))},
		NextStep: "Replace it with a key that holds only: " + need + ".",
	}}
}

func keyShared(s Snapshot, k APIKey) []Finding {
	shared := slices.Contains(k.UsedEnvironments, Paper) && slices.Contains(k.UsedEnvironments, Live)
	detail := "used for paper and live work"
	if a, ok := s.account(k.Account); ok && a.Environment != k.Environment {
		shared = true
		detail = fmt.Sprintf("%s key on %s account %s", k.Environment, a.Environment, a.ID)
	}
	if !shared {
		return nil
	}
	// A shared key acts on live money whatever its own environment says.
	exp := Severity(WeakShared, powerOf(Live, k.Scopes))
	return []Finding{{
		ID: "key-shared-environments/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: exp,
		Summary:  fmt.Sprintf("The key %q serves both paper and live work: paper code (notebooks, backtests, shared repositories) is copied far more freely, and a bug meant for paper places real orders.", keyName(k)),
		Evidence: []Evidence{keyEvidence(k, detail)},
		NextStep: "Create a separate paper key for testing, and keep the live key only where live strategies run.",
	}}
}

// keyMinterEnded flags a live key minted by a session that was later
// ended as untrusted: ending every session and changing the password
// leave such a key working, so a stolen cookie becomes a key that lasts
// months.
func keyMinterEnded(k APIKey) []Finding {
	if k.Environment != Live || !k.MinterEnded {
		return nil
	}
	exp := Severity(WeakMinterEnded, k.Power())
	return []Finding{{
		ID: "key-minted-by-ended-session/" + keyRef(k), FailureMode: KeyLeakage, Doors: []string{DoorAPI, DoorWeb}, Exposure: exp,
		Summary:  fmt.Sprintf("The live key %q was created by a session that was later ended (revoked, or by a password change), and still works: if that session was not yours, whoever held it can %s with this key.", keyName(k), powers(k)),
		Evidence: []Evidence{keyEvidence(k, "live key minted by a session that was later ended")},
		NextStep: "If you did not create this key, revoke it now and check your audit trail for its uses; if you did, nothing to do but confirm it.",
	}}
}

// keyRef is the key's ID, or its name when it has none.
func keyRef(k APIKey) string {
	if k.ID != "" {
		return k.ID
	}
	return k.Name
}

// keyTwins finds a paper key and a live key made as one automation
// config: the same scopes, the same place (lives_on), the same allowlist,
// created within the same minute. The strategy then reads its credentials
// from one file, and the paper and live code paths are one switch apart;
// the live key travels wherever the paper one does.
func keyTwins(s Snapshot, now time.Time) []Finding {
	var out []Finding
	for _, p := range s.Keys {
		if p.Environment != Paper || !p.Valid(now) || p.Created.IsZero() {
			continue
		}
		for _, l := range s.Keys {
			if l.Environment != Live || !l.Valid(now) || l.Created.IsZero() || l.Location == "" || l.Location != p.Location {
				continue
			}
			gap := l.Created.Sub(p.Created)
			if gap < 0 {
				gap = -gap
			}
			if gap >= time.Minute || !sameSet(l.Scopes, p.Scopes) || !sameSet(l.Allowlist, p.Allowlist) {
				continue
			}
			out = append(out, Finding{
				ID: "key-twins/" + keyRef(l), FailureMode: KeyLeakage, Doors: []string{DoorAPI}, Exposure: Medium,
				Summary:  fmt.Sprintf("The live key %q and the paper key %q were made together, with the same scopes, on %s: one automation config shared between paper and live, so the live key goes wherever the paper one is copied.", keyName(l), keyName(p), l.Location),
				Evidence: []Evidence{keyEvidence(l, "live, created "+ago(now, l.Created)), keyEvidence(p, "paper, created "+ago(now, p.Created))},
				NextStep: "Keep them apart: the live key only in the live deployment's own secret store, the paper key in the test configuration, with the live key narrowed to the scopes the live strategy uses.",
			})
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
