package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/password"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// TestEveryKindHasAnAnswer keeps the table whole: a kind added to fault
// without its row here would answer a bare 500.
func TestEveryKindHasAnAnswer(t *testing.T) {
	for _, k := range fault.Kinds() {
		if _, ok := answers[k]; !ok {
			t.Errorf("answers has no row for %v", k)
		}
	}
}

// TestErrorsAnswerByKind pins the problem each domain error answers with,
// as clients of the API read it: status and type are the contract.
func TestErrorsAnswerByKind(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		typ    string
	}{
		{"ErrInvalidCredentials", login.ErrInvalidCredentials, 401, "invalid-credentials"},
		{"ErrInvalidCode", login.ErrInvalidCode, 401, "invalid-code"},
		{"ErrFlow", fmt.Errorf("answer: %w", login.ErrFlow), 404, "no-login-in-progress"},
		{"ErrFactorUnavailable", login.ErrFactorUnavailable, 409, "factor-unavailable"},
		{"ThrottledError", &login.ThrottledError{RetryAfter: 3 * time.Second}, 429, "throttled"},
		{"ErrTooManyPushes", login.ErrTooManyPushes, 429, "throttled"},
		{"WeakPasswordError", &login.WeakPasswordError{Err: password.ErrTooShort}, 422, "weak-password"},
		{"AssuranceError", &login.AssuranceError{Need: session.AAL3}, 403, "assurance-unreachable"},
		{"StepUpError", &session.StepUpError{Need: session.AAL2, Within: 5 * time.Minute}, 403, "step-up-required"},
		{"ErrLastStrongFactor", login.ErrLastStrongFactor, 409, "last-strong-factor"},
		{"ErrFactorState", login.ErrFactorState, 409, "factor-state"},
		{"ErrBadName", login.ErrBadName, 400, "bad-request"},
		{"ErrBadPhone", login.ErrBadPhone, 400, "bad-request"},
		{"ErrNotAllowed", login.ErrNotAllowed, 403, "not-allowed"},
		{"ErrUnauthenticated", authn.ErrUnauthenticated, 401, "unauthenticated"},
		{"ErrNotFound", store.ErrNotFound, 404, "not-found"},
		{"ErrNoAccount", authz.ErrNoAccount, 404, "not-found"},
		{"ErrNoKey", authz.ErrNoKey, 404, "not-found"},
		{"ErrKeyState", fmt.Errorf("%w: %w", authz.ErrKeyState, apikey.ErrRevoked), 409, "key-state"},
		{"ForbiddenError", &authz.ForbiddenError{Reason: "a viewer cannot"}, 403, "forbidden"},
		{"RequestError", &apikey.RequestError{Problems: []apikey.Problem{{Field: "name", Message: "required"}}}, 400, "bad-request"},
		{"GateError", &posturegate.GateError{TurningOn: []string{"margin"}}, 409, "posture-gate"},
		{"ErrNoGateUser", posturegate.ErrNoGateUser, 400, "bad-request"},
		{"Unavailable", fault.Wrap(fault.Unavailable, errors.New("database is locked")), 503, "unavailable"},
		{"Canceled", fmt.Errorf("read user: %w", context.Canceled), 499, "client-closed-request"},
		{"ErrConflict", store.ErrConflict, 500, "internal"},
		{"Unknown", errors.New("boom"), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := toError(tt.err)
			if got, want := e.Problem.Status, tt.status; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := e.Problem.Type, "urn:gatehouse:problem:"+tt.typ; got != want {
				t.Errorf("type = %q, want %q", got, want)
			}
			if !errors.Is(e.Err, tt.err) {
				t.Errorf("Err = %v, want the error itself for the log", e.Err)
			}
		})
	}
}

// TestFailureDetailsComeFromTheError checks the members a client acts on:
// the wait of a throttle or an outage, the field at fault, what to prove.
func TestFailureDetailsComeFromTheError(t *testing.T) {
	e := toError(&login.ThrottledError{RetryAfter: 2500 * time.Millisecond})
	if got, want := e.Header.Get("Retry-After"), "3"; got != want {
		t.Errorf("throttled Retry-After = %q, want %q", got, want)
	}
	e = toError(fault.Wrap(fault.Unavailable, errors.New("disk I/O error")))
	if got, want := e.Header.Get("Retry-After"), "5"; got != want {
		t.Errorf("unavailable Retry-After = %q, want %q", got, want)
	}
	e = toError(login.ErrBadPhone)
	if len(e.Problem.Errors) != 1 || e.Problem.Errors[0].Field != "phone" {
		t.Errorf("ErrBadPhone fields = %v, want phone", e.Problem.Errors)
	}
	e = toError(&session.StepUpError{Need: session.AAL3, Within: time.Minute})
	if got, want := e.Problem.Extra["required_assurance"], "AAL3"; got != want {
		t.Errorf("required_assurance = %v, want %v", got, want)
	}
	if got, want := e.Problem.Status, http.StatusForbidden; got != want {
		t.Errorf("step-up status = %d, want %d", got, want)
	}
}
