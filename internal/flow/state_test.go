package flow_test

import (
	"testing"
	"time"

	"gatehouse/internal/flow"
	"gatehouse/internal/session"
)

func TestFlowStateChanges(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	fresh := func() *flow.Flow {
		return &flow.Flow{State: flow.Factor, Assurance: session.AAL1, AMR: "pwd", Challenge: []byte(`{}`), ExpiresAt: now.Add(time.Minute)}
	}
	tests := []struct {
		name        string
		change      func(*flow.Flow)
		state       flow.State
		aal         session.Assurance
		amr         string
		pending     bool
		challengeOK bool // the challenge is kept
	}{
		{"Prove", func(f *flow.Flow) { f.Prove(session.AAL2, "otp") }, flow.Factor, session.AAL2, "pwd otp", true, false},
		{"ProveTwiceOnce", func(f *flow.Flow) { f.Prove(session.AAL2, "otp"); f.Prove(session.AAL1, "otp") }, flow.Factor, session.AAL2, "pwd otp", true, false},
		{"Ready", func(f *flow.Flow) { f.Ready(session.AAL2, "mca") }, flow.Ready, session.AAL2, "pwd mca", false, false},
		{"FailOnce", func(f *flow.Flow) { f.Fail(5) }, flow.Factor, session.AAL1, "pwd", true, true},
		{"FailToMax", func(f *flow.Flow) {
			for range 5 {
				f.Fail(5)
			}
		}, flow.Denied, session.AAL1, "pwd", false, true},
		{"Deny", func(f *flow.Flow) { f.Deny() }, flow.Denied, session.AAL1, "pwd", false, false},
		{"AwaitDevice", func(f *flow.Flow) { f.AwaitDevice("dev_1") }, flow.Device, session.AAL1, "pwd", false, false},
		{"Authenticate", func(f *flow.Flow) { f.Authenticate("ses_1") }, flow.Authenticated, session.AAL1, "pwd", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fresh()
			tt.change(f)
			if f.State != tt.state || f.Assurance != tt.aal || f.AMR != tt.amr {
				t.Errorf("flow %s %v %q, want %s %v %q", f.State, f.Assurance, f.AMR, tt.state, tt.aal, tt.amr)
			}
			if got := f.Pending(now); got != tt.pending {
				t.Errorf("Pending = %v, want %v", got, tt.pending)
			}
			if got := f.Challenge != nil; got != tt.challengeOK {
				t.Errorf("challenge kept = %v, want %v", got, tt.challengeOK)
			}
		})
	}
}
