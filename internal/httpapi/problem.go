package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists field problems of a bad request.
	Errors []FieldError `json:"errors,omitempty"`
	// Extra members (retry_after, required_assurance…).
	Extra map[string]any `json:"-"`
}

// FieldError names one bad field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// MarshalJSON flattens Extra into the document, as RFC 9457 extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	json.Unmarshal(b, &m)
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Error is what a handler returns to answer with a problem. The client
// sees Problem; only the log sees Err.
type Error struct {
	Problem Problem
	Err     error
	// Header carries headers the answer needs (Retry-After, WWW-Authenticate).
	Header http.Header
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Problem.Title + ": " + e.Err.Error()
	}
	return e.Problem.Title
}

func (e *Error) Unwrap() error { return e.Err }

func problem(status int, kind, title, detail string) *Error {
	return &Error{Problem: Problem{Type: "urn:gatehouse:problem:" + kind, Title: title, Status: status, Detail: detail}}
}

// The problems handlers return. Authentication failures have one wording.
func errBadRequest(detail string, fields ...FieldError) *Error {
	e := problem(http.StatusBadRequest, "bad-request", "Bad request", detail)
	e.Problem.Errors = fields
	return e
}

func errUnauthenticated() *Error {
	return problem(http.StatusUnauthorized, "unauthenticated", "Authentication required", "No valid session or key was presented.")
}

func errInvalidCredentials() *Error {
	return problem(http.StatusUnauthorized, "invalid-credentials", "Invalid credentials", "The username or password is wrong.")
}

func errNotFound() *Error {
	return problem(http.StatusNotFound, "not-found", "Not found", "")
}

func errThrottled(wait time.Duration) *Error {
	secs := int(wait.Seconds())
	if secs < 1 {
		secs = 1
	}
	e := problem(http.StatusTooManyRequests, "throttled", "Too many attempts", "Too many failed attempts; wait before trying again.")
	e.Problem.Extra = map[string]any{"retry_after": secs}
	e.Header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return e
}

// errStepUp asks for a fresher or stronger proof (POST /v1/stepup).
func errStepUp(need session.Assurance, within time.Duration) *Error {
	e := problem(http.StatusForbidden, "step-up-required", "Step-up required",
		fmt.Sprintf("This needs %v proven within the last %v: raise the session with POST /v1/stepup and try again.", need, within))
	e.Problem.Extra = map[string]any{"required_assurance": need.String(), "max_age": int(within.Seconds())}
	return e
}

// toError maps any error from below to what the client may see. Domain
// errors carry a kind; anything unknown is a bare 500.
func toError(err error) *Error {
	var e *Error
	var te *login.ThrottledError
	var we *login.WeakPasswordError
	var ae *login.AssuranceError
	var se *login.StepUpError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &te):
		return errThrottled(te.RetryAfter)
	case errors.As(err, &we):
		x := problem(http.StatusUnprocessableEntity, "weak-password", "Password not acceptable", we.Error())
		x.Err = err
		return x
	case errors.Is(err, login.ErrInvalidCredentials):
		return errInvalidCredentials()
	case errors.Is(err, login.ErrInvalidCode):
		return problem(http.StatusUnauthorized, "invalid-code", "Invalid code", "The code or answer is wrong, used already or expired.")
	case errors.Is(err, login.ErrFlow):
		return problem(http.StatusNotFound, "no-login-in-progress", "No login in progress", "This login is unknown, finished or expired; start again with POST /v1/login.")
	case errors.Is(err, login.ErrFactorUnavailable):
		return problem(http.StatusConflict, "factor-unavailable", "Factor not available", "That factor is not enrolled, not confirmed, or not allowed here by policy.")
	case errors.Is(err, login.ErrTooManyPushes):
		e := errThrottled(time.Minute)
		e.Problem.Detail = "Too many push requests are waiting for an answer; answer or let them expire first."
		return e
	case errors.As(err, &ae):
		x := problem(http.StatusForbidden, "assurance-unreachable", "Stronger factor needed",
			fmt.Sprintf("%s logins need %v for the %s profile; enrol a device-bound security key from a session that has one.", ae.Interface, ae.Need, ae.Profile))
		x.Problem.Extra = map[string]any{"required_assurance": ae.Need.String()}
		return x
	case errors.As(err, &se):
		return errStepUp(se.Need, se.Within)
	case errors.Is(err, login.ErrLastStrongFactor):
		return problem(http.StatusConflict, "last-strong-factor", "Last strong factor", "The last strong factor cannot be removed; enrol another one first.")
	case errors.Is(err, login.ErrFactorState):
		return problem(http.StatusConflict, "factor-state", "Factor not pending", "The factor is not waiting for confirmation.")
	case errors.Is(err, login.ErrBadName):
		return errBadRequest("", FieldError{"name", "1 to 64 printable characters"})
	case errors.Is(err, login.ErrBadPhone):
		return errBadRequest("", FieldError{"phone", "an E.164 number: + and 8 to 15 digits"})
	case errors.Is(err, login.ErrNotAllowed):
		return problem(http.StatusForbidden, "not-allowed", "Not allowed", "This session may not do that.")
	case errors.Is(err, authn.ErrUnauthenticated):
		return errUnauthenticated()
	case errors.Is(err, store.ErrNotFound):
		return errNotFound()
	}
	x := problem(http.StatusInternalServerError, "internal", "Internal error", "")
	x.Err = err
	return x
}

// writeProblem renders a problem document.
func writeProblem(w http.ResponseWriter, e *Error) {
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Problem.Status)
	json.NewEncoder(w).Encode(e.Problem)
}

// logError logs a failed request without secrets: only the route, the
// status and the internal error's text, which never carries a credential.
func logError(log *slog.Logger, r *http.Request, e *Error) {
	level := slog.LevelInfo
	if e.Problem.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.Problem.Status, "problem", e.Problem.Type}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err.Error())
	}
	log.Log(r.Context(), level, "request failed", attrs...)
}
