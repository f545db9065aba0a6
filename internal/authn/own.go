package authn

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// ErrNoSession: the session does not exist, has ended, or is another
// user's. The three are not told apart, so no one learns whether a
// session id is real by trying to end it.
var ErrNoSession = fault.New(fault.NotFound, "authn: no such session")

// errOperator refuses an operator actor: these flows act on the actor's
// own sessions (the command line has `session revoke`).
var errOperator = errors.New("authn: own-session flows need a signed-in actor")

// Own returns the live sessions of the actor's user in the store's order
// (newest first). The actor's own session is the actor's copy, whose
// last-seen is fresher than the store's.
func (a *Sessions) Own(ctx context.Context, actor session.Actor) ([]*session.Session, error) {
	if actor.Operator() {
		return nil, errOperator
	}
	all, err := a.store.SessionsOfUser(ctx, actor.Session.UserID)
	if err != nil {
		return nil, err
	}
	now := a.now().UTC()
	var out []*session.Session
	for _, s := range all {
		if s.ID == actor.Session.ID {
			s = actor.Session
		}
		if s.Active(now) {
			out = append(out, s)
		}
	}
	return out, nil
}

// End ends one session of the actor's user: the actor's own is a logout,
// any other a revocation. Another user's session, or one already ended,
// is [ErrNoSession].
func (a *Sessions) End(ctx context.Context, actor session.Actor, id string) error {
	if actor.Operator() {
		return errOperator
	}
	reason := session.EndRevoked
	if id == actor.Session.ID {
		reason = session.EndLogout
	} else {
		target, err := a.store.SessionByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (target.UserID != actor.Session.UserID || !target.EndedAt.IsZero())) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
	}
	_, err := a.end(ctx, actor, reason, func(tx store.Tx, now time.Time) ([]string, error) {
		if err := tx.EndSession(ctx, id, now, reason); errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoSession // ended since it was read
		} else if err != nil {
			return nil, err
		}
		return []string{id}, nil
	})
	return err
}

// Logout ends the actor's own session. One ended already (from another
// session, at this very moment) counts as done: the actor is signed out
// all the same.
func (a *Sessions) Logout(ctx context.Context, actor session.Actor) error {
	if actor.Operator() {
		return errOperator
	}
	if err := a.End(ctx, actor, actor.Session.ID); err != nil && !errors.Is(err, ErrNoSession) {
		return err
	}
	return nil
}

// EndOthers ends every session of the actor's user but the actor's own,
// and returns how many it ended.
func (a *Sessions) EndOthers(ctx context.Context, actor session.Actor) (int, error) {
	if actor.Operator() {
		return 0, errOperator
	}
	ids, err := a.end(ctx, actor, session.EndRevoked, func(tx store.Tx, now time.Time) ([]string, error) {
		return tx.EndSessionsOfUser(ctx, actor.Session.UserID, actor.Session.ID, now, session.EndRevoked)
	})
	return len(ids), err
}

// end ends the sessions of the actor's user that endFn ends, each with
// its audit event, in one transaction, then forgets them here, so that
// this instance refuses each from its very next request; other instances
// do when the store notifies them, or within the cache's age bound.
func (a *Sessions) end(ctx context.Context, actor session.Actor, reason string, endFn func(store.Tx, time.Time) ([]string, error)) ([]string, error) {
	now := a.now().UTC()
	ip := actor.IP
	if ip == "" {
		ip = actor.Session.IP
	}
	var ended []string
	err := a.store.InTx(ctx, func(tx store.Tx) error {
		ids, err := endFn(tx, now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.SessionEnded, UserID: actor.Session.UserID, Actor: actor.ID(),
				Interface: actor.Door(), IP: ip, Detail: map[string]string{"session": id, "reason": reason, "by_session": actor.Session.ID}}); err != nil {
				return err
			}
		}
		ended = ids
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.Forget(ended...)
	return ended, nil
}
