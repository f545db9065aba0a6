package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/authz"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
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
	e := kindError(fault.Invalid, nil)
	e.Problem.Detail, e.Problem.Errors = detail, fields
	return e
}

func errUnauthenticated() *Error { return kindError(fault.Unauthenticated, nil) }

func errNotFound() *Error { return kindError(fault.NotFound, nil) }

// answer is how the API tells a client of one kind of failure: the
// status, the problem type (after urn:gatehouse:problem:), its title and
// the detail every such failure shares.
type answer struct {
	status             int
	typ, title, detail string
	// more adds what the error itself knows: the wait, the fields at
	// fault, what to prove. Nil when the kind says it all.
	more func(err error, e *Error)
}

// retryUnavailable is the Retry-After of an answer to a store failure:
// long enough for a database fail-over or a restart, short enough that a
// trader is not kept waiting for nothing.
const retryUnavailable = 5 * time.Second

// answers is the API's one table from a failure's kind to its problem
// document. Authentication failures have one wording each; a kind
// without a row is a bare 500.
var answers = map[fault.Kind]answer{
	fault.Internal: {http.StatusInternalServerError, "internal", "Internal error", "", nil},
	fault.Unavailable: {http.StatusServiceUnavailable, "unavailable", "Service unavailable",
		"gatehouse could not reach its store. Nothing was counted against you; try again shortly.",
		func(err error, e *Error) { retry(e, retryUnavailable) }},
	fault.Canceled: {statusClientClosed, "client-closed-request", "Client closed request", "", nil},
	fault.Invalid: {http.StatusBadRequest, "bad-request", "Bad request", "", func(err error, e *Error) {
		for _, f := range fault.Fields(err) {
			e.Problem.Errors = append(e.Problem.Errors, FieldError{Field: f.Name, Detail: f.Want})
		}
		if len(e.Problem.Errors) > 1 {
			e.Problem.Detail = "The request has invalid fields."
		}
	}},
	fault.TooLarge: {http.StatusRequestEntityTooLarge, "payload-too-large", "Payload too large", "The body is larger than this route accepts.",
		func(err error, e *Error) {
			var big *http.MaxBytesError
			if errors.As(err, &big) {
				e.Problem.Detail = fmt.Sprintf("The body is larger than %d bytes.", big.Limit)
			}
		}},
	fault.Unauthenticated:    {http.StatusUnauthorized, "unauthenticated", "Authentication required", "No valid session or key was presented.", nil},
	fault.InvalidCredentials: {http.StatusUnauthorized, "invalid-credentials", "Invalid credentials", "The username or password is wrong.", nil},
	fault.InvalidCode:        {http.StatusUnauthorized, "invalid-code", "Invalid code", "The code or answer is wrong, used already or expired.", nil},
	fault.NoFlow: {http.StatusNotFound, "no-login-in-progress", "No login in progress",
		"This login is unknown, finished or expired; start again with POST /v1/login.", nil},
	fault.NotFound: {http.StatusNotFound, "not-found", "Not found", "", nil},
	fault.FactorUnavailable: {http.StatusConflict, "factor-unavailable", "Factor not available",
		"That factor is not enrolled, not confirmed, or not allowed here by policy.", nil},
	fault.Throttled: {http.StatusTooManyRequests, "throttled", "Too many attempts", "Too many failed attempts; wait before trying again.",
		func(err error, e *Error) { retry(e, fault.RetryAfter(err, time.Second)) }},
	fault.TooManyPushes: {http.StatusTooManyRequests, "throttled", "Too many attempts",
		"Too many push requests are waiting for an answer; answer or let them expire first.",
		func(err error, e *Error) { retry(e, time.Minute) }},
	fault.WeakPassword: {http.StatusUnprocessableEntity, "weak-password", "Password not acceptable", "", func(err error, e *Error) {
		var we *login.WeakPasswordError
		if errors.As(err, &we) {
			e.Problem.Detail = we.Error()
		}
	}},
	fault.AssuranceUnreachable: {http.StatusForbidden, "assurance-unreachable", "Stronger factor needed", "", func(err error, e *Error) {
		var ae *login.AssuranceError
		if errors.As(err, &ae) {
			e.Problem.Detail = fmt.Sprintf("%s logins need %v for the %s profile; enrol a device-bound security key from a session that has one.", ae.Door, ae.Need, ae.Profile)
			e.Problem.Extra = map[string]any{"required_assurance": ae.Need.String()}
		}
	}},
	fault.StepUp: {http.StatusForbidden, "step-up-required", "Step-up required", "", func(err error, e *Error) {
		var se *session.StepUpError
		if errors.As(err, &se) {
			e.Problem.Detail = fmt.Sprintf("This needs %v proven within the last %v: raise the session with POST /v1/stepup and try again.", se.Need, se.Within)
			e.Problem.Extra = map[string]any{"required_assurance": se.Need.String(), "max_age": int(se.Within.Seconds())}
			e.Header = stepUpChallenge(se.Need, se.Within)
		}
	}},
	fault.LastStrongFactor: {http.StatusConflict, "last-strong-factor", "Last strong factor",
		"The last strong factor cannot be removed; enrol another one first.", nil},
	fault.FactorState: {http.StatusConflict, "factor-state", "Factor not pending", "The factor is not waiting for confirmation.", nil},
	fault.NotAllowed:  {http.StatusForbidden, "not-allowed", "Not allowed", "This session may not do that.", nil},
	fault.Forbidden: {http.StatusForbidden, "forbidden", "Forbidden", "Your role does not allow that.", func(err error, e *Error) {
		var fe *authz.ForbiddenError
		if errors.As(err, &fe) {
			e.Problem.Detail = fe.Reason + "."
		}
	}},
	fault.KeyState: {http.StatusConflict, "key-state", "Key cannot change", "", func(err error, e *Error) {
		e.Problem.Detail = keyStateDetail(err)
	}},
	fault.PostureGate: {http.StatusConflict, "posture-gate", "Security posture too weak for these permissions", "", func(err error, e *Error) {
		var ge *posturegate.GateError
		if !errors.As(err, &ge) {
			return
		}
		fs := make([]gateFinding, len(ge.Findings))
		for i, f := range ge.Findings {
			fs[i] = gateFinding{ID: f.ID, FailureMode: f.FailureMode, Summary: f.Summary, NextStep: f.NextStep}
		}
		e.Problem.Detail = fmt.Sprintf("Turning on %s is refused while high findings are open. Fix them (GET /v1/posture has the whole report) and try again; turning permissions off is always allowed.",
			strings.Join(ge.TurningOn, ", "))
		e.Problem.Extra = map[string]any{"permissions": ge.TurningOn, "findings": fs}
	}},
	fault.Cooldown: {http.StatusForbidden, "cooldown", "Cool-down running", "", func(err error, e *Error) {
		var ce *user.CooldownError
		if errors.As(err, &ce) {
			cooldownProblem(e, ce)
		}
	}},
	fault.Frozen: {http.StatusForbidden, "frozen", "Account frozen",
		"The account is frozen (\"This wasn't me\"): its sessions ended and its API keys are suspended. Its owner unfreezes it by signing in, " +
			"proving their strongest factor fresh (POST /v1/stepup) and choosing a new password (POST /v1/unfreeze).", nil},
	fault.RecoveryWaiting: {http.StatusConflict, "recovery-waiting", "Recovery still waiting", "The recovery's wait has not ended; complete it after completes_at.",
		func(err error, e *Error) {
			var we *login.WaitingError
			if errors.As(err, &we) {
				e.Problem.Extra = map[string]any{"completes_at": we.CompletesAt.UTC().Format(time.RFC3339)}
			}
		}},
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer. No one reads it; the metrics count it apart from
// server errors.
const statusClientClosed = 499

// retry sets the wait of a 429 or 503, as a header and as a member.
func retry(e *Error, wait time.Duration) {
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	if e.Problem.Extra == nil {
		e.Problem.Extra = map[string]any{}
	}
	e.Problem.Extra["retry_after"] = secs
	e.Header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
}

// toError maps any error from below to what the client may see, by its
// kind (see [answers]): the client sees the problem, the log sees err.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return kindError(fault.Of(err), err)
}

// kindError is the answer to a failure of kind k; err, which may be nil,
// is for the log and for what the answer takes from it.
func kindError(k fault.Kind, err error) *Error {
	a, ok := answers[k]
	if !ok {
		a = answers[fault.Internal]
	}
	e := problem(a.status, a.typ, a.title, a.detail)
	e.Err = err
	if a.more != nil {
		a.more(err, e)
	}
	return e
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
// A request its client abandoned is logged at debug: anyone can close
// connections early, and that must not raise the server's error rate.
func logError(log *slog.Logger, r *http.Request, e *Error) {
	level := slog.LevelInfo
	switch {
	case e.Problem.Status == statusClientClosed:
		level = slog.LevelDebug
	case e.Problem.Status >= 500:
		level = slog.LevelError
	}
	if !log.Enabled(r.Context(), level) {
		return // an unauthenticated flood at level warn costs no log record
	}
	attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.Problem.Status, "problem", e.Problem.Type}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err.Error())
	}
	log.Log(r.Context(), level, "request failed", attrs...)
}

// cooldownProblem says what a cool-down refused and when it ends, as the
// answers of the API and of forward-auth both do.
func cooldownProblem(e *Error, ce *user.CooldownError) {
	until := ce.Until.UTC().Format(time.RFC3339)
	e.Problem.Detail = fmt.Sprintf("A recent security change on this account (%s) started a cool-down: %s waits until %s. An administrator may lift it early.", ce.Reason, ce.Action, until)
	e.Problem.Extra = map[string]any{"cooldown_until": until, "reason": ce.Reason, "action": ce.Action}
}
