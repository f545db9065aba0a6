package posture_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/posture"
)

func TestAssessClean(t *testing.T) {
	r := posture.Assess(clean(), now)
	if r.HasHigh() {
		t.Errorf("HasHigh() = true for the clean set-up")
	}
	for _, f := range r.Findings {
		if f.Exposure != posture.Mitigated {
			t.Errorf("clean set-up has open finding %s (%s)", f.ID, f.Exposure)
		}
	}
	if r.Profile != posture.Professional || r.Policy != posture.Professional.Policy() {
		t.Errorf("Profile, Policy = %q, %q; want professional and its policy", r.Profile, r.Policy)
	}
	if r.User != (posture.User{ID: "ada", Name: "Ada Byron"}) {
		t.Errorf("User = %+v", r.User)
	}
	if !r.AssessedAt.Equal(now) {
		t.Errorf("AssessedAt = %v, want %v", r.AssessedAt, now)
	}
}

func TestAssessOrder(t *testing.T) {
	s := clean()
	s.Factors = []posture.Factor{sms, push} // sms-enrolled medium, recovery mitigated...
	s.Keys[0].Allowlist = nil               // key-no-allowlist high
	s.Keys[1].LastUsed = ago(40 * day)      // key-unused low
	s.Settings.SessionNotifications = false // notifications-off low
	s.Sessions[0].Assurance = 2             // desktop-no-hardware-key high
	r := posture.Assess(s, now)
	if !r.HasHigh() {
		t.Fatalf("HasHigh() = false")
	}
	for i := 1; i < len(r.Findings); i++ {
		a, b := r.Findings[i-1], r.Findings[i]
		ra, rb := slices.Index(posture.Exposures, a.Exposure), slices.Index(posture.Exposures, b.Exposure)
		if ra > rb || (ra == rb && a.ID > b.ID) {
			t.Errorf("findings %s (%s) before %s (%s): want exposure order, then id", a.ID, a.Exposure, b.ID, b.Exposure)
		}
	}
	var got []string
	for _, f := range r.Findings {
		if f.Exposure == posture.High {
			got = append(got, f.ID)
		}
	}
	want := []string{"desktop-no-hardware-key", "key-no-allowlist/live-bot", "permissions-ahead/LIVE-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("high findings (-want +got):\n%s", diff)
	}
	if got, want := r.Count(posture.High), 3; got != want {
		t.Errorf("Count(High) = %d, want %d", got, want)
	}
}

func TestAssessIsPure(t *testing.T) {
	s := clean()
	s.Keys[0].Allowlist = nil
	a, b := posture.Assess(s, now), posture.Assess(s, now)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two assessments differ:\n%s", diff)
	}
	if diff := cmp.Diff(clean().Keys[1], s.Keys[1]); diff != "" {
		t.Errorf("Assess changed its snapshot:\n%s", diff)
	}
}

func TestReportEntities(t *testing.T) {
	s := clean()
	s.Accounts = append(s.Accounts,
		posture.Account{ID: "LIVE-2", Environment: "live", Entity: mustEntity("US")},
		posture.Account{ID: "UK-1", Environment: "live", Entity: mustEntity("uk")},
		posture.Account{ID: "AU-1", Environment: "live", Entity: posture.Entity{Code: "AU"}},
	)
	r := posture.Assess(s, now)
	var got []string
	for _, e := range r.Entities {
		got = append(got, e.Code+":"+strings.Join(e.Accounts, ","))
		if !strings.Contains(e.Reminder, "signed in as you") {
			t.Errorf("entity %s reminder %q does not say takeovers are not covered", e.Code, e.Reminder)
		}
		if e.Scheme != "" && !strings.Contains(e.Reminder, e.Scheme) {
			t.Errorf("entity %s reminder %q does not name its scheme", e.Code, e.Reminder)
		}
	}
	want := []string{"AU:AU-1", "UK:UK-1", "US:LIVE-1,LIVE-2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entities (-want +got):\n%s", diff)
	}
}

func TestDefaultEntities(t *testing.T) {
	table := posture.DefaultEntities()
	for _, tc := range []struct{ code, scheme, limit string }{
		{"US", "SIPC", "$500,000"},
		{"US", "SIPC", "$250,000"},
		{"UK", "FSCS", "£85,000"},
		{"DE", "EdB", "€20,000"},
		{"EU", "97/9/EC", "€20,000"},
	} {
		e, ok := table.Lookup(tc.code)
		if !ok || !strings.Contains(e.Scheme, tc.scheme) || !strings.Contains(e.Limit, tc.limit) {
			t.Errorf("Lookup(%q) = %+v, %v; want scheme %s with %s", tc.code, e, ok, tc.scheme, tc.limit)
		}
		if e.Code != tc.code {
			t.Errorf("Lookup(%q).Code = %q", tc.code, e.Code)
		}
	}
	if e, ok := table.Lookup(" us "); !ok || e.Code != "US" {
		t.Errorf("Lookup(\" us \") = %+v, %v; want US", e, ok)
	}
	if e, ok := table.Lookup("ZZ"); ok || e != (posture.Entity{Code: "ZZ"}) {
		t.Errorf("Lookup(ZZ) = %+v, %v; want code only, false", e, ok)
	}
	table["US"] = posture.Entity{Code: "US", Scheme: "changed"}
	if e, _ := posture.DefaultEntities().Lookup("US"); e.Scheme != "SIPC" {
		t.Errorf("changing one DefaultEntities table changed the next: %+v", e)
	}
	if got, want := posture.DefaultEntities().Codes(), []string{"DE", "EU", "JP", "UK", "US"}; !slices.Equal(got, want) {
		t.Errorf("Codes() = %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	if err := clean().Validate(); err != nil {
		t.Fatalf("clean().Validate() = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(s *posture.Snapshot)
		want string
	}{
		{"profile", func(s *posture.Snapshot) { s.Profile = "day-trader" }, `profile "day-trader"`},
		{"interface", func(s *posture.Snapshot) { s.Interfaces = []string{"fax"} }, `interfaces[0] "fax"`},
		{"factor kind", func(s *posture.Snapshot) { s.Factors[0].Kind = "email" }, `factors[0].kind "email"`},
		{"device-bound TOTP", func(s *posture.Snapshot) { s.Factors = []posture.Factor{{Kind: posture.TOTP, DeviceBound: true}} }, "device-bound"},
		{"codes", func(s *posture.Snapshot) { s.RecoveryCodesLeft = -1 }, "recovery codes left -1"},
		{"device interface", func(s *posture.Snapshot) { s.Devices[0].Interface = "api" }, `devices[0].interface "api"`},
		{"lock", func(s *posture.Snapshot) { s.Devices[0].Lock = "maybe" }, `devices[0].lock "maybe"`},
		{"session interface", func(s *posture.Snapshot) { s.Sessions[0].Interface = "api" }, `sessions[0].interface "api"`},
		{"assurance", func(s *posture.Snapshot) { s.Sessions[0].Assurance = 4 }, "sessions[0].assurance 4"},
		{"key environment", func(s *posture.Snapshot) { s.Keys[0].Environment = "prod" }, `keys[0].environment "prod"`},
		{"scope", func(s *posture.Snapshot) { s.Keys[0].Scopes = []string{"orders:all"} }, `keys[0].scopes[0] "orders:all"`},
		{"used scope", func(s *posture.Snapshot) { s.Keys[0].UsedScopes = []string{"x"} }, `keys[0].used_scopes[0] "x"`},
		{"used for", func(s *posture.Snapshot) { s.Keys[0].UsedEnvironments = []string{"test"} }, `keys[0].used_for[0] "test"`},
		{"allowlist", func(s *posture.Snapshot) { s.Keys[0].Allowlist = []string{"10.0.0.0/33"} }, `keys[0].allowlist[0]`},
		{"account environment", func(s *posture.Snapshot) { s.Accounts[0].Environment = "" }, `accounts[0].environment ""`},
		{"push outcome", func(s *posture.Snapshot) { s.Pushes[0].Outcome = "ignored" }, `pushes[0].outcome "ignored"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clean()
			tc.edit(&s)
			err := s.Validate()
			if !errors.Is(err, posture.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDoors(t *testing.T) {
	s := clean()
	s.Interfaces = nil
	s.Devices = s.Devices[:1]
	s.Sessions = s.Sessions[:1]
	if got, want := s.DoorsUsed(), []string{"desktop", "mobile", "api"}; !slices.Equal(got, want) {
		t.Errorf("DoorsUsed() = %v, want %v (push shows the phone app)", got, want)
	}
	s.Factors = s.Factors[:2]
	if got, want := s.DoorsUsed(), []string{"desktop", "api"}; !slices.Equal(got, want) {
		t.Errorf("DoorsUsed() without push = %v, want %v", got, want)
	}
	s.Keys[0].Allowlist = nil
	r := posture.Assess(s, now)
	var got []string
	for _, d := range r.Doors {
		var gs []string
		for _, g := range d.Guards {
			w := ""
			if g.Weak {
				w = "!"
			}
			gs = append(gs, g.Kind+":"+g.Name+w)
		}
		got = append(got, d.Name+" "+strings.Join(gs, ","))
		if d.Name == "web" && d.Used {
			t.Errorf("web door used, want not used")
		}
	}
	want := []string{
		"desktop password:password,factor:YubiKey 5C,factor:backup YubiKey,device:workstation,session:1 session",
		"web ",
		"mobile ",
		"api key:live bot!,key:paper bot",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("doors (-want +got):\n%s", diff)
	}
	if e, ok := r.DoorExposure("api"); !ok || e != posture.High {
		t.Errorf("DoorExposure(api) = %v, %v; want high, true", e, ok)
	}
	if _, ok := r.DoorExposure("web"); ok {
		t.Errorf("DoorExposure(web) found findings on an unused door")
	}
}

// TestUnstatedAsksInsteadOfGuessing: factors left out of a set-up raise
// no "no second factor" high on a guess; the report asks for them and
// names the checks that wait. Stated as none, the high is there.
func TestUnstatedAsksInsteadOfGuessing(t *testing.T) {
	s := clean()
	s.Factors, s.RecoveryCodesLeft, s.Settings.SessionNotifications = nil, 0, false
	s.Unstated = []string{posture.FieldFactors, posture.FieldRecoveryCodes, posture.FieldNotifications}
	r := posture.Assess(s, now)
	for _, f := range r.Findings {
		switch f.FailureMode {
		case posture.PasswordOnly, posture.NoRecovery, posture.SMSInterception, posture.Phishing, posture.SilentTakeover:
			t.Errorf("finding %s (%s) built on an unstated field", f.ID, f.Exposure)
		}
	}
	var got []string
	for _, q := range r.Unstated {
		got = append(got, q.Field+": "+strings.Join(q.Checks, " "))
		if q.Ask == "" || q.Answer == "" {
			t.Errorf("question %s lacks its words: %+v", q.Field, q)
		}
	}
	want := []string{
		"factors: desktop sms phishing second-factor recovery",
		"recovery_codes_left: recovery",
		"settings.session_notifications: notifications",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("questions (-want +got):\n%s", diff)
	}

	s.Unstated = nil // the same set-up, stated as none
	r = posture.Assess(s, now)
	if !slices.ContainsFunc(r.Findings, func(f posture.Finding) bool { return f.ID == "no-second-factor" && f.Exposure == posture.High }) {
		t.Errorf("factors stated as none: no high no-second-factor finding")
	}
	if len(r.Unstated) != 0 {
		t.Errorf("stated set-up asks %d questions", len(r.Unstated))
	}
}
