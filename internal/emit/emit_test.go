package emit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/emit"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

var ctx = context.Background()

// told is a deriver that tells one webhook of every factor change, and
// fails on demand.
type told struct{ fail error }

func (d *told) Derive(_ context.Context, _ store.Tx, e *audit.Event) ([]*store.Message, error) {
	if d.fail != nil {
		return nil, d.fail
	}
	if e.Type != audit.FactorAdded {
		return nil, nil
	}
	return []*store.Message{{Channel: store.ChannelWebhook, Event: "factor.added", Destination: "https://hooks.example/x", Payload: []byte(`{}`)}}, nil
}

func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"sqlite":   func(t *testing.T) store.Store { return storetest.SQLite(t) },
		"postgres": func(t *testing.T) store.Store { return storetest.Postgres(t) },
	}
}

func TestAuditEventAndItsMessagesCommitTogether(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			raw := open(t)
			d := &told{}
			s := emit.Wrap(raw, d)
			u := storetest.NewUser(t, raw, "ann")
			at := storetest.T0.Add(time.Minute)
			event := func() *audit.Event {
				return &audit.Event{Time: at, Type: audit.FactorAdded, UserID: u.ID, Actor: u.ID}
			}

			// In a transaction: the event and its message.
			if err := s.InTx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, event()) }); err != nil {
				t.Fatal(err)
			}
			// Outside one: still both.
			if err := s.AppendAudit(ctx, event()); err != nil {
				t.Fatal(err)
			}
			// An event no deriver cares about: no message.
			if err := s.AppendAudit(ctx, &audit.Event{Time: at, Type: audit.SessionEnded, UserID: u.ID, Actor: u.ID}); err != nil {
				t.Fatal(err)
			}
			// A change that rolls back after its event: neither.
			boom := errors.New("boom")
			if err := s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.AppendAudit(ctx, event()); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Fatalf("rolled-back change: err = %v, want boom", err)
			}
			// A deriver that fails fails the change: the event is not stored.
			d.fail = errors.New("no freeze link")
			if err := s.AppendAudit(ctx, event()); err == nil {
				t.Fatal("deriver failure: change committed")
			}

			ms, err := raw.ListMessages(ctx, store.MessageFilter{UserID: u.ID})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(ms), 2; got != want {
				t.Fatalf("messages = %d, want %d", got, want)
			}
			if ms[0].ID == "" || ms[0].ID == ms[1].ID {
				t.Errorf("message ids %q, %q: want a distinct id per message", ms[0].ID, ms[1].ID)
			}
			for _, m := range ms {
				if m.State != store.MessagePending || !m.CreatedAt.Equal(at) || m.UserID != u.ID || m.Event != "factor.added" || m.Bulk {
					t.Errorf("message = %+v, want pending factor.added of %s at %v, not bulk", m, u.ID, at)
				}
			}
			events, err := raw.AuditOfUser(ctx, u.ID, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(events), 3; got != want {
				t.Errorf("audit events = %d, want %d (two factor.added, one session.ended)", got, want)
			}
		})
	}
}

func TestWrapWithoutDeriversIsTheStore(t *testing.T) {
	s := storetest.SQLite(t)
	if got := emit.Wrap(s); got != store.Store(s) {
		t.Errorf("Wrap(s) = %T, want s itself", got)
	}
}
