package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/user"
)

// saying is what the portal tells a visitor of one kind of failure: the
// status of the page and the sentence on it. say, when set, words it from
// what the error knows (a wait, a reason) and may set headers.
type saying struct {
	status int
	msg    string
	say    func(d *deps, w http.ResponseWriter, err error) string
}

// sayings is the portal's one table from a failure's kind to what the
// visitor reads, in place on the page they were on (see failure) or on
// the error page (see adapt). The API's twin is httpapi's answers.
var sayings = map[fault.Kind]saying{
	fault.Internal: {http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.", nil},
	fault.Unavailable: {http.StatusServiceUnavailable, "gatehouse cannot reach its database just now. Nothing was counted against you: try again in a moment.",
		func(d *deps, w http.ResponseWriter, err error) string {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryUnavailable/time.Second)))
			return ""
		}},
	fault.Canceled: {statusClientClosed, "", nil},
	fault.Invalid: {http.StatusUnprocessableEntity, "Some of what you entered cannot be used. Check it and try again.",
		func(d *deps, w http.ResponseWriter, err error) string {
			for _, f := range fault.Fields(err) {
				if m := fieldMessages[f.Name]; m != "" {
					return m
				}
			}
			return ""
		}},
	fault.TooLarge:           {http.StatusRequestEntityTooLarge, "What you sent is too large for this form.", nil},
	fault.Unauthenticated:    {http.StatusUnauthorized, "Sign in first.", nil},
	fault.InvalidCredentials: {http.StatusUnprocessableEntity, msgBadCredentials, nil},
	fault.InvalidCode:        {http.StatusUnprocessableEntity, msgFactorFailed, nil},
	fault.NoFlow:             {http.StatusNotFound, loginFailures["expired"], nil},
	fault.NotFound:           {http.StatusNotFound, "There is no such page, or it is not yours to see.", nil},
	fault.FactorUnavailable:  {http.StatusConflict, msgFactorUnavailable, nil},
	fault.Throttled: {http.StatusTooManyRequests, "", func(d *deps, w http.ResponseWriter, err error) string {
		return throttledMessage(retryAfter(w, fault.RetryAfter(err, time.Second)))
	}},
	fault.TooManyPushes: {http.StatusTooManyRequests, msgTooManyPushes, func(d *deps, w http.ResponseWriter, err error) string {
		retryAfter(w, time.Minute)
		return ""
	}},
	fault.WeakPassword: {http.StatusUnprocessableEntity, "", func(d *deps, w http.ResponseWriter, err error) string {
		return weakPasswordMessage(err, d.Login.Rules)
	}},
	fault.AssuranceUnreachable: {http.StatusForbidden, msgAssurance, nil},
	fault.StepUp:               {http.StatusForbidden, "This needs a fresh confirmation that it is you: confirm it, then try again.", nil},
	fault.LastStrongFactor:     {http.StatusConflict, msgLastStrong, nil},
	fault.FactorState:          {http.StatusConflict, "That sign-in method is not waiting for confirmation.", nil},
	fault.NotAllowed:           {http.StatusForbidden, "This session may not do that.", nil},
	fault.Forbidden: {http.StatusForbidden, "Your role on this account does not allow that.", func(d *deps, w http.ResponseWriter, err error) string {
		var fe *authz.ForbiddenError
		if errors.As(err, &fe) {
			return "Your role on this account does not allow that: " + fe.Reason + "."
		}
		return ""
	}},
	fault.KeyState: {http.StatusConflict, "That key cannot change any more: it was revoked, rotated or has expired.",
		func(d *deps, w http.ResponseWriter, err error) string {
			if errors.Is(err, apikey.ErrRotated) {
				return "That key was rotated already: rotate its successor instead."
			}
			return ""
		}},
	fault.PostureGate: {http.StatusConflict, "Your security posture has high findings open: fix them on the overview page, then try again.", nil},
	fault.Cooldown: {http.StatusForbidden, "A recent security change on your account started a cool-down: this waits until it ends.",
		func(d *deps, w http.ResponseWriter, err error) string {
			var ce *user.CooldownError
			if errors.As(err, &ce) {
				return "A recent security change on your account started a cool-down: this waits until " + ce.Until.UTC().Format("2 Jan 2006 15:04 MST") + "."
			}
			return ""
		}},
	fault.Frozen: {http.StatusForbidden, "This account is frozen: every session ended and every API key is suspended. " +
		"Sign in, confirm it is you with your strongest factor and choose a new password to unfreeze it.", nil},
	fault.RecoveryWaiting: {http.StatusConflict, "This recovery is still waiting: come back when its wait is over.", func(d *deps, w http.ResponseWriter, err error) string {
		var we *login.WaitingError
		if errors.As(err, &we) {
			return "This recovery is still waiting: come back after " + we.CompletesAt.UTC().Format("Monday 2 January 2006, 15:04 MST") + "."
		}
		return ""
	}},
}

// fieldMessages word the fields an Invalid error names.
var fieldMessages = map[string]string{"name": msgBadName, "phone": msgBadPhone, "phrase": msgBadPhrase}

// statusClientClosed is nginx's 499: the visitor left before the answer.
const statusClientClosed = 499

// retryUnavailable is the Retry-After of a page answering a store failure.
const retryUnavailable = 5 * time.Second

// saidFor returns the status and the sentence for err, setting the
// headers its kind asks for.
func (d *deps) saidFor(w http.ResponseWriter, err error) (int, string) {
	s, ok := sayings[fault.Of(err)]
	if !ok {
		s = sayings[fault.Internal]
	}
	msg := s.msg
	if s.say != nil {
		if m := s.say(d, w, err); m != "" {
			msg = m
		}
	}
	return s.status, msg
}

// failure returns what to show in place, on the page the visitor was on,
// for a failure they can act on (a wrong code, a wait, a store outage to
// retry). ok is false for the rest, which the handler returns for adapt's
// error page: a bug, a page that is not theirs, a step-up (the handler
// shows the step-up page), a sign-in that is over, a visitor who left.
func (d *deps) failure(w http.ResponseWriter, err error) (status int, msg string, ok bool) {
	switch fault.Of(err) {
	case fault.Internal, fault.Canceled, fault.NotFound, fault.StepUp, fault.NoFlow, fault.Unauthenticated:
		return 0, "", false
	}
	status, msg = d.saidFor(w, err)
	return status, msg, true
}

// retryAfter sets Retry-After for a wait and returns it in whole seconds,
// at least one.
func retryAfter(w http.ResponseWriter, wait time.Duration) int {
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}
