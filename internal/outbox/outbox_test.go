package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gatehouse/internal/outbox"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

func TestRetryBound(t *testing.T) {
	r := outbox.Retry{Base: time.Second, Cap: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := r.Bound(n); got != want {
			t.Errorf("Bound(%d) = %v, want %v", n, got, want)
		}
	}
	if got := (outbox.Retry{}).Bound(1); got != outbox.DefaultBase {
		t.Errorf("zero Retry: Bound(1) = %v, want %v", got, outbox.DefaultBase)
	}
}

// sender is a stub channel: it answers with fn and records each call.
type sender struct {
	mu    sync.Mutex
	calls map[string][]time.Time
	fn    func(ctx context.Context, m *store.Message) error
}

func (s *sender) Send(ctx context.Context, m *store.Message) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string][]time.Time{}
	}
	s.calls[m.ID] = append(s.calls[m.ID], time.Now())
	s.mu.Unlock()
	return s.fn(ctx, m)
}

func (s *sender) times(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls[id]...)
}

func enqueue(t *testing.T, s store.Store, id, dest string) {
	t.Helper()
	m := &store.Message{ID: id, Channel: store.ChannelWebhook, Event: "session.created", Destination: dest, Payload: []byte(`{}`), CreatedAt: time.Now()}
	if err := s.EnqueueMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func message(t *testing.T, s store.Store, id string) *store.Message {
	t.Helper()
	m, err := s.MessageByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run starts w and returns a function that stops it and waits.
func run(w *outbox.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestRetriesWithBackoffThenParks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.SQLite(t)
		retry := outbox.Retry{Base: 2 * time.Second, Cap: 8 * time.Second, MaxAttempts: 5}
		snd := &sender{fn: func(context.Context, *store.Message) error { return errors.New("answered 500") }}
		w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: snd}, Retry: retry}
		enqueue(t, st, "msg_bad", "https://hooks.example/a")
		stop := run(w)
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()

		calls := snd.times("msg_bad")
		if len(calls) != retry.MaxAttempts {
			t.Fatalf("%d attempts, want %d", len(calls), retry.MaxAttempts)
		}
		for n := 1; n < len(calls); n++ {
			// The wait is drawn below the bound; the poll adds up to 1s.
			if gap, bound := calls[n].Sub(calls[n-1]), retry.Bound(n)+outbox.DefaultPoll; gap > bound {
				t.Errorf("wait after attempt %d = %v, want at most %v", n, gap, bound)
			}
		}
		m := message(t, st, "msg_bad")
		if m.State != store.MessageFailed || m.Attempts != retry.MaxAttempts || m.LastError != "answered 500" {
			t.Errorf("after %d failures: %s, attempts %d, last error %q; want failed, %d, the receiver's answer", len(calls), m.State, m.Attempts, m.LastError, retry.MaxAttempts)
		}
	})
}

func TestDeliversOnceAndParksPermanentFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.SQLite(t)
		snd := &sender{fn: func(_ context.Context, m *store.Message) error {
			if m.ID == "msg_unreadable" {
				return outbox.Permanent(errors.New("payload is not JSON"))
			}
			return nil
		}}
		w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: snd}}
		enqueue(t, st, "msg_ok", "https://hooks.example/a")
		enqueue(t, st, "msg_unreadable", "https://hooks.example/a")
		if err := st.EnqueueMessage(context.Background(), &store.Message{ID: "msg_nochannel", Channel: store.ChannelSSF, Event: "session.created", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		stop := run(w)
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		for id, want := range map[string]string{"msg_ok": store.MessageDelivered, "msg_unreadable": store.MessageFailed, "msg_nochannel": store.MessageFailed} {
			if m := message(t, st, id); m.State != want || m.Attempts != 1 {
				t.Errorf("%s: %s after %d attempts, want %s after 1", id, m.State, m.Attempts, want)
			}
		}
		if n := len(snd.times("msg_ok")); n != 1 {
			t.Errorf("msg_ok sent %d times, want once", n)
		}
	})
}

// TestHangingEndpointDelaysNoOther fills the outbox with messages to an
// endpoint that never answers, then adds one to a healthy endpoint: it
// is delivered within a poll, while the hanging ones time out and wait.
func TestHangingEndpointDelaysNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.SQLite(t)
		snd := &sender{fn: func(ctx context.Context, m *store.Message) error {
			if m.Destination == "https://hangs.example/" {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}}
		w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: snd},
			Concurrency: 4, PerDestination: 2, Timeout: 10 * time.Second}
		for i := range 20 {
			enqueue(t, st, fmt.Sprintf("msg_hang%02d", i), "https://hangs.example/")
		}
		stop := run(w)
		time.Sleep(1500 * time.Millisecond)
		enqueue(t, st, "msg_good", "https://fine.example/")
		queued := time.Now()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		calls := snd.times("msg_good")
		if len(calls) != 1 {
			t.Fatalf("the healthy endpoint got %d attempts within 3s, want 1", len(calls))
		}
		if d := calls[0].Sub(queued); d > outbox.DefaultPoll {
			t.Errorf("the healthy endpoint waited %v, want at most one poll (%v)", d, outbox.DefaultPoll)
		}
		if m := message(t, st, "msg_good"); m.State != store.MessageDelivered {
			t.Errorf("msg_good is %s, want delivered", m.State)
		}
		time.Sleep(20 * time.Second)
		stop()
		hung := message(t, st, "msg_hang00")
		if hung.State != store.MessagePending || hung.Attempts < 1 || hung.LastError == "" {
			t.Errorf("a hanging attempt: %s, attempts %d, last error %q; want pending with a timeout recorded", hung.State, hung.Attempts, hung.LastError)
		}
	})
}

// TestShutdownGivesBackUnsent stops the worker mid-send: the message is
// pending again, due at once, its attempt not counted.
func TestShutdownGivesBackUnsent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.SQLite(t)
		started := make(chan struct{})
		snd := &sender{fn: func(ctx context.Context, m *store.Message) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}}
		w := &outbox.Worker{Store: st, Senders: map[string]outbox.Sender{store.ChannelWebhook: snd}}
		enqueue(t, st, "msg_1", "https://hooks.example/")
		stop := run(w)
		<-started
		stop()
		m := message(t, st, "msg_1")
		if m.State != store.MessagePending || m.Attempts != 0 || m.NextAttemptAt.After(time.Now()) {
			t.Errorf("after shutdown: %s, attempts %d, due %v; want pending, 0, now", m.State, m.Attempts, m.NextAttemptAt)
		}
	})
}
