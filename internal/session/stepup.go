package session

import (
	"fmt"
	"time"

	"gatehouse/internal/fault"
)

// StepUpError refuses an action that needs fresher or stronger proof: the
// session must hold at least Need, proven within Within. The session is
// asked to step up (POST /v1/stepup, the portal's /stepup), not thrown out.
// Logins, enrolment, device approval, posture changes and API keys all
// refuse with it, so every transport answers a step-up the same way.
type StepUpError struct {
	Need   Assurance
	Within time.Duration
}

// Error names what the session must prove.
func (e *StepUpError) Error() string {
	return fmt.Sprintf("session: step-up to %v within %v required", e.Need, e.Within)
}

// Kind is [fault.StepUp].
func (e *StepUpError) Kind() fault.Kind { return fault.StepUp }
