package signal_test

import (
	"errors"
	"testing"

	"gatehouse/internal/signal"
)

// TestOnlyEnforcedStepsRecorded: a step gatehouse parses but does not yet
// enforce is refused when the signal is recorded, so no operator or user
// is told of a rule nothing holds.
func TestOnlyEnforcedStepsRecorded(t *testing.T) {
	for _, c := range []struct {
		step string
		ok   bool
	}{
		{"end-sessions", true},
		{"reauth:aal3", false},
		{"rotate-keys:14d", false},
		{"forbid-sms", false},
		{"require-phishing-resistant:2027-01-31", false},
		{"route-aal:live.example.com/api/transfers=3", false},
	} {
		st, err := signal.ParseStep(c.step)
		if err != nil {
			t.Fatalf("ParseStep(%q): %v", c.step, err)
		}
		s := &signal.Signal{Title: "Desktop client 4.2 vulnerable", Kind: signal.Vulnerability, Severity: signal.High, Steps: []signal.Step{st}}
		err = s.Validate()
		if got := err == nil; got != c.ok || (!c.ok && !errors.Is(err, signal.ErrNotEnforced)) {
			t.Errorf("Validate with %s = %v, want ok=%v", c.step, err, c.ok)
		}
	}
}
