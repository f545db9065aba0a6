package session

import (
	"strings"
	"time"
)

// DefaultStepUpWindow is how recent the proof behind a sensitive action
// must be unless configured (factors.step_up_window).
const DefaultStepUpWindow = 5 * time.Minute

// Require is the one step-up rule. It returns nil when s holds at least
// need, proven within window of now, and otherwise the [*StepUpError]
// that asks for exactly that. Factor and device changes, API keys and
// trading permissions all ask through it, so that no two of them judge
// freshness differently.
func (s *Session) Require(need Assurance, window time.Duration, now time.Time) error {
	if s.Assurance >= need && s.Fresh(now, window) {
		return nil
	}
	return &StepUpError{Need: need, Within: window}
}

// RequireLevel returns nil when s holds at least need, however long ago
// it was proven, for actions that prove something themselves (a password
// change asks for the current password) or only read. Its error still
// asks for a proof within window: the step-up that answers it is fresh.
func (s *Session) RequireLevel(need Assurance, window time.Duration) error {
	if s.Assurance >= need {
		return nil
	}
	return &StepUpError{Need: need, Within: window}
}

// Proved reports whether the session's methods (its AMR) include m, an
// RFC 8176 value such as "rec" for a recovery code.
func (s *Session) Proved(m string) bool {
	return strings.Contains(" "+s.AMR+" ", " "+m+" ")
}

// MethodRecovery is the method a completed lost-factor recovery proves
// (beside the password): its session may only enrol a new strong factor
// and new recovery codes.
const MethodRecovery = "rwait"

// RecoveryOnly reports whether the session came from a completed
// recovery and may only enrol (see [MethodRecovery]).
func (s *Session) RecoveryOnly() bool { return s.Proved(MethodRecovery) }

// AddAMR adds the method m to the space-separated list amr, once.
func AddAMR(amr, m string) string {
	for _, x := range strings.Fields(amr) {
		if x == m {
			return amr
		}
	}
	return strings.TrimSpace(amr + " " + m)
}
