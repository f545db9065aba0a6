package httpapi

import (
	"context"
	"net/http"
	"strings"
	"unicode"
)

// cooldownRoutes registers an administrator's early end of a user's
// cool-down: `gatehouse cooldown lift` for an administrator's session
// with AAL3 proven within the step-up window.
func cooldownRoutes(rt router, sd sessionDeps) {
	if rt.d.Cooldowns == nil {
		return
	}
	svc := rt.d.Cooldowns
	rt.handle("POST /v1/admin/users/{user}/cooldown/lift", func(w http.ResponseWriter, r *http.Request) error {
		a, err := sd.actor(r)
		if err != nil {
			return err
		}
		if _, err := sd.login.Admin(r.Context(), a.Session); err != nil {
			return err
		}
		body, err := decode[liftRequest](w, r)
		if err != nil {
			return err
		}
		if err := svc.AdminLift(r.Context(), a, r.PathValue("user"), body.Reason); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// liftRequest is the body of POST /v1/admin/users/{user}/cooldown/lift.
type liftRequest struct {
	Reason string `json:"reason"`
}

func (b liftRequest) Valid(context.Context) []FieldError {
	if strings.TrimSpace(b.Reason) == "" || len(b.Reason) > maxReason || strings.ContainsFunc(b.Reason, unicode.IsControl) {
		return []FieldError{{"reason", "why the cool-down ends early, for the audit trail: 1 to 500 characters, no control characters"}}
	}
	return nil
}
