package authn

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/store"
)

// RevocationLog is what a [Watcher] reads; store.Store is one.
type RevocationLog interface {
	RevokedSince(ctx context.Context, seq int64, limit int) ([]store.Revocation, int64, error)
	// Revocations is what [Watcher.Run] follows; nil for none.
	Revocations() <-chan store.Revocation
}

// DefaultWatchEvery is how often a [Watcher] reads the revocation log at
// most: a revocation by another process takes effect within it.
const DefaultWatchEvery = 2 * time.Millisecond

// watchPage is how many log entries one read asks for.
const watchPage = 256

// Watcher follows the store's revocation log, so that a revocation made
// by another process on the same store (`gatehouse session revoke` or
// `gatehouse key revoke` on a SQLite file while serve runs) takes effect
// on the next request instead of at the caches' age. What it finds it
// drops from the session cache and the key cache.
//
// It reads on the request path, when a request finds the last read older
// than its interval: an idle server reads nothing, a busy one at most
// once per interval (one indexed look-up that usually finds nothing), and
// every other request pays one atomic load. A request that finds another
// reading goes on without waiting. The interval is measured on the
// monotonic clock, not an injected Now: it paces reads of the store and
// decides nothing about a session's time.
//
// Where the store notifies (PostgreSQL), [Watcher.Run] follows its
// notifications, so that what any instance revokes is forgotten here as
// soon as it commits, with no read on the request path.
//
// A nil *Watcher follows nothing. It is safe for concurrent use; set
// Users and ForgetAll before Run.
type Watcher struct {
	// Users, when set, forgets what is cached per user (memberships) of
	// the users a notification names; their sessions are forgotten anyway.
	Users func(ids ...string)
	// ForgetAll, when set, empties the caches other than sessions (keys,
	// memberships) when notifications may have been lost; the session
	// cache is emptied anyway.
	ForgetAll func()

	log      RevocationLog
	every    time.Duration
	sessions *Sessions
	keys     func(ids ...string)
	logger   *slog.Logger
	start    time.Time

	due atomic.Int64 // when the log is next read: nanoseconds since start
	mu  sync.Mutex   // held by the one request reading the log
	seq int64        // the last entry seen; -1 before the first read
}

// NewWatcher returns a watcher of log that reads it at most every
// interval (zero means [DefaultWatchEvery]) and forgets what it finds in
// sessions and, through keys (the key cache's Forget; nil for none), the
// key cache.
func NewWatcher(log RevocationLog, every time.Duration, sessions *Sessions, keys func(ids ...string), logger *slog.Logger) *Watcher {
	if every <= 0 {
		every = DefaultWatchEvery
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{log: log, every: every, sessions: sessions, keys: keys, logger: logger, start: time.Now(), seq: -1}
}

// Check reads the revocation log when it is due, and drops every session
// and key it names from the caches. A failed read is logged and retried
// a second later; until then the caches' age bounds what it could miss,
// as it would without a watcher, so a request is never refused for it.
func (w *Watcher) Check(ctx context.Context) {
	if w == nil || int64(time.Since(w.start)) < w.due.Load() {
		return
	}
	if !w.mu.TryLock() {
		return // another request is reading it
	}
	defer w.mu.Unlock()
	if int64(time.Since(w.start)) < w.due.Load() {
		return
	}
	wait := w.every
	if err := w.read(ctx); err != nil {
		w.logger.ErrorContext(ctx, "read the revocation log", "err", err)
		wait = time.Second
	}
	w.due.Store(int64(time.Since(w.start) + wait))
}

// Run follows the store's notifications until ctx ends or the store
// closes them, and forgets in the caches whatever they name. It returns
// at once for a store that sends none.
func (w *Watcher) Run(ctx context.Context) {
	if w == nil {
		return
	}
	ch := w.log.Revocations()
	if ch == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case r, ok := <-ch:
			if !ok {
				return
			}
			w.forget(r)
		}
	}
}

// forget drops from the caches what r names.
func (w *Watcher) forget(r store.Revocation) {
	switch {
	case r.All:
		w.logger.Warn("revocations may have been lost: emptying the caches")
		if w.sessions != nil {
			w.sessions.ForgetAll()
		}
		if w.ForgetAll != nil {
			w.ForgetAll()
		}
	case r.Session != "":
		if w.sessions != nil {
			w.sessions.Forget(r.Session)
		}
	case r.Key != "":
		if w.keys != nil {
			w.keys(r.Key)
		}
	case r.User != "":
		if w.sessions != nil {
			w.sessions.ForgetUsers(r.User)
		}
		if w.Users != nil {
			w.Users(r.User)
		}
	}
}

// read forgets what the log holds after w.seq. Called with w.mu held.
func (w *Watcher) read(ctx context.Context) error {
	for {
		entries, seq, err := w.log.RevokedSince(ctx, w.seq, watchPage)
		if err != nil {
			return err
		}
		for _, e := range entries {
			w.forget(e)
		}
		w.seq = seq
		if len(entries) < watchPage {
			return nil
		}
	}
}
