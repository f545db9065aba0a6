package session_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse/internal/session"
)

func TestRequire(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	const window = 5 * time.Minute
	tests := []struct {
		name    string
		held    session.Assurance
		authAgo time.Duration // how long ago the last proof was; negative: never
		need    session.Assurance
		ok      bool
	}{
		{"OK", session.AAL2, time.Minute, session.AAL2, true},
		{"HigherThanNeeded", session.AAL3, time.Minute, session.AAL2, true},
		{"AtTheWindowsEdge", session.AAL2, window, session.AAL2, true},
		{"Stale", session.AAL2, window + time.Second, session.AAL2, false},
		{"TooWeak", session.AAL1, 0, session.AAL2, false},
		{"TooWeakForAAL3", session.AAL2, 0, session.AAL3, false},
		{"NeverProven", session.AAL2, -1, session.AAL2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &session.Session{Assurance: tt.held}
			if tt.authAgo >= 0 {
				s.AuthTime = now.Add(-tt.authAgo)
			}
			err := s.Require(tt.need, window, now)
			if tt.ok {
				if err != nil {
					t.Errorf("Require(%v, %v) = %v, want nil", tt.need, window, err)
				}
				return
			}
			var se *session.StepUpError
			if !errors.As(err, &se) || se.Need != tt.need || se.Within != window {
				t.Errorf("Require(%v, %v) = %v, want a StepUpError for %v within %v", tt.need, window, err, tt.need, window)
			}
		})
	}
}

func TestRequireLevelIgnoresAge(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	old := &session.Session{Assurance: session.AAL2, AuthTime: now.Add(-10 * time.Hour)}
	if err := old.RequireLevel(session.AAL2, time.Minute); err != nil {
		t.Errorf("RequireLevel(AAL2) of an old AAL2 session = %v, want nil", err)
	}
	var se *session.StepUpError
	weak := &session.Session{Assurance: session.AAL1, AuthTime: now}
	if err := weak.RequireLevel(session.AAL2, time.Minute); !errors.As(err, &se) || se.Within != time.Minute {
		t.Errorf("RequireLevel(AAL2) of an AAL1 session = %v, want a StepUpError within 1m", err)
	}
}

func TestProved(t *testing.T) {
	s := &session.Session{AMR: "pwd rec"}
	for m, want := range map[string]bool{"pwd": true, "rec": true, "re": false, "otp": false} {
		if got := s.Proved(m); got != want {
			t.Errorf("Proved(%q) of AMR %q = %v, want %v", m, s.AMR, got, want)
		}
	}
}
