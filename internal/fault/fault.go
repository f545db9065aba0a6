// Package fault gives errors a kind: what went wrong, in the words a
// client may hear. Domain packages declare their errors with a kind; each
// transport (the API's problem documents, the portal's pages) keeps one
// table from kind to answer, so a rule about what a failure tells the
// client is written once per mux, not once per error and handler.
//
// A kind says nothing about why: the error's text and what it wraps are
// for the log only. An error without a kind is [Internal], answered as a
// bare server error.
package fault

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Kind is the class of a failure as a client sees it. The zero Kind is
// [Internal].
type Kind uint8

// The kinds. Each names one answer of the public contract (a problem type
// of the API); add one only with its row in every mux's table.
const (
	// Internal is a failure the client can do nothing about and may learn
	// nothing of: a bug, or an error no one gave a kind.
	Internal Kind = iota
	// Unavailable is a dependency (the store) failing: retry later. It is
	// never a failed login nor a throttle count, and is logged as an error.
	Unavailable
	// Canceled is a request its client abandoned (closed the connection):
	// nobody reads the answer, and it is not the server's fault.
	Canceled
	// Invalid is a malformed request; see [Fields] for the fields at fault.
	Invalid
	// TooLarge is a request body over its cap.
	TooLarge
	// Unauthenticated is a request without a valid session or key.
	Unauthenticated
	// InvalidCredentials is a wrong username or password: one wording and
	// one timing, whether or not the user exists.
	InvalidCredentials
	// InvalidCode is a wrong, used, expired or malformed second-factor answer.
	InvalidCode
	// NoFlow is a login that is unknown, not the client's, over or expired.
	NoFlow
	// NotFound is a resource that does not exist or is not the caller's:
	// the two are never told apart.
	NotFound
	// FactorUnavailable is a factor the user lacks or policy forbids here.
	FactorUnavailable
	// Throttled is an attempt refused before any check; see [RetryAfter].
	Throttled
	// TooManyPushes refuses a push while too many are unanswered.
	TooManyPushes
	// WeakPassword is a new password the rules refuse.
	WeakPassword
	// AssuranceUnreachable is a login whose factors cannot reach what the
	// door needs for the user's profile.
	AssuranceUnreachable
	// StepUp asks for a fresher or stronger proof (see session.StepUpError).
	StepUp
	// LastStrongFactor refuses to remove the user's last strong factor.
	LastStrongFactor
	// FactorState is a factor not waiting for confirmation.
	FactorState
	// NotAllowed is an action this session may not take, whoever it is.
	NotAllowed
	// Forbidden is an action the caller's role does not allow.
	Forbidden
	// KeyState is an API key that cannot change in its present state.
	KeyState
	// PostureGate refuses trading permissions while the posture is weak.
	PostureGate
	// Frozen is a session or key of a frozen user ("This wasn't me"): it
	// is refused until its owner unfreezes.
	Frozen
	// RecoveryWaiting is a lost-factor recovery whose wait has not ended.
	RecoveryWaiting
	// Cooldown is a risky action refused while the user's cool-down runs
	// (see user.CooldownError): it waits until the cool-down ends.
	Cooldown
)

var names = [...]string{
	Internal: "internal", Unavailable: "unavailable", Canceled: "canceled", Invalid: "invalid", TooLarge: "too-large",
	Unauthenticated: "unauthenticated", InvalidCredentials: "invalid-credentials", InvalidCode: "invalid-code",
	NoFlow: "no-flow", NotFound: "not-found", FactorUnavailable: "factor-unavailable", Throttled: "throttled",
	TooManyPushes: "too-many-pushes", WeakPassword: "weak-password", AssuranceUnreachable: "assurance-unreachable",
	StepUp: "step-up", LastStrongFactor: "last-strong-factor", FactorState: "factor-state", NotAllowed: "not-allowed",
	Forbidden: "forbidden", KeyState: "key-state", PostureGate: "posture-gate", Frozen: "frozen", RecoveryWaiting: "recovery-waiting",
	Cooldown: "cooldown",
}

// String names the kind, for logs and tests.
func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds lists every kind, so a test can check that a table has a row for each.
func Kinds() []Kind {
	out := make([]Kind, len(names))
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// kinded is an error that knows its kind: the errors of this package, and
// domain error types (a throttle refusal with its wait, a step-up with
// what it needs) that carry more than a kind.
type kinded interface {
	error
	Kind() Kind
}

// Of returns the kind of err: [Canceled] when it wraps context.Canceled
// (an abandoned request), else that of the first error in its chain that has a
// kind, else [Internal].
func Of(err error) Kind {
	if err == nil {
		return Internal
	}
	// First: a store call cut short by the client's leaving is wrapped as
	// Unavailable on its way up, and is still nobody's outage.
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	var k kinded
	if errors.As(err, &k) {
		return k.Kind()
	}
	return Internal
}

// Has reports whether err, or an error it wraps, has a kind. An error
// without one, at the end of a step that reads and writes the store, is
// a store failure: see its callers.
func Has(err error) bool {
	var k kinded
	return errors.As(err, &k)
}

// Error is an error with a kind and, for [Invalid], the field at fault.
type Error struct {
	kind Kind
	msg  string
	err  error
	// Field names the request field at fault and Want what it must be,
	// for an Invalid error about one field.
	Field, Want string
}

// New returns an error of kind k with text msg, for a sentinel:
//
//	var ErrNotFound = fault.New(fault.NotFound, "store: not found")
func New(k Kind, msg string) *Error { return &Error{kind: k, msg: msg} }

// NewField returns an [Invalid] error about one field of a request: the
// client is told the field and want; msg is for the log.
func NewField(field, want, msg string) *Error {
	return &Error{kind: Invalid, msg: msg, Field: field, Want: want}
}

// Wrap returns err with kind k, for an error the callee could not classify
// (a store failure is [Unavailable] to a login); errors.Is and the log
// still see err. Wrap(k, nil) is nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{kind: k, msg: err.Error(), err: err}
}

// Error returns the text for the log.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the error Wrap was given.
func (e *Error) Unwrap() error { return e.err }

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// Field is one bad field of a request: its name and what it must be.
type Field struct{ Name, Want string }

// Fields returns the fields an [Invalid] error names: those of every
// error in its chain that has a Field or a Fields method.
func Fields(err error) []Field {
	var out []Field
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
			return
		case *Error:
			if x.Field != "" {
				out = append(out, Field{x.Field, x.Want})
			}
		case interface{ Fields() []Field }:
			out = append(out, x.Fields()...)
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// RetryAfter returns how long the client should wait before trying
// again: what a [Throttled] error says, else def.
func RetryAfter(err error, def time.Duration) time.Duration {
	var r interface{ Wait() time.Duration }
	if errors.As(err, &r) {
		if w := r.Wait(); w > 0 {
			return w
		}
	}
	return def
}
