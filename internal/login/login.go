// Package login runs the sign-in flow: throttle, first factor, device
// recognition, session minting, audit; and the password change.
//
// One [Service] serves four concerns, each in its own files:
//   - sign-in: login.go (the password, the password change, ending
//     sessions), flow.go (offers, flows, polling, failures), answer.go (the
//     answers a flow takes), verify.go (the checks a login and a step-up
//     share), complete.go (the session or the device's wait), stepup.go,
//     throttle.go and events.go (the helpers every change uses);
//   - enrolment: enrol.go (factors and recovery codes);
//   - devices: device.go (approval and revocation);
//   - the phone: phone.go (push answers and the phone's registration).
//
// What a request reads (the user, the device, the factors) is carried
// down its call chain, never read twice; every change commits with its
// audit event in one transaction.
package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/device"
	"gatehouse/internal/fault"
	"gatehouse/internal/flow"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// Errors of the flow. Every bad credential is [ErrInvalidCredentials]:
// one wording, one timing, whether or not the user exists.
var (
	ErrInvalidCredentials = fault.New(fault.InvalidCredentials, "login: invalid credentials")
	ErrKeyRequired        = fault.NewField("dpop", "a DPoP proof: desktop and mobile logins need one", "login: desktop and mobile logins need a DPoP proof")
)

// ThrottledError says a login was refused before any check, and when to retry.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("login: throttled, retry after %v", e.RetryAfter)
}

// Kind is [fault.Throttled].
func (e *ThrottledError) Kind() fault.Kind { return fault.Throttled }

// Wait is RetryAfter, for [fault.RetryAfter].
func (e *ThrottledError) Wait() time.Duration { return e.RetryAfter }

// WeakPasswordError says why a new password was refused.
type WeakPasswordError struct{ Err error }

func (e *WeakPasswordError) Error() string { return e.Err.Error() }
func (e *WeakPasswordError) Unwrap() error { return e.Err }

// Kind is [fault.WeakPassword]; the client is told Err's text.
func (e *WeakPasswordError) Kind() fault.Kind { return fault.WeakPassword }

// Store is what logins read and write outside a transaction, and the
// transactions they run: users, their factors, flows, devices and
// sessions, the throttle counters, and the trail and notices a user
// reads. Keys, accounts, streams and the revocation feed are other
// services' business; store.Store is one.
type Store interface {
	store.Users
	store.Factors
	store.RecoveryCodes
	store.Flows
	store.Pushes
	store.Enrolments
	store.Devices
	store.DeviceApprovals
	store.Sessions
	store.Throttles
	store.Audit
	store.Notices
	store.Outbox
	store.Recoveries
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// Service runs logins. Its fields are set once before use.
type Service struct {
	Store     Store
	Hasher    *password.Hasher
	Rules     password.Rules
	Throttle  throttle.Policy
	Lifetimes map[session.Door]session.Lifetime
	Factors   Factors
	Log       *slog.Logger
	Now       func() time.Time // nil means time.Now
	Rand      io.Reader        // nil means crypto/rand.Reader
	// Outcome, when set, is told the outcome of every login
	// ("succeeded", "failed", "throttled") for metrics.
	Outcome func(string)
	// Freeze, when set, freezes userID ("This wasn't me") inside tx, the
	// transaction of a push the phone reported as not the user's; by
	// names the phone. It returns what to run once tx commits (telling
	// this instance's caches). Nil records the report only.
	Freeze func(ctx context.Context, tx store.Tx, userID, by string, now time.Time) (after func(), err error)
	// Recovery configures lost-factor recoveries.
	Recovery Recovery
	// Cooldown starts the cool-down of a password change, a factor added
	// or removed and a recovery code used, in the change's transaction;
	// nil starts none.
	Cooldown *cooldown.Policy
	// Signals holds the rules of the security signals in force; their
	// forbid-sms steps take SMS from the users in scope (sign-in and
	// enrolment). Nil for none.
	Signals *signal.InForce
	// Later, when set, runs a password reset's look-up and writes after
	// the request is answered (see [Service.RequestPasswordReset]); nil
	// runs them before (the command line, tests).
	Later *Later

	dummyOnce sync.Once
	dummy     string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Request is one login attempt.
type Request struct {
	Username string
	Password string
	Door     session.Door
	// DeviceName is how the client names itself ("Trading desk", "iPhone").
	DeviceName string
	// JKT is the thumbprint of the key a desktop or mobile client proved
	// with its DPoP proof on the login request.
	JKT string
	// DeviceCookie is a web client's device cookie, if it sent one.
	DeviceCookie string
	IP           netip.Addr
	UserAgent    string
}

// Result is the outcome of a login step that did not fail: a session,
// or a flow that needs more proof.
type Result struct {
	// Status is "authenticated", "factor_required" or
	// "device_approval_required".
	Status  string
	User    *user.User
	Session *session.Session
	// Token is the session's bearer secret: handed to the client once,
	// never stored (the session holds its hash).
	Token string
	// DeviceCookie, when set, is a new device cookie for a web client.
	DeviceCookie string
	// EnrolmentRequired says the user has no second factor yet, so the
	// session holds AAL1 only.
	EnrolmentRequired bool
	// Flow is the login in progress when more proof is needed.
	Flow *flow.Flow
	// FlowSecret binds a web client to its flow (a cookie); shown once.
	FlowSecret string
	// Offers are the factors that can answer the flow.
	Offers []Offer
	// Device is the device waiting for approval.
	Device *device.Device
	// Number is shown beside a push the phone must answer with it.
	Number int
}

// Login authenticates a password and mints a session, or starts the flow
// that needs more proof. What it reads (the user, the device, the
// factors) is carried down the flow, never read again.
func (s *Service) Login(ctx context.Context, req Request) (_ *Result, err error) {
	if req.Door.KeyBound() && req.JKT == "" {
		return nil, ErrKeyRequired
	}
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	name := user.NormalizeUsername(req.Username)
	ip := req.IP.String()

	u, err := s.Store.UserByUsername(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	fingerprint := s.fingerprint(req)
	var dev *device.Device
	if fingerprint != "" {
		// Looked up for unknown users too, so both take the same time.
		dev, err = s.Store.DeviceByFingerprint(ctx, userID(u), fingerprint)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	knownDevice := dev != nil && dev.Status == device.Trusted
	var acct closure
	if held, acct, err = s.reserveLogin(ctx, name, ip, knownDevice, now); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			held = nil // refused, as before any check
			s.outcome("throttled")
			s.audit(ctx, attemptEvent(req, u, now, audit.LoginThrottled))
		}
		return nil, err
	}

	// An unknown user is checked against a dummy hash, so the answer takes
	// as long as for a real user with a wrong password.
	hash := s.dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	ok, rehash, err := s.Hasher.Verify(req.Password, hash)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, fmt.Errorf("login: verify: %w", err)) // a stored hash gone bad: no outage
	}
	if u == nil || !ok {
		held = nil // a wrong password counts
		if acct.reached && u != nil {
			s.accountClosed(ctx, req, u, now)
		}
		if acct.closed {
			// The closure's answer, as before the password was checked: a
			// wrong guess learns nothing new.
			s.outcome("throttled")
			s.audit(ctx, attemptEvent(req, u, now, audit.LoginThrottled))
			return nil, throttled(s.Throttle.Account.Max)
		}
		reason := "bad_password"
		if u == nil {
			reason = "unknown_user"
		}
		s.outcome("failed")
		s.audit(ctx, attemptEvent(req, u, now, audit.LoginFailed, "reason", reason))
		return nil, ErrInvalidCredentials
	}

	if err := s.passwordRight(ctx, name, ip, acct.closed, now); err != nil {
		return nil, err
	}
	held = nil // settled: the password was right
	if rehash {
		if h, err := s.Hasher.Hash(req.Password); err == nil {
			if err := s.Store.SetPasswordHash(ctx, u.ID, h, now); err != nil {
				return nil, err
			}
		}
	}
	return s.afterPassword(ctx, u, req, dev, acct.closed, now)
}

// passwordRight settles the counters a right password passed: the
// account's are cleared (but a closed account counter, which stays closed
// to new devices until one is validated, or forgotten), the source's gets
// its attempt back. The source counter spans accounts, so a success does
// not clear it (a sprayer with one account of their own would), but an
// office behind one address is not slowed down by its own successes.
func (s *Service) passwordRight(ctx context.Context, name, ip string, closed bool, now time.Time) error {
	reset := []string{throttle.AccountSourceKey(name, ip), throttle.AccountKey(name)}
	if closed {
		reset = reset[:1]
	}
	for _, k := range reset {
		if err := s.Store.ResetThrottle(ctx, k); err != nil {
			return err
		}
	}
	return refund(ctx, s.Store, throttle.SourceKey(ip), now)
}

// closure is where a login stands with the account counter (which only
// logins from new devices pass): closed, the limit was reached before; or
// reached by this very attempt.
type closure struct{ closed, reached bool }

// accountClosed tells the user that wrong passwords closed the account to
// new devices: a log line and a login.account_closed event (the notice
// channels take it from there).
func (s *Service) accountClosed(ctx context.Context, req Request, u *user.User, now time.Time) {
	if s.Log != nil {
		s.Log.WarnContext(ctx, "wrong passwords closed the account to new devices", "user", u.ID, "failures", s.Throttle.Account.Limit)
	}
	s.audit(ctx, attemptEvent(req, u, now, audit.AccountClosed, "failures", strconv.Itoa(s.Throttle.Account.Limit)))
}

// reserveLogin takes a login attempt from every counter the login passes:
// the account from this source, the source, and, for a device the user
// has not used before, the account. Each is charged even when another
// refuses, and the wait told is the longest. It returns the keys it
// charged, for a store failure to give back.
//
// An account counter that is closed (throttle.account.limit wrong
// passwords in a row) refuses nothing here: the password is still
// checked, bounded by the other two counters, and a right one goes on to
// a flow that only a trusted device can validate. So strangers guessing
// cannot lock the owner out of a new device; see [closure].
func (s *Service) reserveLogin(ctx context.Context, name, ip string, knownDevice bool, now time.Time) (charged []string, acct closure, _ error) {
	type counter struct {
		key  string
		rule throttle.Rule
	}
	counters := []counter{{throttle.AccountSourceKey(name, ip), s.Throttle.AccountSource}, {throttle.SourceKey(ip), s.Throttle.Source}}
	if !knownDevice {
		counters = append(counters, counter{throttle.AccountKey(name), s.Throttle.Account})
	}
	var refused *ThrottledError
	for _, c := range counters {
		st, err := reserveState(ctx, s.Store, c.key, c.rule, now)
		var te *ThrottledError
		switch {
		case errors.As(err, &te) && c.key == throttle.AccountKey(name) && c.rule.Closed(st):
			acct.closed = true
		case errors.As(err, &te):
			if refused == nil || te.RetryAfter > refused.RetryAfter {
				refused = te
			}
		case err != nil:
			return charged, acct, err
		default:
			charged = append(charged, c.key)
			acct.reached = c.key == throttle.AccountKey(name) && c.rule.Closed(st)
		}
	}
	if refused != nil {
		return charged, acct, refused
	}
	return charged, acct, nil
}

// fingerprint names the device a request comes from, if it can tell.
func (s *Service) fingerprint(req Request) string {
	switch {
	case req.Door.KeyBound():
		return "jkt:" + req.JKT
	case req.DeviceCookie != "":
		return DeviceCookieFingerprint(req.DeviceCookie)
	}
	return ""
}

// DeviceCookieFingerprint is the stored fingerprint of a web device
// cookie: the cookie itself is a secret and is never stored.
func DeviceCookieFingerprint(cookie string) string {
	return fmt.Sprintf("cookie:%x", token.Hash(cookie))
}

func deviceName(req Request) string {
	if req.DeviceName != "" {
		return req.DeviceName
	}
	if req.UserAgent != "" {
		return truncate(req.UserAgent, 64)
	}
	return string(req.Door)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = s.Hasher.Dummy() })
	return s.dummy
}

func (s *Service) outcome(o string) {
	if s.Outcome != nil {
		s.Outcome(o)
	}
}

func userID(u *user.User) string {
	if u == nil {
		return ""
	}
	return u.ID
}

// ChangePassword checks the current password of the session's user, sets
// the new one and ends every other session of the user, in one
// transaction with its audit events.
//
// It needs an AAL2 session: an AAL1 session (no second factor yet, or a
// recovery code) may read and enrol, not change the password.
func (s *Service) ChangePassword(ctx context.Context, sess *session.Session, current, next string) (_ []string, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	// The current password is proven here and now: the level is enough.
	if err := sess.RequireLevel(session.AAL2, s.stepUpWindow()); err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	// Guessing the current password through this door is throttled like
	// a login, on a counter of its own: a stolen session must not close
	// the account to the owner's new devices.
	key := throttle.PasswordChangeKey(u.ID)
	if err := reserve(ctx, s.Store, key, s.Throttle.Account, now); err != nil {
		return nil, err
	}
	held = []string{key}
	good, _, err := s.Hasher.Verify(current, u.PasswordHash)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err) // a stored hash gone bad: no outage
	}
	if !good {
		held = nil // a wrong password counts
		s.audit(ctx, sessionEvent(sess, now, audit.LoginFailed, "reason", "bad_current_password", "action", "password_change"))
		return nil, ErrInvalidCredentials
	}
	if err := s.Store.ResetThrottle(ctx, key); err != nil {
		return nil, err
	}
	held = nil
	if err := s.Rules.Check(next, u.Username); err != nil {
		return nil, &WeakPasswordError{err}
	}
	h, err := s.Hasher.Hash(next)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err)
	}
	var ended []string
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetPasswordHash(ctx, u.ID, h, now); err != nil {
			return err
		}
		if ended, err = tx.EndSessionsOfUser(ctx, u.ID, sess.ID, now, session.EndPasswordChange); err != nil {
			return err
		}
		ev := sessionEvent(sess, now, audit.PasswordChanged)
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		if err := s.Cooldown.Start(ctx, tx, ev); err != nil {
			return err
		}
		for _, id := range ended {
			if err := tx.AppendAudit(ctx, sessionEvent(sess, now, audit.SessionEnded, "session", id, "reason", session.EndPasswordChange)); err != nil {
				return err
			}
		}
		return nil
	})
	return ended, err
}
