package signal_test

import (
	"testing"
	"time"

	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/user"
)

func mustSteps(t *testing.T, ss ...string) []signal.Step {
	t.Helper()
	var out []signal.Step
	for _, s := range ss {
		st, err := signal.ParseStep(s)
		if err != nil {
			t.Fatalf("ParseStep(%q): %v", s, err)
		}
		out = append(out, st)
	}
	return out
}

// TestEveryStepRecorded: every step gatehouse parses is enforced, so a
// signal with any of them is valid.
func TestEveryStepRecorded(t *testing.T) {
	for _, step := range []string{"end-sessions", "reauth:aal3", "rotate-keys:14d", "forbid-sms", "require-phishing-resistant:2027-01-31", "route-aal:live.example.com/api/transfers=3"} {
		s := &signal.Signal{Title: "Desktop client 4.2 vulnerable", Kind: signal.Vulnerability, Severity: signal.High, Steps: mustSteps(t, step)}
		if err := s.Validate(); err != nil {
			t.Errorf("Validate with %s = %v", step, err)
		}
	}
}

// TestRules: only open, applied signals have rules in force; each step
// demands what it says of the sessions in its scope and nothing of the
// others.
func TestRules(t *testing.T) {
	applied := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := applied.Add(time.Hour)
	open := func(title string, doors []string, profiles []user.Profile, steps ...string) *signal.Signal {
		return &signal.Signal{ID: "sig_" + title, Title: title, State: signal.Open, AppliedAt: applied, Doors: doors, Profiles: profiles, Steps: mustSteps(t, steps...)}
	}
	notApplied := open("later", nil, nil, "reauth:aal3")
	notApplied.AppliedAt = time.Time{}
	closed := open("over", nil, nil, "reauth:aal3")
	closed.State = signal.Closed
	if r := signal.BuildRules([]*signal.Signal{notApplied, closed}); !r.Empty() {
		t.Fatal("a signal not applied, or closed, has rules in force")
	}
	r := signal.BuildRules([]*signal.Signal{
		open("desktop", []string{"desktop"}, nil, "reauth:aal2"),
		open("transfers", nil, nil, "route-aal:live.example.com/api/transfers=3"),
		open("phish", nil, []user.Profile{user.Professional}, "require-phishing-resistant:2026-12-01", "forbid-sms"),
	})
	yes, no := func() bool { return true }, func() bool { return false }
	before, after := applied.Add(-time.Minute), applied.Add(time.Minute)
	for _, c := range []struct {
		name         string
		prof         user.Profile
		door         session.Door
		aal          session.Assurance
		auth         time.Time
		method, path string
		strong       func() bool
		want         bool
		wantAAL      session.Assurance
		readOnly     bool
	}{
		{"DesktopBeforeApplied", user.Occasional, session.Desktop, session.AAL2, before, "GET", "/api/orders", yes, true, session.AAL2, false},
		{"DesktopSince", user.Occasional, session.Desktop, session.AAL2, after, "GET", "/api/orders", yes, false, 0, false},
		{"WebNotInScope", user.Occasional, session.Web, session.AAL2, before, "GET", "/api/orders", yes, false, 0, false},
		{"TransfersAtAAL2", user.Occasional, session.Web, session.AAL2, after, "POST", "/api/transfers/t-1", yes, true, session.AAL3, false},
		{"TransfersAtAAL3", user.Occasional, session.Web, session.AAL3, after, "POST", "/api/transfers", yes, false, 0, false},
		{"ProWithoutKeyWrites", user.Professional, session.Web, session.AAL2, after, "POST", "/api/orders", no, true, 0, true},
		{"ProWithoutKeyReads", user.Professional, session.Web, session.AAL2, after, "GET", "/api/orders", no, false, 0, false},
		{"ProWithKey", user.Professional, session.Web, session.AAL2, after, "POST", "/api/orders", yes, false, 0, false},
		{"OtherProfile", user.Occasional, session.Web, session.AAL2, after, "POST", "/api/orders", no, false, 0, false},
	} {
		d, ok := r.Session(c.prof, c.door, c.aal, c.auth, c.method, "live.example.com", c.path, now, c.strong)
		if ok != c.want || d.AAL != c.wantAAL || d.ReadOnly != c.readOnly || ok && d.Title == "" {
			t.Errorf("%s: Session = %+v, %v; want %v, AAL %v, read-only %v", c.name, d, ok, c.want, c.wantAAL, c.readOnly)
		}
	}
	if got := r.ForbidsSMS(user.Professional); got != "phish" {
		t.Errorf("ForbidsSMS(professional) = %q, want the signal's title", got)
	}
	if got := r.ForbidsSMS(user.Occasional); got != "" {
		t.Errorf("ForbidsSMS(occasional) = %q, want none", got)
	}
}
