package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/login"
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

// toError maps any error from below to what the client may see. Domain
// errors carry a kind; anything unknown is a bare 500.
func toError(err error) *Error {
	var e *Error
	var te *login.ThrottledError
	var we *login.WeakPasswordError
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
