// Package authn turns a request's credential into a live session, for
// every door (the API, the portal and forward-auth) alike: an in-memory
// cache in front of the store, the door and DPoP checks
// ([Authenticator.Authenticate]), revocation that takes effect on the
// next request, and last-seen updates batched off the request.
package authn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// ErrUnauthenticated is the one answer for a token that does not name a
// live session, whatever the reason.
var ErrUnauthenticated = fault.New(fault.Unauthenticated, "authn: no valid session")

// ErrFrozen refuses a session of a frozen user, or one a freeze ended. It
// is of kind [fault.Frozen] and wraps [ErrUnauthenticated], so that code
// that knows nothing of freezes refuses it all the same. Only the holder
// of the token learns it: the token must name a session of the store.
var ErrFrozen error = frozenError{}

// ErrRecoveryOnly refuses a session a completed recovery gave wherever it
// is not allowed: it may only enrol. It is of kind [fault.NotAllowed] and
// wraps [ErrUnauthenticated], like [ErrFrozen].
var ErrRecoveryOnly error = recoveryOnlyError{}

type recoveryOnlyError struct{}

func (recoveryOnlyError) Error() string {
	return "authn: the session may only enrol a factor (a completed recovery)"
}
func (recoveryOnlyError) Kind() fault.Kind { return fault.NotAllowed }
func (recoveryOnlyError) Unwrap() error    { return ErrUnauthenticated }

type frozenError struct{}

func (frozenError) Error() string    { return "authn: the session's user is frozen" }
func (frozenError) Kind() fault.Kind { return fault.Frozen }
func (frozenError) Unwrap() error    { return ErrUnauthenticated }

// Sessions resolves session tokens. Create it with [New]; call Run in a
// goroutine to flush last-seen times, and cancel its context to stop it
// (it flushes once more on the way out). Revocations by other instances
// reach it through a [Watcher].
type Sessions struct {
	store  Store
	maxAge time.Duration
	now    func() time.Time
	log    *slog.Logger

	// hits and misses count the look-ups answered from the cache and
	// from the store, for the metrics.
	hits, misses atomic.Uint64

	mu      sync.Mutex
	byHash  map[string]*entry // key: string(token hash)
	byID    map[string]string // session id → key
	pending map[string]time.Time
}

// Store is what resolving sessions needs of the store;
// [store.Store] is one.
type Store interface {
	SessionByTokenHash(ctx context.Context, hash []byte) (*session.Session, error)
	// UserByID tells, when a session is read, whether its user is frozen.
	UserByID(ctx context.Context, id string) (*user.User, error)
	// TouchSessions takes the batched last-seen times.
	TouchSessions(ctx context.Context, seen map[string]time.Time) error
	// InTx ends a session found past its end, with its audit event.
	InTx(ctx context.Context, fn func(store.Tx) error) error
	// SessionsOfUser and SessionByID serve the own-session flows (own.go).
	SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error)
	SessionByID(ctx context.Context, id string) (*session.Session, error)
}

type entry struct {
	s       session.Session
	fetched time.Time
	// frozen: the session's user was frozen when it was read. Such a
	// session may only unfreeze (see [Credential.AllowFrozen]).
	frozen bool
}

// New returns a resolver that believes a cached session for at most
// maxAge before reading it from the store again. now nil means time.Now.
func New(st Store, maxAge time.Duration, now func() time.Time, log *slog.Logger) *Sessions {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sessions{store: st, maxAge: maxAge, now: now, log: log,
		byHash: map[string]*entry{}, byID: map[string]string{}, pending: map[string]time.Time{}}
}

// Resolve returns a copy of the live session whose token is tok. A
// session found past its idle or absolute end is marked ended in the
// store. Resolve does not record the use: a token alone proves nothing
// until its door and proof are checked, so only
// [Authenticator.Authenticate] records it, once every check has passed.
//
// A session of a frozen user is returned too: [Authenticator.Authenticate]
// is what refuses it, except where the door asks to unfreeze. A session a
// freeze ended is [ErrFrozen].
func (a *Sessions) Resolve(ctx context.Context, tok string) (*session.Session, error) {
	s, _, err := a.resolve(ctx, tok)
	return s, err
}

// Lookups returns how many sessions were found in the cache and how many
// were read from the store, since the start.
func (a *Sessions) Lookups() (hits, misses uint64) { return a.hits.Load(), a.misses.Load() }

// resolve is Resolve, and whether the session's user is frozen.
func (a *Sessions) resolve(ctx context.Context, tok string) (*session.Session, bool, error) {
	if tok == "" || len(tok) > 128 {
		return nil, false, ErrUnauthenticated
	}
	sum := token.Sum(tok)
	now := a.now().UTC()

	a.mu.Lock()
	e, ok := a.byHash[string(sum[:])] // a look-up by a converted key does not allocate
	if ok && now.Sub(e.fetched) <= a.maxAge {
		if err := e.s.Check(now); err == nil {
			s, frozen := e.s, e.frozen
			a.mu.Unlock()
			a.hits.Add(1)
			return &s, frozen, nil
		}
	}
	a.mu.Unlock()
	a.misses.Add(1)

	h := bytes.Clone(sum[:]) // sum stays on the stack of a cache hit
	key := string(h)
	s, err := a.store.SessionByTokenHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, ErrUnauthenticated
	}
	if err != nil {
		return nil, false, err
	}
	if !s.EndedAt.IsZero() && s.EndReason == session.EndFrozen {
		return nil, false, ErrFrozen
	}
	frozen := false
	if s.Check(now) == nil {
		// Read with the session, and believed as long: a freeze made here
		// forgets the user's sessions, and one made elsewhere ends them,
		// which every instance hears of.
		u, err := a.store.UserByID(ctx, s.UserID)
		if err != nil {
			return nil, false, err
		}
		frozen = u.Frozen()
	}
	a.mu.Lock()
	// The store's last-seen may lag the batch; the cache's is fresher.
	if e != nil && e.s.ID == s.ID && e.s.LastSeenAt.After(s.LastSeenAt) {
		s.LastSeenAt = e.s.LastSeenAt
	}
	if p, ok := a.pending[s.ID]; ok && p.After(s.LastSeenAt) {
		s.LastSeenAt = p
	}
	if err := s.Check(now); err != nil {
		delete(a.byHash, key)
		delete(a.byID, s.ID)
		a.mu.Unlock()
		if s.EndedAt.IsZero() {
			a.expire(ctx, s, err, now)
		}
		return nil, false, ErrUnauthenticated
	}
	a.byHash[key] = &entry{s: *s, fetched: now, frozen: frozen}
	a.byID[s.ID] = key
	a.mu.Unlock()
	return s, frozen, nil
}

// touch records a use of the session id now, for its idle timeout and the
// next [Sessions.Flush], and returns the time it recorded. A session no
// longer cached (forgotten by a revocation since it was resolved) is left
// alone: its use must not outlive it.
func (a *Sessions) touch(id string) time.Time {
	now := a.now().UTC()
	a.mu.Lock()
	if key, ok := a.byID[id]; ok {
		a.byHash[key].s.LastSeenAt = now
		a.pending[id] = now
	}
	a.mu.Unlock()
	return now
}

// expire marks a session ended because it ran out, with its audit event.
func (a *Sessions) expire(ctx context.Context, s *session.Session, why error, now time.Time) {
	reason := session.EndReasonFor(why)
	err := a.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.EndSession(ctx, s.ID, now, reason); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.SessionEnded, UserID: s.UserID, Actor: "system", Interface: string(s.Door),
			Detail: map[string]string{"session": s.ID, "reason": reason}})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.ErrorContext(ctx, "end expired session", "session", s.ID, "err", err)
	}
}

// Forget drops a session from the cache, so that its revocation is seen
// on the very next request.
func (a *Sessions) Forget(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		if key, ok := a.byID[id]; ok {
			delete(a.byHash, key)
			delete(a.byID, id)
		}
		delete(a.pending, id)
	}
}

// ForgetUsers drops every cached session of the users named (their
// freeze changed on another instance, say). It walks the cache: the
// changes that call it are rare.
func (a *Sessions) ForgetUsers(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, e := range a.byHash {
		if slices.Contains(ids, e.s.UserID) {
			delete(a.byHash, key)
			delete(a.byID, e.s.ID)
		}
	}
}

// ForgetAll empties the cache, for when revocations may have been lost:
// every session is read from the store again on its next request.
// Pending last-seen times are kept, as they record real uses.
func (a *Sessions) ForgetAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.byHash)
	clear(a.byID)
}

// Update replaces the cached copy of a session after a change this
// instance made (a step-up).
func (a *Sessions) Update(s *session.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if key, ok := a.byID[s.ID]; ok {
		a.byHash[key].s = *s
	}
}

// Flush writes pending last-seen times to the store.
func (a *Sessions) Flush(ctx context.Context) error {
	a.mu.Lock()
	batch := a.pending
	a.pending = map[string]time.Time{}
	// Drop entries no request has used within the max age: the map does
	// not grow with every session ever seen.
	now := a.now()
	for k, e := range a.byHash {
		if now.Sub(e.fetched) > a.maxAge && now.Sub(e.s.LastSeenAt) > time.Minute {
			delete(a.byHash, k)
			delete(a.byID, e.s.ID)
		}
	}
	a.mu.Unlock()
	return a.store.TouchSessions(ctx, batch)
}

// Run flushes last-seen times every interval, until ctx ends.
func (a *Sessions) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.Flush(context.WithoutCancel(ctx)); err != nil {
				a.log.Error("flush last-seen", "err", err)
			}
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.log.Error("flush last-seen", "err", err)
			}
		}
	}
}
