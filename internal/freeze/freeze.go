// Package freeze is "This wasn't me": the kill switch a user presses when
// a notice tells of something they did not do, and its undoing.
//
// A freeze, in one transaction with its audit events, marks the user
// frozen, ends every session of the user on every door and suspends (does
// not revoke) every API key the user created. While frozen, forward-auth
// and the API refuse the user's sessions and keys with the frozen problem;
// a new login mints a session that may only read its own state, step up,
// sign out and unfreeze (see [authn.Credential.AllowFrozen]). Freezing
// needs no second factor: it only takes power away.
//
// Unfreezing needs the strongest factor the user holds, proven fresh
// (AAL3 for a device-bound security key), and a new password in the same
// request: the freeze is lifted only together with the password change,
// so an account is never unfrozen with the password an intruder may
// know. It restores the keys the freeze suspended (a key revoked
// meanwhile stays revoked) and ends the user's other sessions. An
// operator may unfreeze from the command line; that ends every session
// again and leaves the password alone.
//
// The caches of this instance forget what a freeze or an unfreeze
// changes at once; other instances hear of the ended sessions through
// the store's revocations, and of suspended keys through the revocation
// log (or within the key cache's age).
package freeze

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// Errors of the freeze flows.
var (
	// ErrLink: the link's token is unknown, used already or expired. The
	// three are not told apart.
	ErrLink = fault.New(fault.NotFound, "freeze: link unknown, used or expired")
	// ErrNotFrozen: unfreezing a user who is not frozen.
	ErrNotFrozen = fault.New(fault.NotAllowed, "freeze: the user is not frozen")
	// ErrNoUser: no such user, or not the actor's.
	ErrNoUser = fault.New(fault.NotFound, "freeze: no such user")
)

// Service freezes and unfreezes users. Its fields are set once before
// use; it is safe for concurrent use.
type Service struct {
	Store store.Store
	// Sessions and Keys are this instance's caches, told at once of what
	// a freeze or an unfreeze changes; nil for none (the command line).
	Sessions *authn.Sessions
	Keys     *authz.Keys
	// Hasher and Rules hash and judge the new password of an unfreeze.
	Hasher *password.Hasher
	Rules  password.Rules
	// StepUpWindow is how recent the strongest factor's proof must be to
	// unfreeze; zero means [session.DefaultStepUpWindow].
	StepUpWindow time.Duration
	// Cooldown starts the cool-down of an unfreeze, in its transaction;
	// nil starts none.
	Cooldown *cooldown.Policy
	Now      func() time.Time // nil means time.Now
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) window() time.Duration {
	if s.StepUpWindow > 0 {
		return s.StepUpWindow
	}
	return session.DefaultStepUpWindow
}

// Frozen is what a freeze did.
type Frozen struct {
	UserID string
	// At and By are when and by whom the user was frozen: this freeze's,
	// or the earlier one's when Already.
	At time.Time
	By string
	// Already reports that the user was frozen before; the freeze ended
	// the sessions minted since (unfreeze-only ones) all the same.
	Already bool
	// Sessions are the ids of the sessions it ended, Keys those of the
	// keys it suspended.
	Sessions, Keys []string
}

// Freeze freezes userID on behalf of a: the actor's own user for a
// session (any other is [ErrNoUser]), any user for an operator. It needs
// no step-up. Freezing a frozen user is no error: it ends the sessions
// minted since.
func (s *Service) Freeze(ctx context.Context, a session.Actor, userID string) (*Frozen, error) {
	if !a.Operator() && userID != a.Session.UserID {
		return nil, ErrNoUser
	}
	var f *Frozen
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		f, err = s.apply(ctx, tx, userID, a.ID(), a.ID(), a.Door(), a.IP, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.forget(f.Sessions, f.Keys)
	return f, nil
}

// FreezeByLink freezes the user a notice's link names, spending the link
// in the same transaction. ip is the client's address, for the audit
// trail. A malformed token is a field error; one unknown, used or
// expired is [ErrLink]; either changes nothing.
func (s *Service) FreezeByLink(ctx context.Context, tok, ip string) (*Frozen, error) {
	if !ValidToken(tok) {
		return nil, ErrBadToken
	}
	now := s.now()
	var f *Frozen
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		userID, err := tx.UseFreezeLink(ctx, token.Hash(tok), now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrLink
		}
		if err != nil {
			return err
		}
		f, err = s.apply(ctx, tx, userID, "link", "link", "", ip, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.forget(f.Sessions, f.Keys)
	return f, nil
}

// Apply freezes userID inside tx, for a flow that freezes as part of its
// own change (the phone's "This wasn't me" answer): by says who froze it
// (see [user.User.FrozenBy]), door and ip where from. The caller tells
// its caches of what it returns once tx commits (see [Service.Forget]).
func (s *Service) Apply(ctx context.Context, tx store.Tx, userID, by, door, ip string, now time.Time) (*Frozen, error) {
	return s.apply(ctx, tx, userID, by, by, door, ip, now)
}

// FromPhone is [Service.Apply] in the shape [login.Service.Freeze]
// takes: the freeze a push answered "This wasn't me" makes, from the
// phone's door, and the cache forgetting to run once tx commits.
func (s *Service) FromPhone(ctx context.Context, tx store.Tx, userID, by string, now time.Time) (func(), error) {
	f, err := s.Apply(ctx, tx, userID, by, "mobile", "", now)
	if err != nil {
		return nil, err
	}
	return func() { s.Forget(f) }, nil
}

// Forget tells this instance's caches of what a freeze did.
func (s *Service) Forget(f *Frozen) { s.forget(f.Sessions, f.Keys) }

// apply is the freeze itself: the user marked, every session ended and
// every key suspended, with their audit events, in tx.
func (s *Service) apply(ctx context.Context, tx store.Tx, userID, by, actor, door, ip string, now time.Time) (*Frozen, error) {
	u, err := tx.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, err
	}
	f := &Frozen{UserID: u.ID, At: now, By: by}
	if u.Frozen() {
		f.Already, f.At, f.By = true, u.FrozenAt, u.FrozenBy
	} else if err := tx.FreezeUser(ctx, u.ID, now, by); errors.Is(err, store.ErrConflict) {
		f.Already = true // frozen a moment ago by another request
	} else if err != nil {
		return nil, err
	}
	if f.Sessions, err = tx.EndSessionsOfUser(ctx, u.ID, "", now, session.EndFrozen); err != nil {
		return nil, err
	}
	if f.Keys, err = tx.FreezeKeysOf(ctx, u.ID, now); err != nil {
		return nil, err
	}
	for _, id := range f.Sessions {
		if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.SessionEnded, UserID: u.ID, Actor: actor, Interface: door, IP: ip,
			Detail: map[string]string{"session": id, "reason": session.EndFrozen}}); err != nil {
			return nil, err
		}
	}
	if f.Already {
		return f, nil
	}
	return f, tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.AccountFrozen, UserID: u.ID, Actor: actor, Interface: door, IP: ip,
		Detail: map[string]string{"by": by, "sessions_ended": strconv.Itoa(len(f.Sessions)), "keys_suspended": strconv.Itoa(len(f.Keys))}})
}

func (s *Service) forget(sessions, keys []string) {
	if s.Sessions != nil {
		s.Sessions.Forget(sessions...)
	}
	if s.Keys != nil {
		s.Keys.Forget(keys...)
	}
}

// Unfrozen is what an unfreeze did.
type Unfrozen struct {
	// Keys are the ids of the keys that work again.
	Keys []string
	// Sessions are the ids of the sessions it ended: the user's others
	// (a user's unfreeze), or all (an operator's).
	Sessions []string
}

// Status is where a frozen user stands, for the portal and GET /v1/me.
type Status struct {
	Frozen bool
	At     time.Time
	By     string
	// Need is the assurance an unfreeze needs proven within Within: that
	// of the strongest factor the user holds.
	Need   session.Assurance
	Within time.Duration
	// Fresh reports whether the actor's session holds it now: the only
	// step left is choosing a new password.
	Fresh bool
}

// Source names who froze the user, as the user may be told: "user" (from
// a session), "link" (a notice's link), "phone" (the phone's "This
// wasn't me") or "admin".
func (st *Status) Source() string {
	switch {
	case st.By == "link", st.By == "admin":
		return st.By
	case strings.HasPrefix(st.By, "phone:"):
		return "phone"
	}
	return "user"
}

// Status returns the state of the actor's user.
func (s *Service) Status(ctx context.Context, a session.Actor) (*Status, error) {
	if a.Operator() {
		return nil, ErrNoUser
	}
	u, err := s.Store.UserByID(ctx, a.Session.UserID)
	if err != nil {
		return nil, err
	}
	st := &Status{Frozen: u.Frozen(), At: u.FrozenAt, By: u.FrozenBy, Within: s.window()}
	if !st.Frozen {
		return st, nil
	}
	if st.Need, err = s.strongest(ctx, s.Store, u.ID); err != nil {
		return nil, err
	}
	st.Fresh = a.Session.Require(st.Need, st.Within, s.now()) == nil
	return st, nil
}

// strongest is the assurance of the strongest usable factor of userID:
// AAL3 for a device-bound security key, AAL2 for any other second
// factor, AAL1 (the password) for a user without one.
func (s *Service) strongest(ctx context.Context, st store.Factors, userID string) (session.Assurance, error) {
	fs, err := st.FactorsOfUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	need := session.AAL1
	for _, f := range fs {
		if f.Usable() && f.Kind != factor.Recovery {
			need = max(need, f.Assurance())
		}
	}
	return need, nil
}

// Unfreeze lifts the freeze of userID. A session actor unfreezes its own
// user only (any other is [ErrNoUser]): its session must hold the
// assurance of the user's strongest factor, proven within the step-up
// window (else a [*session.StepUpError]), and newPassword must pass the
// password rules and differ from the current one (else a
// [*login.WeakPasswordError]); the password changes and the user's other
// sessions end in the same transaction. An operator skips both checks,
// the password stays, and every session of the user ends.
func (s *Service) Unfreeze(ctx context.Context, a session.Actor, userID, newPassword string) (*Unfrozen, error) {
	if !a.Operator() && userID != a.Session.UserID {
		return nil, ErrNoUser
	}
	u, err := s.Store.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, err
	}
	if !u.Frozen() {
		return nil, ErrNotFrozen
	}
	now := s.now()
	var hash string
	var need session.Assurance
	if !a.Operator() {
		if need, err = s.strongest(ctx, s.Store, u.ID); err != nil {
			return nil, err
		}
		if err := a.Session.Require(need, s.window(), now); err != nil {
			return nil, err
		}
		if hash, err = s.newPassword(u, newPassword); err != nil {
			return nil, err
		}
	}
	var out Unfrozen
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UnfreezeUser(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
			return ErrNotFrozen // unfrozen a moment ago by another request
		} else if err != nil {
			return err
		}
		var err error
		if out.Keys, err = tx.ThawKeysOf(ctx, u.ID); err != nil {
			return err
		}
		reason, except := session.EndRevoked, ""
		detail := map[string]string{"keys_restored": strconv.Itoa(len(out.Keys))}
		if !a.Operator() {
			reason, except = session.EndPasswordChange, a.Session.ID
			detail["proven"] = need.String()
			if err := tx.SetPasswordHash(ctx, u.ID, hash, now); err != nil {
				return err
			}
		}
		if out.Sessions, err = tx.EndSessionsOfUser(ctx, u.ID, except, now, reason); err != nil {
			return err
		}
		event := func(typ string, d map[string]string) error {
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: typ, UserID: u.ID, Actor: a.ID(), Interface: a.Door(), IP: a.IP, Detail: d})
		}
		unfrozen := &audit.Event{Time: now, Type: audit.AccountUnfrozen, UserID: u.ID, Actor: a.ID(), Interface: a.Door(), IP: a.IP, Detail: detail}
		if err := tx.AppendAudit(ctx, unfrozen); err != nil {
			return err
		}
		// One cool-down for the unfreeze and the password it set.
		if err := s.Cooldown.Start(ctx, tx, unfrozen); err != nil {
			return err
		}
		if !a.Operator() {
			if err := event(audit.PasswordChanged, map[string]string{"session": a.Session.ID, "reason": "unfreeze"}); err != nil {
				return err
			}
		}
		for _, id := range out.Sessions {
			if err := event(audit.SessionEnded, map[string]string{"session": id, "reason": reason}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ended := out.Sessions
	if !a.Operator() {
		// The actor's own session was cached as frozen: read it again.
		ended = append(ended[:len(ended):len(ended)], a.Session.ID)
	}
	s.forget(ended, out.Keys)
	return &out, nil
}

// newPassword checks and hashes the password an unfreeze sets. The
// current one may be what the intruder used, so it is refused.
func (s *Service) newPassword(u *user.User, next string) (string, error) {
	if err := s.Rules.Check(next, u.Username); err != nil {
		return "", &login.WeakPasswordError{Err: err}
	}
	same, _, err := s.Hasher.Verify(next, u.PasswordHash)
	if err != nil {
		return "", fault.Wrap(fault.Internal, err)
	}
	if same {
		return "", &login.WeakPasswordError{Err: errSamePassword}
	}
	h, err := s.Hasher.Hash(next)
	if err != nil {
		return "", fault.Wrap(fault.Internal, err)
	}
	return h, nil
}

var errSamePassword = errors.New("choose a new password: the one the account had when it was frozen may be known to whoever froze it")
