package posture_test

import (
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/posture"
)

// find returns the finding with id in r, or one with only its id empty.
func find(r posture.Report, id string) posture.Finding {
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	return posture.Finding{}
}

func cites(f posture.Finding, source string) bool {
	return slices.ContainsFunc(f.Basis, func(b posture.Basis) bool { return b.Source == source })
}

// occasionalApp is an occasional investor on the web portal with an
// authenticator app and recovery codes: enough for the profile.
func occasionalApp(entity string) posture.Snapshot {
	s := clean()
	s.Profile = posture.Occasional
	s.Interfaces = []string{"web"}
	s.Devices, s.Sessions, s.Keys, s.Pushes = nil, nil, nil, nil
	s.Factors = []posture.Factor{totp}
	s.Accounts = []posture.Account{{ID: "LIVE-1", Environment: "live", Entity: mustEntity(entity)}}
	return s
}

func TestJapanPack(t *testing.T) {
	// Under NIST and the occasional profile an app is enough: low.
	us := posture.Assess(occasionalApp("US"), now)
	if f := find(us, "phishing-no-resistant-factor"); f.Exposure != posture.Low || cites(f, "JSDA internet-trading guidelines (Japan, 2025)") {
		t.Errorf("US account: phishing = %s %+v, want low under NIST only", f.Exposure, f.Basis)
	}
	if len(us.Packs) != 1 || us.Packs[0].Source != posture.NIST {
		t.Errorf("US account: packs %+v, want NIST only", us.Packs)
	}

	// A Japanese securities firm must require a phishing-resistant login,
	// whatever the profile: high, and the finding says which rule.
	jpSnap := occasionalApp("JP")
	jpSnap.Accounts[0].Permissions.Withdrawals = true
	jp := posture.Assess(jpSnap, now)
	f := find(jp, "phishing-no-resistant-factor")
	if f.Exposure != posture.High || !cites(f, "JSDA internet-trading guidelines (Japan, 2025)") {
		t.Fatalf("JP account: phishing = %s %+v, want high citing the JSDA guidelines", f.Exposure, f.Basis)
	}
	var rules []string
	for _, b := range f.Basis {
		rules = append(rules, b.Rule)
	}
	if !slices.ContainsFunc(rules, func(r string) bool { return r == posture.Packs()[0].Rules[1] }) {
		t.Errorf("JP account with withdrawals: basis %v lacks the withdrawal rule", rules)
	}
	if len(jp.Packs) != 2 || jp.Packs[1].Code != posture.PackJP || !slices.Equal(jp.Packs[1].Accounts, []string{"LIVE-1"}) {
		t.Errorf("JP account: packs %+v", jp.Packs)
	}

	// The step removes the app's codes once the passkey is there: a
	// fallback a phishing page can ask for is itself high under the pack.
	next, _ := posture.Apply(jpSnap, f, now)
	if after := posture.Assess(next, now); after.HasHigh() {
		t.Errorf("after the JP phishing step: highs %v", highs(after))
	}

	// Notices are on by default under the pack: off is medium even for a
	// professional, whom NIST and the profile would let off with low.
	pro := clean()
	pro.Settings.SessionNotifications = false
	if f := find(posture.Assess(pro, now), "notifications-off"); f.Exposure != posture.Low {
		t.Errorf("US professional, notices off = %s, want low", f.Exposure)
	}
	pro.Accounts[0].Entity = mustEntity("JP")
	if f := find(posture.Assess(pro, now), "notifications-off"); f.Exposure != posture.Medium || !cites(f, "JSDA internet-trading guidelines (Japan, 2025)") {
		t.Errorf("JP professional, notices off = %s %+v, want medium citing the pack", f.Exposure, f.Basis)
	}

	// A paper account at a Japanese firm holds no money and selects nothing.
	paper := occasionalApp("JP")
	paper.Accounts[0].Environment = "paper"
	if f := find(posture.Assess(paper, now), "phishing-no-resistant-factor"); f.Exposure != posture.Low {
		t.Errorf("JP paper account: phishing = %s, want low", f.Exposure)
	}
}

// TestPermissionsOneFinding: permissions on several accounts while a
// high is open are one cause, so one finding with the others inside.
func TestPermissionsOneFinding(t *testing.T) {
	s := clean()
	s.Keys[0].Allowlist = nil // key-no-allowlist/live-bot: high
	s.Accounts = append(s.Accounts, posture.Account{ID: "LIVE-2", Environment: "live", Permissions: posture.Permissions{Margin: true}})
	r := posture.Assess(s, now)
	var ids []string
	for _, f := range r.Findings {
		if f.FailureMode == posture.PermissionsAhead {
			ids = append(ids, f.ID)
			if len(f.Also) != 1 || f.Also[0].ID != "permissions-ahead/LIVE-2" || !strings.Contains(f.NextStep, "options and margin") {
				t.Errorf("%s: also %+v, step %q; want LIVE-2 inside and both permissions named", f.ID, f.Also, f.NextStep)
			}
		}
	}
	if !slices.Equal(ids, []string{"permissions-ahead/LIVE-1"}) {
		t.Errorf("permission findings %v, want one", ids)
	}
}

// TestProfileSaysWhichRule: a finding whose weight the profile sets says
// which profile rule applied, so the same set-up reads high for one
// trader and low for another without blame.
func TestProfileSaysWhichRule(t *testing.T) {
	s := clean()
	s.Factors = []posture.Factor{passkey, totp}
	s.RecoveryCodesLeft = 10
	s.Sessions[0].Assurance = 2
	pro := find(posture.Assess(s, now), "desktop-no-hardware-key")
	if pro.Exposure != posture.High || !cites(pro, "profile professional") {
		t.Errorf("professional without a device-bound key: %s %+v, want high citing the profile", pro.Exposure, pro.Basis)
	}
	// An occasional investor with a synced passkey and an app needs no
	// hardware key: a one-day desktop session is no high.
	s.Profile, s.Accounts = posture.Occasional, nil
	occ := find(posture.Assess(s, now), "desktop-long-session")
	if occ.Exposure == posture.High || !cites(occ, "profile occasional") {
		t.Errorf("occasional with passkey and app: %s %+v, want below high citing the profile", occ.Exposure, occ.Basis)
	}
	if r := posture.Assess(s, now); r.HasHigh() {
		t.Errorf("occasional with passkey and app: highs %v", highs(r))
	}
}
