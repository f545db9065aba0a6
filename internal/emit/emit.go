// Package emit makes every audit event tell whoever must hear of it. It
// wraps a store so that each AppendAudit also enqueues, in the same
// transaction, the outbox messages its derivers draw from the event:
// notices to the user, Shared Signals to downstream services. A flow only
// writes its audit event; it cannot forget to notify, and a notice can
// never go out for a change that rolled back.
package emit

import (
	"context"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// A Deriver draws the outbox messages an audit event causes. It runs inside
// the event's transaction, after the event is stored (so e.Seq is set), and
// may read or write through tx (to create a freeze link, say). Derive
// returns no messages for events that concern it not; an error rolls the
// whole change back.
type Deriver interface {
	Derive(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error)
}

// DeriverFunc adapts a function to [Deriver].
type DeriverFunc func(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error)

// Derive calls f.
func (f DeriverFunc) Derive(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error) {
	return f(ctx, tx, e)
}

// Wrap returns s with every audit event passed through ds. With no
// derivers it returns s itself.
func Wrap(s store.Store, ds ...Deriver) store.Store {
	if len(ds) == 0 {
		return s
	}
	return &emitting{Store: s, e: emitter{ds: ds}}
}

type emitter struct{ ds []Deriver }

// emitting is a store whose audit appends emit.
type emitting struct {
	store.Store
	e emitter
}

func (s *emitting) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		return fn(&emittingTx{Tx: tx, e: s.e})
	})
}

// AppendAudit outside a transaction opens one, so that the event and its
// messages still commit together.
func (s *emitting) AppendAudit(ctx context.Context, e *audit.Event) error {
	return s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
}

// Unwrap returns the wrapped store, for code that needs the backend
// itself.
func (s *emitting) Unwrap() store.Store { return s.Store }

// emittingTx is a transaction whose audit appends emit.
type emittingTx struct {
	store.Tx
	e emitter
}

func (t *emittingTx) AppendAudit(ctx context.Context, e *audit.Event) error {
	if err := t.Tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	return t.e.emit(ctx, t.Tx, e)
}

func (em emitter) emit(ctx context.Context, tx store.Tx, e *audit.Event) error {
	for _, d := range em.ds {
		ms, err := d.Derive(ctx, tx, e)
		if err != nil {
			return fmt.Errorf("emit: %s: %w", e.Type, err)
		}
		for _, m := range ms {
			if err := fill(m, e); err != nil {
				return err
			}
			if err := tx.EnqueueMessage(ctx, m); err != nil {
				return fmt.Errorf("emit: enqueue %s %s: %w", m.Channel, m.Event, err)
			}
		}
	}
	return nil
}

// fill gives m what every message has and a deriver may leave out: an id,
// the event's user, its time, the pending state. A message of an event
// that a signal's apply wrote for one of its users (the event's detail
// names the signal) is bulk: one of thousands made at once.
func fill(m *store.Message, e *audit.Event) error {
	if e.UserID != "" && e.Detail["signal"] != "" {
		m.Bulk = true
	}
	if m.ID == "" {
		id, err := token.New(nil, 16)
		if err != nil {
			return fmt.Errorf("emit: message id: %w", err)
		}
		m.ID = "msg_" + id
	}
	if m.UserID == "" {
		m.UserID = e.UserID
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = e.Time
	}
	if m.State == "" {
		m.State = store.MessagePending
	}
	return nil
}
