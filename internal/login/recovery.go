package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/clienttext"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/device"
	"gatehouse/internal/fault"
	"gatehouse/internal/flow"
	"gatehouse/internal/recovery"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// Recovery configures lost-factor recoveries (see package recovery).
type Recovery struct {
	// Wait is the waiting period of a user's profile; nil means
	// [recovery.DefaultWait] for every profile.
	Wait func(user.Profile) recovery.Wait
	// Starts limits the starts per username, SourceStarts per source
	// address, counted before the password is checked, for known and
	// unknown users alike. The zero rules are 5 and 20 a day.
	Starts, SourceStarts throttle.Rule
	// Admins are the usernames who may approve shortening a wait, two
	// different ones each with their own fresh AAL3 session.
	Admins []string
}

// Errors of recoveries.
var (
	// ErrRecoveryWaiting refuses to complete a recovery whose wait has
	// not ended. Only whoever proved the password learns it.
	ErrRecoveryWaiting = fault.New(fault.RecoveryWaiting, "login: the recovery is still waiting")
	// ErrRecoveryLink is every cancel link that does not cancel: forged,
	// expired, used, or of another user or purpose; one message for all.
	ErrRecoveryLink = fault.NewField("token", "the token of a recovery's cancel link, unused and unexpired", "login: the cancel link is not valid")
)

func (s *Service) recoveryWait(p user.Profile) recovery.Wait {
	if s.Recovery.Wait != nil {
		return s.Recovery.Wait(p)
	}
	return recovery.DefaultWait
}

// StartsRule is the rule of n starts a window: refused beyond n until
// the window after the last passes.
func StartsRule(n int, window time.Duration) throttle.Rule {
	return throttle.Rule{Free: n, Limit: n, Base: window, Max: window, Forget: window}
}

func (s *Service) startRules() (perUser, perSource throttle.Rule) {
	perUser, perSource = s.Recovery.Starts, s.Recovery.SourceStarts
	if perUser == (throttle.Rule{}) {
		perUser = StartsRule(5, 24*time.Hour)
	}
	if perSource == (throttle.Rule{}) {
		perSource = StartsRule(20, 24*time.Hour)
	}
	return perUser, perSource
}

// RecoveryStart is a request to start a lost-factor recovery.
type RecoveryStart struct {
	Username, Password string
	IP                 netip.Addr
	Door               session.Door
}

// StartRecovery starts a lost-factor recovery for the user whose password
// req proves, or returns the one already pending (a second request neither
// restarts nor shortens the clock). It answers nil, nil for every other
// well-formed request (an unknown user, a wrong password, a frozen
// account) after the same work: the same throttles as a login, then the
// password hash checked (a dummy for an unknown user). So it tells no
// more than a login does: whether the password was right.
func (s *Service) StartRecovery(ctx context.Context, req RecoveryStart) (_ *recovery.Request, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	name := user.NormalizeUsername(req.Username)
	ip := req.IP.String()
	// Starts are counted for anyone, before any check: a flood learns
	// nothing from when it is refused.
	perUser, perSource := s.startRules()
	if err := reserve(ctx, s.Store, "rs:"+name, perUser, now); err != nil {
		return nil, err
	}
	if err := reserve(ctx, s.Store, "rss:"+ip, perSource, now); err != nil {
		return nil, err
	}
	u, ok, err := s.provePassword(ctx, name, req.Password, ip, string(req.Door), "recovery", &held, now)
	if err != nil || !ok {
		return nil, err // a wrong password, an unknown user: nil, nil
	}
	if u.Frozen() {
		return nil, nil // only the owner's unfreeze path opens a frozen account
	}
	return s.startRecovery(ctx, u, u.ID, "", ip, now)
}

// StartRecoveryFor starts, for an operator (the command line), the same
// waiting-period recovery for a user who cannot start it themselves; the
// reason is audited and told to the user. It sets no factor and no
// password, and waits as long as the user's own would.
func (s *Service) StartRecoveryFor(ctx context.Context, userID, reason string) (*recovery.Request, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Frozen() {
		return nil, fault.New(fault.Frozen, "login: the user is frozen; only the owner's unfreeze opens it")
	}
	return s.startRecovery(ctx, u, "admin", reason, "", s.now())
}

func (s *Service) startRecovery(ctx context.Context, u *user.User, by, reason, ip string, now time.Time) (*recovery.Request, error) {
	if r, err := s.Store.PendingRecovery(ctx, u.ID); err == nil {
		return r, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	id, err := token.New(s.Rand, 16)
	if err != nil {
		return nil, err
	}
	r := recovery.New("rcv_"+id, u.ID, by, reason, ip, s.recoveryWait(u.Profile), now)
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateRecovery(ctx, r); err != nil {
			return err
		}
		kv := []string{"request", r.ID, "by", by, "completes_at", r.CompletesAt.Format(time.RFC3339), "account_at", r.AccountAt.Format(time.RFC3339)}
		if reason != "" {
			kv = append(kv, "reason", reason)
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.RecoveryRequested, UserID: u.ID, Actor: actorOf(by, u.ID), IP: ip, Detail: details(kv)})
	})
	if errors.Is(err, store.ErrConflict) {
		return s.Store.PendingRecovery(ctx, u.ID) // a racing request won: its clock stands
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func actorOf(by, userID string) string {
	if by == "admin" {
		return "admin"
	}
	return userID
}

// RecoveryByID returns a recovery request, for whoever holds its id.
func (s *Service) RecoveryByID(ctx context.Context, id string) (*recovery.Request, error) {
	return s.Store.RecoveryByID(ctx, id)
}

// Recoveries lists every recovery request, newest first (operators).
func (s *Service) Recoveries(ctx context.Context) ([]*recovery.Request, error) {
	return s.Store.ListRecoveries(ctx)
}

// CancelRecovery cancels a pending request by by ("admin", "request":
// whoever holds its id, or the user's id). Cancelling is always allowed:
// it is the safe direction. ErrNotFound when it is not pending.
func (s *Service) CancelRecovery(ctx context.Context, id, by string) (*recovery.Request, error) {
	r, err := s.Store.RecoveryByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != recovery.Pending {
		return r, nil // cancelled or completed already: nothing to do
	}
	return r, s.Store.InTx(ctx, func(tx store.Tx) error { return s.cancelRecovery(ctx, tx, r, by, s.now()) })
}

// cancelRecovery ends r as cancelled by by inside tx, with its event.
func (s *Service) cancelRecovery(ctx context.Context, tx store.Tx, r *recovery.Request, by string, now time.Time) error {
	if err := tx.EndRecovery(ctx, r.ID, recovery.Cancelled, by, now); err != nil {
		return err
	}
	r.Status, r.EndedBy, r.EndedAt, r.NextNoticeAt = recovery.Cancelled, by, now, time.Time{}
	return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.RecoveryCancelled, UserID: r.UserID, Actor: actorOf(by, r.UserID), Detail: map[string]string{"request": r.ID, "by": by}})
}

// cancelOnSignIn cancels the user's pending recovery, if any, inside tx:
// a sign-in with a real factor shows the owner has one.
func (s *Service) cancelOnSignIn(ctx context.Context, tx store.Tx, userID string, now time.Time) error {
	r, err := tx.PendingRecovery(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.cancelRecovery(ctx, tx, r, "sign_in", now)
}

// CancelRecoveryByLink spends a notice's one-click cancel link and
// cancels its user's pending recovery. A link that does not cancel
// (forged, expired, used, of another purpose) is ErrRecoveryLink; a
// valid link with nothing left pending cancels nothing and says so.
func (s *Service) CancelRecoveryByLink(ctx context.Context, tok string) (cancelled bool, err error) {
	if len(tok) != 43 || !token.ValidID(tok) {
		return false, ErrRecoveryLink
	}
	now := s.now()
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		uid, err := tx.UseLink(ctx, token.Hash(tok), store.LinkRecoveryCancel, now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrRecoveryLink
		}
		if err != nil {
			return err
		}
		r, err := tx.PendingRecovery(ctx, uid)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cancelled = true
		return s.cancelRecovery(ctx, tx, r, "link", now)
	})
	return cancelled, err
}

// CompleteRecovery completes a recovery whose wait is over, for the
// client proving the user's password again (req, as for a login): every
// session of the user ends, and the client gets a session that may only
// enrol a new strong factor and new recovery codes
// ([session.Session.RecoveryOnly]), through device validation like any
// sign-in. A wrong password, an unknown request or another user's is
// ErrInvalidCredentials alike; a request still waiting is
// ErrRecoveryWaiting, told only after the password was right.
func (s *Service) CompleteRecovery(ctx context.Context, id string, req Request) (_ *Result, err error) {
	if req.Door.KeyBound() && req.JKT == "" {
		return nil, ErrKeyRequired
	}
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	ip := req.IP.String()
	u, ok, err := s.provePassword(ctx, user.NormalizeUsername(req.Username), req.Password, ip, string(req.Door), "recovery_complete", &held, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	r, err := s.Store.RecoveryByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.UserID != u.ID || u.Frozen())) {
		return nil, ErrInvalidCredentials // one answer for another's, an unknown one and a frozen account
	}
	if err != nil {
		return nil, err
	}
	if !r.Ready(now) {
		if r.Status == recovery.Pending {
			return nil, &WaitingError{CompletesAt: r.CompletesAt}
		}
		return nil, ErrInvalidCredentials // cancelled or completed: start again
	}
	var dev *device.Device
	if fp := s.fingerprint(req); fp != "" {
		if dev, err = s.Store.DeviceByFingerprint(ctx, u.ID, fp); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	fs, err := s.Store.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	fl, secret, err := s.newFlow(u, req, dev, now)
	if err != nil {
		return nil, err
	}
	res, err := s.finish(ctx, &signIn{u: u, fl: fl, dev: dev, fs: fs}, func(tx store.Tx, fl *flow.Flow) error {
		if err := tx.EndRecovery(ctx, r.ID, recovery.Completed, u.ID, now); err != nil {
			return err
		}
		ended, err := tx.EndSessionsOfUser(ctx, u.ID, "", now, EndRecovered)
		if err != nil {
			return err
		}
		fl.Prove(session.AAL1, session.MethodRecovery)
		ev := flowEvent(fl, now, audit.RecoveryCompleted, "request", r.ID, "by", u.ID, "sessions_ended", fmt.Sprint(len(ended)),
			"account_at", r.AccountAt.Format(time.RFC3339))
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		if s.Cooldown.For(u.Profile) > 0 && r.AccountAt.After(now) {
			// Account management and transfers stay closed until the
			// request's account_at (8 days by default): the cool-down
			// started next keeps this later end and tells it.
			if err := tx.StartCooldown(ctx, u.ID, r.AccountAt, cooldown.ReasonRecovery); err != nil {
				return err
			}
		}
		return s.Cooldown.Start(ctx, tx, ev)
	}, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCredentials // completed by a racing request
	}
	if err != nil {
		return nil, err
	}
	res.FlowSecret = secret
	res.EnrolmentRequired = true
	return res, nil
}

// provePassword checks a password as a login does, for the recovery
// doors: the login's counters (as from a new device), the hash of the
// user or a dummy one for an unknown user (the same work either way), the
// counters settled when it is right. A wrong one is recorded against a
// known user with action; ok is false for it and for an unknown user.
// held is the settle list of the caller's deferred [Service.settle].
func (s *Service) provePassword(ctx context.Context, name, password, ip, door, action string, held *[]string, now time.Time) (_ *user.User, ok bool, err error) {
	u, err := s.Store.UserByUsername(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	ev := func(typ string, kv ...string) *audit.Event {
		return &audit.Event{Time: now, Type: typ, UserID: userID(u), Actor: userID(u), Interface: door, IP: ip, Detail: details(append(kv, "action", action))}
	}
	var acct closure
	if *held, acct, err = s.reserveLogin(ctx, name, ip, false, now); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			*held = nil
			s.audit(ctx, ev(audit.LoginThrottled))
		}
		return nil, false, err
	}
	hash := s.dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	if ok, _, err = s.Hasher.Verify(password, hash); err != nil {
		return nil, false, fault.Wrap(fault.Internal, fmt.Errorf("login: verify: %w", err))
	}
	if u == nil || !ok {
		*held = nil // a wrong password counts, as for a login
		if u != nil {
			s.audit(ctx, ev(audit.LoginFailed, "reason", "bad_password"))
		}
		return nil, false, nil
	}
	if err := s.passwordRight(ctx, name, ip, acct.closed, now); err != nil {
		return nil, false, err
	}
	*held = nil
	return u, true, nil
}

// Errors of shortening a wait.
var (
	ErrNotAdmin   = fault.New(fault.Forbidden, "login: this needs an administrator")
	ErrSameAdmin  = fault.New(fault.NotAllowed, "login: a second, different administrator must approve the shortening")
	ErrNotPending = fault.New(fault.NotFound, "login: no pending recovery of that id")
	ErrNoReason   = fault.NewField("reason", "1 to 200 printable characters", "login: a shortening needs a reason")
)

// Admin returns the user of sess if it is an administrator (Recovery.Admins)
// who proved AAL3 within the step-up window: what every administrator's
// action over the API asks.
func (s *Service) Admin(ctx context.Context, sess *session.Session) (*user.User, error) {
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.Recovery.Admins, u.Username) {
		return nil, ErrNotAdmin
	}
	if err := sess.Require(session.AAL3, s.stepUpWindow(), s.now()); err != nil {
		return nil, err
	}
	return u, nil
}

// ShortenRecovery records the approval of the administrator signed in on
// sess to end request id's wait now, with a reason: four eyes. The
// session must hold AAL3 proven within the step-up window. The first
// approval is audited (recovery.shortening_approved) and changes no
// time; the second, by a different administrator, ends the wait and is
// audited and told to the user on every channel (recovery.shortened).
// It reports whether the wait ended.
func (s *Service) ShortenRecovery(ctx context.Context, sess *session.Session, id, reason string) (*recovery.Request, bool, error) {
	now := s.now()
	u, err := s.Admin(ctx, sess)
	if err != nil {
		return nil, false, err
	}
	if reason == "" || len(reason) > 200 || !clienttext.Printable(reason, 200) {
		return nil, false, ErrNoReason
	}
	var r *recovery.Request
	var done bool
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if r, err = tx.RecoveryByID(ctx, id); err != nil {
			return err
		}
		if done, err = r.Shorten(u.Username, reason, now); errors.Is(err, recovery.ErrNotPending) {
			return ErrNotPending
		} else if errors.Is(err, recovery.ErrSameAdmin) {
			return ErrSameAdmin
		} else if err != nil {
			return err
		}
		if err := tx.SetRecoveryShortening(ctx, r); err != nil {
			return err
		}
		e := &audit.Event{Time: now, Type: audit.RecoveryShorteningAsked, UserID: r.UserID, Actor: u.ID, Interface: string(sess.Door), IP: sess.IP,
			Detail: map[string]string{"request": r.ID, "admin": u.Username, "reason": reason}}
		if done {
			e.Type, e.Detail = audit.RecoveryShortened, map[string]string{"request": r.ID, "admins": r.ShortenedBy, "reason": r.ShortenReason,
				"completes_at": r.CompletesAt.Format(time.RFC3339)}
		}
		return tx.AppendAudit(ctx, e)
	})
	if err != nil {
		return nil, false, err
	}
	return r, done, nil
}

// EndRecovered is the end reason of the sessions a completed recovery ended.
const EndRecovered = "recovered"

// WaitingError is [ErrRecoveryWaiting] with when the wait ends.
type WaitingError struct{ CompletesAt time.Time }

func (e *WaitingError) Error() string {
	return "login: the recovery waits until " + e.CompletesAt.Format(time.RFC3339)
}

// Kind is [fault.RecoveryWaiting].
func (e *WaitingError) Kind() fault.Kind { return fault.RecoveryWaiting }

// Unwrap is ErrRecoveryWaiting.
func (e *WaitingError) Unwrap() error { return ErrRecoveryWaiting }

// RemindRecoveries sends the reminders due at now (daily, and a day
// before completion) through the audit trail and its notices, each in
// its own transaction; of several instances, one sends each. It returns
// how many it sent.
func (s *Service) RemindRecoveries(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.Store.DueRecoveryNotices(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		err := s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.AdvanceRecoveryNotice(ctx, r.ID, r.NextNoticeAt, r.NoticeAfter(r.NextNoticeAt)); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.RecoveryReminder, UserID: r.UserID, Actor: "system",
				Detail: map[string]string{"request": r.ID, "completes_at": r.CompletesAt.Format(time.RFC3339), "last_day": fmt.Sprint(r.LastDay(r.NextNoticeAt))}})
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // another instance sent it
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
