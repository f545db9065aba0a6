package flow

import (
	"time"

	"gatehouse/internal/session"
)

// The state changes of a flow. They are pure: the caller stores the flow
// (compare-and-swap on Version) with the audit event that records the change.

// Pending reports whether the flow can take an answer at now.
func (f *Flow) Pending(now time.Time) bool { return f.State == Factor && !f.Expired(now) }

// Prove records a factor proven on the flow: the flow holds the higher of
// its assurance and aal, amr joins its methods, and the challenge that was
// answered is spent.
func (f *Flow) Prove(aal session.Assurance, amr string) {
	f.Assurance = max(f.Assurance, aal)
	f.AMR = session.AddAMR(f.AMR, amr)
	f.Challenge = nil
}

// Ready records a factor proven out of band (a push approved on the
// phone): the client's next poll mints the session.
func (f *Flow) Ready(aal session.Assurance, amr string) {
	f.Prove(aal, amr)
	f.State = Ready
}

// Fail counts a wrong answer and denies the flow at the max-th; it
// reports whether the flow is now denied.
func (f *Flow) Fail(max int) bool {
	f.Attempts++
	if f.Attempts >= max {
		f.State = Denied
	}
	return f.State == Denied
}

// Deny ends the flow as refused.
func (f *Flow) Deny() { f.State, f.Challenge = Denied, nil }

// AwaitDevice makes the flow wait for the validation of the new device
// it logs in from.
func (f *Flow) AwaitDevice(deviceID string) {
	f.DeviceID, f.State, f.NewDevice, f.Challenge = deviceID, Device, true, nil
}

// Authenticate records the session the flow minted; the flow is over.
func (f *Flow) Authenticate(sessionID string) {
	f.State, f.SessionID, f.Challenge = Authenticated, sessionID, nil
}
