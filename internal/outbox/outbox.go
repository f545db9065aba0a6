// Package outbox delivers the messages of the store's outbox: notices and
// signals written in the transaction of the change that causes them
// ([store.Outbox]), sent at least once through one [Sender] per channel,
// retried with capped exponential backoff and full jitter, and parked as
// failed (the dead letter operators see) after too many attempts.
//
// Each message keeps its id across attempts, so a receiver that sees it
// twice (a worker that died after sending, before recording it) drops the
// second.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Sender delivers messages of one channel.
type Sender interface {
	// Send delivers m, returning once the receiver has taken it. ctx
	// carries the attempt's timeout.
	//
	// Security: the error's text is stored with the message and shown to
	// operators; it must hold no secret (no webhook secret, no password,
	// no token, no URL query).
	Send(ctx context.Context, m *store.Message) error
}

// permanent marks an error that no retry can cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the worker parks the message at once
// instead of retrying it: a payload the sender cannot read, an endpoint
// no longer configured.
func Permanent(err error) error { return permanent{err} }

// Store is what the worker needs of the store.
type Store interface {
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Message, error)
	MarkDelivered(ctx context.Context, id string, now time.Time) error
	MarkFailed(ctx context.Context, id, lastError string, next time.Time) error
	ReleaseMessage(ctx context.Context, id string, next time.Time) error
	ParkMessage(ctx context.Context, id, lastError string) error
}

// Retry is the retry policy: the wait before attempt n+1 is drawn
// uniformly from [0, min(Cap, Base·2ⁿ⁻¹)) ("full jitter"), so receivers
// that came back up are not hit by every instance's retries at once.
type Retry struct {
	// Base is the upper bound of the first wait; 0 means 5 seconds.
	Base time.Duration
	// Cap bounds every wait; 0 means 1 hour.
	Cap time.Duration
	// MaxAttempts is how many attempts a message gets before it is
	// parked; 0 means 12 (about a day and a half with the defaults).
	MaxAttempts int
}

// Defaults of [Retry] and [Worker].
const (
	DefaultBase           = 5 * time.Second
	DefaultCap            = time.Hour
	DefaultMaxAttempts    = 12
	DefaultTimeout        = 30 * time.Second
	DefaultConcurrency    = 16
	DefaultPerDestination = 4
	DefaultPoll           = time.Second
)

func (r Retry) withDefaults() Retry {
	if r.Base <= 0 {
		r.Base = DefaultBase
	}
	if r.Cap <= 0 {
		r.Cap = DefaultCap
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	return r
}

// Bound is the upper bound of the wait after attempt n (from 1) failed.
func (r Retry) Bound(n int) time.Duration {
	r = r.withDefaults()
	d := r.Base
	for i := 1; i < n && d < r.Cap; i++ {
		d *= 2
	}
	return min(d, r.Cap)
}

// Worker claims due messages and delivers them. Run it on every instance:
// the store hands each message to one worker at a time.
//
// A message is leased for twice its timeout when claimed; a worker that
// dies mid-send leaves it to be claimed again when the lease ends.
type Worker struct {
	Store Store
	// Senders maps a channel to its sender. A message of a channel
	// without one is parked.
	Senders map[string]Sender
	Retry   Retry
	// Timeout bounds one attempt; 0 means 30 seconds.
	Timeout time.Duration
	// Concurrency bounds the attempts in flight; 0 means 16.
	Concurrency int
	// PerDestination bounds the attempts in flight to one destination
	// (channel and receiver), so an endpoint that hangs holds at most
	// this many of the Concurrency slots and every other receiver's
	// deliveries go on; 0 means 4 (at most Concurrency).
	PerDestination int
	// Poll is how often the outbox is read for due messages; 0 means 1s.
	Poll time.Duration
	// Rand draws the jitter; nil means crypto/rand.Reader.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives delivery failures (message id, channel, event, error
	// text; never a payload). nil discards.
	Log *slog.Logger
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Run delivers messages until ctx ends, then cancels the attempts in
// flight, gives their messages back to the outbox unsent (another worker,
// or the next start, sends them) and returns once every attempt has.
func (w *Worker) Run(ctx context.Context) {
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conc := w.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	perDest := w.PerDestination
	if perDest <= 0 {
		perDest = DefaultPerDestination
	}
	perDest = min(perDest, conc)
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	lease := 2 * timeout

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inFlight int
		busy     = map[string]int{} // attempts in flight per destination
		freed    = make(chan struct{}, 1)
	)
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { cancelSends(); wg.Wait() }()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		mu.Lock()
		free := conc - inFlight
		mu.Unlock()
		full := false
		if free > 0 {
			ms, err := w.Store.ClaimMessages(ctx, w.now(), lease, free)
			if err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "outbox: claim messages", "err", err)
			}
			full = len(ms) == free
			for _, m := range ms {
				dest := m.Channel + "\x00" + m.Destination
				mu.Lock()
				ok := busy[dest] < perDest
				if ok {
					busy[dest]++
					inFlight++
				}
				mu.Unlock()
				if !ok {
					// Its endpoint already has its share of the slots:
					// give it back, due when the poll comes round.
					if err := w.Store.ReleaseMessage(sendCtx, m.ID, w.now().Add(poll)); err != nil {
						log.ErrorContext(ctx, "outbox: release message", "id", m.ID, "err", err)
					}
					continue
				}
				wg.Go(func() {
					w.attempt(sendCtx, log, m, timeout)
					mu.Lock()
					busy[dest]--
					if busy[dest] == 0 {
						delete(busy, dest)
					}
					inFlight--
					mu.Unlock()
					select {
					case freed <- struct{}{}:
					default:
					}
				})
			}
		}
		if full {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-freed:
		}
	}
}

// attempt sends m once and records the outcome.
func (w *Worker) attempt(ctx context.Context, log *slog.Logger, m *store.Message, timeout time.Duration) {
	var err error
	if s := w.Senders[m.Channel]; s == nil {
		err = Permanent(fmt.Errorf("no sender for channel %q", m.Channel))
	} else {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err = s.Send(actx, m)
		cancel()
	}
	// The outcome is recorded even while shutting down.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := w.now()
	switch {
	case err == nil:
		err = w.Store.MarkDelivered(rctx, m.ID, now)
	case ctx.Err() != nil:
		// Shutting down: not the receiver's fault, not an attempt.
		err = w.Store.ReleaseMessage(rctx, m.ID, now)
	default:
		retry := w.Retry.withDefaults()
		var p permanent
		if errors.As(err, &p) || m.Attempts >= retry.MaxAttempts {
			log.WarnContext(ctx, "outbox: message parked", "id", m.ID, "channel", m.Channel, "event", m.Event, "attempts", m.Attempts, "err", err)
			err = w.Store.ParkMessage(rctx, m.ID, err.Error())
			break
		}
		wait, jerr := token.Intn(w.Rand, int(retry.Bound(m.Attempts)/time.Millisecond)+1)
		if jerr != nil {
			wait = 0
		}
		next := now.Add(time.Duration(wait) * time.Millisecond)
		log.InfoContext(ctx, "outbox: delivery failed", "id", m.ID, "channel", m.Channel, "event", m.Event, "attempts", m.Attempts, "next", next, "err", err)
		err = w.Store.MarkFailed(rctx, m.ID, err.Error(), next)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.ErrorContext(ctx, "outbox: record delivery", "id", m.ID, "err", err)
	}
}
