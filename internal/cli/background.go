package cli

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/login"
	"gatehouse/internal/outbox"
	"gatehouse/internal/playbook"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
)

// Retention of what the janitor keeps: expired login state an hour (so a
// late poll still answers "expired"), push history and idle throttle
// counters 90 days (beyond every forget window and the posture report's
// 30-day look-back).
const (
	keepExpired = time.Hour
	keepHistory = 90 * 24 * time.Hour
)

// runJanitor purges expired login state every interval until ctx ends.
// With several instances on one PostgreSQL, one of them purges at a time
// ([store.Store.Alone]); the others skip that round.
func runJanitor(ctx context.Context, st store.Store, every time.Duration, log *slog.Logger) {
	each(ctx, every, func() {
		alone(ctx, st, "janitor", log, func(ctx context.Context) error {
			now := time.Now()
			n, err := st.PurgeExpired(ctx, now.Add(-keepExpired), now.Add(-keepHistory))
			if err == nil && n > 0 {
				log.Info("purged expired login state", "rows", n)
			}
			return err
		})
	})
}

// runSignalSweep suspends, every interval until ctx ends, the keys that
// open signals marked for rotation and that were not rotated by their
// deadline, on one instance at a time.
func runSignalSweep(ctx context.Context, st store.Store, signals *playbook.Service, every time.Duration, log *slog.Logger) {
	each(ctx, every, func() {
		alone(ctx, st, "signal-sweep", log, func(ctx context.Context) error {
			n, err := signals.Sweep(ctx)
			if n > 0 {
				log.Info("signal sweep: keys suspended for want of rotation", "actions", n)
			}
			return err
		})
	})
}

// alone runs fn unless another instance is running the work name, and
// logs its failure.
func alone(ctx context.Context, st store.Store, name string, log *slog.Logger, fn func(context.Context) error) {
	if _, err := st.Alone(ctx, name, fn); err != nil && ctx.Err() == nil {
		log.Error("background work failed", "work", name, "err", err)
	}
}

// each runs fn every interval until ctx ends.
func each(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// runReminders sends the lost-factor recoveries' due reminders every
// interval until ctx ends. With several instances each runs it; a
// reminder is sent by the one that advances it first.
func runReminders(ctx context.Context, remind func(context.Context) (int, error), every time.Duration, log *slog.Logger) {
	each(ctx, every, func() {
		if n, err := remind(ctx); err != nil {
			log.Error("recovery reminders", "err", err)
		} else if n > 0 {
			log.Info("recovery reminders sent", "count", n)
		}
	})
}

// loops is the server's background work: last-seen and last-used
// batching, revocations from other instances, dormant keys, and the
// janitor that purges expired login state, and the outbox worker.
type loops struct {
	// extAuthz is forward-auth alone, which the gRPC ext_authz listener
	// (authz.grpc_listen) puts Envoy's protocol in front of.
	extAuthz http.Handler
	sessions *authn.Sessions
	keys     *authz.Keys
	watch    *authn.Watcher // follows other instances' revocations
	store    store.Store
	outbox   *outbox.Worker // nil: the outbox is not delivered from here
	hashes   func() uint64  // the password hasher's count; nil: no release after bursts
	// probe times this instance's revocation notifications; nil: none
	// (SQLite).
	probe *notifyProbe
	// inForce follows the security signals' rules applied or closed by
	// any process on the store; nil: none.
	inForce *signal.InForce
	// signals sweeps the open signals' key deadlines; nil: none.
	signals *playbook.Service
	// later runs the work requests answered before doing it (a password
	// reset's mail); nil: none.
	later *login.Later
	// remind sends the recoveries' due reminders; nil: none from here.
	remind func(context.Context) (int, error)
	// checkpoints writes the audit chain's checkpoints; nil: none.
	checkpoints *checkpointer
	// approvals records the approval tokens forward-auth accepted off
	// the request's path; Run closes it last, writing what is left.
	approvals *authz.Approvals
	log       *slog.Logger
}

// Run runs every loop, flushing every interval, until ctx ends and each
// has flushed one last time.
func (l *loops) Run(ctx context.Context, interval time.Duration) {
	var wg sync.WaitGroup
	wg.Go(func() { l.sessions.Run(ctx, interval) })
	wg.Go(func() { l.keys.Run(ctx, interval) })
	wg.Go(func() { l.watch.Run(ctx) })
	if l.store != nil {
		wg.Go(func() { runJanitor(ctx, l.store, 10*time.Minute, l.log) })
	}
	if l.outbox != nil {
		wg.Go(func() { l.outbox.Run(ctx) })
	}
	if l.checkpoints != nil {
		wg.Go(func() { l.checkpoints.Run(ctx) })
	}
	if l.inForce != nil {
		wg.Go(func() {
			each(ctx, 2*time.Second, func() {
				// A failed read keeps the rules it had.
				if err := l.inForce.Refresh(ctx); err != nil && ctx.Err() == nil {
					l.log.Error("read the security signals", "err", err)
				}
			})
		})
	}
	if l.probe != nil {
		wg.Go(func() { l.probe.Run(ctx, l.log) })
	}
	if l.signals != nil && l.store != nil {
		wg.Go(func() { runSignalSweep(ctx, l.store, l.signals, time.Minute, l.log) })
	}
	if l.later != nil {
		wg.Go(func() { l.later.Run(ctx) })
	}
	if l.remind != nil {
		wg.Go(func() { runReminders(ctx, l.remind, time.Minute, l.log) })
	}
	if l.hashes != nil {
		wg.Go(func() {
			releaseAfterBursts(ctx, l.hashes, uint64(runtime.GOMAXPROCS(0)), time.Second, debug.FreeOSMemory)
		})
	}
	wg.Wait()
	if l.approvals != nil {
		l.approvals.Close()
	}
}
