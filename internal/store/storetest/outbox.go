package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/store"
)

// outboxTests are the conformance tests of [store.Outbox].
var outboxTests = []suiteTest{
	{"OutboxRoundTrip", testOutboxRoundTrip},
	{"OutboxLifecycle", testOutboxLifecycle},
	{"OutboxTxRollback", testOutboxTxRollback},
	{"OutboxClaimConcurrent", testOutboxClaimConcurrent},
	{"OutboxErrorText", testOutboxErrorText},
	{"OutboxRewriteUnsent", testOutboxRewriteUnsent},
	{"OutboxListPages", testOutboxListPages},
	{"OutboxPushWaits", testOutboxPushWaits},
	{"OutboxBulkLast", testOutboxBulkLast},
}

// testOutboxBulkLast: a thousand bulk messages due before it do not delay
// a message that is not bulk; the bulk ones go out after it, oldest
// first, and a batch that holds both lists the other one first.
func testOutboxBulkLast(t *testing.T, s store.Store) {
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i := range 1000 {
			m := NewMessage(fmt.Sprintf("msg_bulk%04d", i), fmt.Sprintf("usr_%04d", i), T0.Add(time.Duration(i)*time.Millisecond))
			m.Bulk = true
			if err := tx.EnqueueMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, NewMessage("msg_takeover", "usr_victim", T0.Add(5*time.Second)))
	now := T0.Add(10 * time.Second)
	if got, want := claimIDs(t, s, now, 1), []string{"msg_takeover"}; !cmp.Equal(got, want) {
		t.Errorf("first claim = %v, want %v before the bulk ones due earlier", got, want)
	}
	if got, want := claimIDs(t, s, now, 2), []string{"msg_bulk0000", "msg_bulk0001"}; !cmp.Equal(got, want) {
		t.Errorf("second claim = %v, want %v (the bulk ones, oldest first)", got, want)
	}
	enqueue(t, s, NewMessage("msg_new_device", "usr_victim", T0.Add(20*time.Second)))
	if got, want := claimIDs(t, s, T0.Add(30*time.Second), 3), []string{"msg_new_device", "msg_bulk0002", "msg_bulk0003"}; !cmp.Equal(got, want) {
		t.Errorf("a mixed batch = %v, want %v", got, want)
	}
	if m, err := s.MessageByID(ctx, "msg_bulk0999"); err != nil || !m.Bulk {
		t.Errorf("a bulk message read back = %+v, %v; want bulk", m, err)
	}
}

// testOutboxPushWaits: a push message waits for its phone: no worker
// claims it, the stats leave it out, it is listed by its phone and
// delivered when the phone has it.
func testOutboxPushWaits(t *testing.T, s store.Store) {
	for _, phone := range []string{"fac_1", "fac_2"} {
		m := NewMessage("msg_"+phone, "usr_alice", T0)
		m.Channel, m.Destination = store.ChannelPush, phone
		enqueue(t, s, m)
	}
	if got := claimIDs(t, s, T0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed %v, want no push message", got)
	}
	if st, err := s.OutboxStats(ctx); err != nil || st != (store.OutboxStats{}) {
		t.Errorf("OutboxStats = %+v, %v; want nothing counted", st, err)
	}
	ms, err := s.ListMessages(ctx, store.MessageFilter{UserID: "usr_alice", Channels: []string{store.ChannelPush}, Destination: "fac_2", State: store.MessagePending})
	if err != nil || len(ms) != 1 || ms[0].ID != "msg_fac_2" {
		t.Fatalf("ListMessages(phone fac_2) = %v, %v; want msg_fac_2", ms, err)
	}
	if err := s.MarkDelivered(ctx, "msg_fac_2", T0.Add(time.Minute)); err != nil {
		t.Errorf("MarkDelivered(push) = %v", err)
	}
}

// testOutboxListPages: ListMessages filters by channel and event in the
// query, so a page holds Limit messages when that many match; paging
// with After walks every selected message once, newest first, messages
// of one instant by id; a place no message has still pages.
func testOutboxListPages(t *testing.T, s store.Store) {
	var want []string
	for i := range 9 {
		at := T0.Add(time.Duration(i/3) * time.Minute) // three messages an instant
		for _, ch := range []string{store.ChannelSSF, store.ChannelMail, store.ChannelWebhook} {
			m := NewMessage(fmt.Sprintf("msg_%d%s", i, ch[:1]), "usr_alice", at)
			m.Channel = ch
			enqueue(t, s, m)
		}
		enqueue(t, s, NewMessage(fmt.Sprintf("msg_%db", i), "usr_bob", at))
	}
	for i := 8; i >= 0; i-- { // in one instant, by id descending: msg_8w, msg_8m, msg_7w…
		want = append(want, fmt.Sprintf("msg_%dw", i), fmt.Sprintf("msg_%dm", i))
	}
	f := store.MessageFilter{UserID: "usr_alice", Channels: []string{store.ChannelMail, store.ChannelWebhook}, Limit: 4}
	var got []string
	for page := 0; ; page++ {
		ms, err := s.ListMessages(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
		for _, m := range ms {
			got = append(got, m.ID)
		}
		if len(ms) < f.Limit {
			break
		}
		last := ms[len(ms)-1]
		f.After = store.MessagePlace{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged mail and webhook messages (-want +got):\n%s", diff)
	}
	ms, err := s.ListMessages(ctx, store.MessageFilter{UserID: "usr_alice", Event: "key.created"})
	if err != nil || len(ms) != 0 {
		t.Errorf("ListMessages(event key.created) = %d messages, %v; want none", len(ms), err)
	}
	ms, err = s.ListMessages(ctx, store.MessageFilter{Event: "session.created", Channels: []string{store.ChannelSSF}, Limit: 2})
	if err != nil || len(ms) != 2 || ms[0].ID != "msg_8s" || ms[1].ID != "msg_7s" {
		t.Errorf("ListMessages(ssf, limit 2) = %v, %v; want msg_8s, msg_7s", ms, err)
	}
	// A place between messages, and one no text is, page without error.
	ms, err = s.ListMessages(ctx, store.MessageFilter{UserID: "usr_alice", Channels: []string{store.ChannelMail}, After: store.MessagePlace{CreatedAt: T0.Add(90 * time.Second), ID: "zzz"}})
	if err != nil || len(ms) != 6 || ms[0].ID != "msg_5m" {
		t.Errorf("ListMessages(after a place between) = %d messages, %v; want 6 from msg_5m", len(ms), err)
	}
	if ms, err := s.ListMessages(ctx, store.MessageFilter{UserID: "usr_alice", After: store.MessagePlace{CreatedAt: T0, ID: "msg_\xff"}}); err != nil || len(ms) > 0 && ms[0].CreatedAt.After(T0) {
		t.Errorf("ListMessages(after an id not text) = %v, %v", ms, err)
	}
}

// testOutboxRewriteUnsent: a message no worker has tried takes a new
// payload; one claimed, delivered or unknown does not.
func testOutboxRewriteUnsent(t *testing.T, s store.Store) {
	enqueue(t, s, NewMessage("msg_a", "usr_alice", T0))
	enqueue(t, s, NewMessage("msg_b", "usr_alice", T0.Add(time.Second)))
	if err := s.RewriteUnsent(ctx, "msg_b", []byte(`{"n":2}`)); err != nil {
		t.Fatalf("RewriteUnsent(unsent) = %v", err)
	}
	if m, err := s.MessageByID(ctx, "msg_b"); err != nil || string(m.Payload) != `{"n":2}` {
		t.Errorf("payload after RewriteUnsent = %q, %v", m.Payload, err)
	}
	if got := claimIDs(t, s, T0, 1); !cmp.Equal(got, []string{"msg_a"}) {
		t.Fatalf("claimed %v, want msg_a", got)
	}
	if err := s.RewriteUnsent(ctx, "msg_a", []byte(`{"n":3}`)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RewriteUnsent(claimed) = %v, want ErrNotFound", err)
	}
	if m, _ := s.MessageByID(ctx, "msg_a"); string(m.Payload) != `{"subject":"New sign-in"}` {
		t.Errorf("claimed message's payload changed to %q", m.Payload)
	}
	if err := s.RewriteUnsent(ctx, "msg_none", []byte(`{}`)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RewriteUnsent(unknown) = %v, want ErrNotFound", err)
	}
}

// NewMessage returns a pending mail message of user, not yet stored.
func NewMessage(id, userID string, created time.Time) *store.Message {
	return &store.Message{ID: id, Channel: store.ChannelMail, Event: "session.created", UserID: userID,
		Destination: "alice@example.com", Payload: []byte(`{"subject":"New sign-in"}`), CreatedAt: created}
}

func enqueue(t *testing.T, s store.Tx, m *store.Message) {
	t.Helper()
	if err := s.EnqueueMessage(ctx, m); err != nil {
		t.Fatalf("EnqueueMessage(%s): %v", m.ID, err)
	}
}

func claimIDs(t *testing.T, s store.Store, now time.Time, limit int) []string {
	t.Helper()
	ms, err := s.ClaimMessages(ctx, now, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimMessages: %v", err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testOutboxRoundTrip(t *testing.T, s store.Store) {
	m := NewMessage("msg_1", "usr_alice", T0)
	enqueue(t, s, m)
	got, err := s.MessageByID(ctx, "msg_1")
	if err != nil {
		t.Fatal(err)
	}
	want := *m
	want.State, want.NextAttemptAt = store.MessagePending, T0
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("MessageByID (-want +got):\n%s", diff)
	}
	if err := s.EnqueueMessage(ctx, NewMessage("msg_1", "usr_alice", T0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("EnqueueMessage(same id) = %v, want ErrConflict", err)
	}
	if _, err := s.MessageByID(ctx, "msg_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageByID(unknown) = %v, want ErrNotFound", err)
	}
}

func testOutboxLifecycle(t *testing.T, s store.Store) {
	for i, id := range []string{"msg_a", "msg_b", "msg_c"} {
		enqueue(t, s, NewMessage(id, "usr_alice", T0.Add(time.Duration(i)*time.Second)))
	}
	later := NewMessage("msg_later", "usr_bob", T0)
	later.NextAttemptAt = T0.Add(time.Hour)
	enqueue(t, s, later)

	now := T0.Add(10 * time.Second)
	if got, want := claimIDs(t, s, now, 2), []string{"msg_a", "msg_b"}; !cmp.Equal(got, want) {
		t.Errorf("first claim = %v, want %v (oldest due first, at most the limit)", got, want)
	}
	if got, want := claimIDs(t, s, now, 10), []string{"msg_c"}; !cmp.Equal(got, want) {
		t.Errorf("second claim = %v, want %v (leased and not-yet-due messages stay)", got, want)
	}
	// c is given back unsent and claimed again: one attempt, not two.
	if err := s.ReleaseMessage(ctx, "msg_c", now); err != nil {
		t.Fatal(err)
	}
	if got, want := claimIDs(t, s, now, 10), []string{"msg_c"}; !cmp.Equal(got, want) {
		t.Errorf("claim after release = %v, want %v", got, want)
	}
	if c, _ := s.MessageByID(ctx, "msg_c"); c.Attempts != 1 {
		t.Errorf("released and claimed again: attempts %d, want 1", c.Attempts)
	}
	st, _ := s.MessageByID(ctx, "msg_a")
	if st.Attempts != 1 || !st.NextAttemptAt.Equal(now.Add(time.Minute)) {
		t.Errorf("claimed message: attempts %d, next %v; want 1, %v", st.Attempts, st.NextAttemptAt, now.Add(time.Minute))
	}

	// a delivered; b failed, due again later; c parked.
	if err := s.MarkDelivered(ctx, "msg_a", now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "msg_a", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkDelivered twice = %v, want ErrNotFound", err)
	}
	if err := s.MarkFailed(ctx, "msg_b", "relay said 451", now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ParkMessage(ctx, "msg_c", "relay said 550"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, "msg_c", "x", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkFailed(parked) = %v, want ErrNotFound", err)
	}
	if got := claimIDs(t, s, now.Add(29*time.Second), 10); len(got) != 0 {
		t.Errorf("claim before the retry is due = %v, want none", got)
	}
	if got, want := claimIDs(t, s, now.Add(30*time.Second), 10), []string{"msg_b"}; !cmp.Equal(got, want) {
		t.Errorf("claim when the retry is due = %v, want %v", got, want)
	}
	b, _ := s.MessageByID(ctx, "msg_b")
	if b.Attempts != 2 || b.LastError != "relay said 451" {
		t.Errorf("retried message: attempts %d, last error %q; want 2, the first failure", b.Attempts, b.LastError)
	}

	stats, err := s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.OutboxStats{Pending: 2, Failed: 1, OldestPending: T0}); stats != want {
		t.Errorf("OutboxStats = %+v, want %+v", stats, want)
	}

	failed, err := s.ListMessages(ctx, store.MessageFilter{State: store.MessageFailed})
	if err != nil || len(failed) != 1 || failed[0].ID != "msg_c" || failed[0].LastError != "relay said 550" {
		t.Fatalf("ListMessages(failed) = %v, %v; want msg_c with its error", failed, err)
	}
	all, _ := s.ListMessages(ctx, store.MessageFilter{})
	var ids []string
	for _, m := range all {
		ids = append(ids, m.ID)
	}
	if want := []string{"msg_c", "msg_b", "msg_later", "msg_a"}; !cmp.Equal(ids, want) {
		t.Errorf("ListMessages() = %v, want %v (newest first)", ids, want)
	}
	bobs, _ := s.ListMessages(ctx, store.MessageFilter{UserID: "usr_bob"})
	if len(bobs) != 1 || bobs[0].ID != "msg_later" {
		t.Errorf("ListMessages(usr_bob) = %v, want msg_later", bobs)
	}
	if one, _ := s.ListMessages(ctx, store.MessageFilter{Limit: 1}); len(one) != 1 {
		t.Errorf("ListMessages(limit 1) = %d messages", len(one))
	}

	if err := s.RetryMessage(ctx, "msg_b", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RetryMessage(pending) = %v, want ErrNotFound", err)
	}
	retry := now.Add(time.Hour)
	if err := s.RetryMessage(ctx, "msg_c", retry); err != nil {
		t.Fatal(err)
	}
	c, _ := s.MessageByID(ctx, "msg_c")
	if c.State != store.MessagePending || c.Attempts != 0 || !c.NextAttemptAt.Equal(retry) {
		t.Errorf("after RetryMessage: %s, attempts %d, next %v; want pending, 0, %v", c.State, c.Attempts, c.NextAttemptAt, retry)
	}
}

func testOutboxTxRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		NewUser(t, tx, "carol")
		enqueue(t, tx, NewMessage("msg_rolled", "usr_carol", T0))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if _, err := s.MessageByID(ctx, "msg_rolled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message survived its transaction's rollback: %v", err)
	}
	err = s.InTx(ctx, func(tx store.Tx) error {
		NewUser(t, tx, "dave")
		enqueue(t, tx, NewMessage("msg_kept", "usr_dave", T0))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, s, T0, 10); !cmp.Equal(got, []string{"msg_kept"}) {
		t.Errorf("claim after commit = %v, want msg_kept", got)
	}
}

// testOutboxClaimConcurrent claims from many workers at once: each
// message must be claimed exactly once, none skipped.
func testOutboxClaimConcurrent(t *testing.T, s store.Store) {
	const n, workers = 60, 6
	for i := range n {
		enqueue(t, s, NewMessage(fmt.Sprintf("msg_%03d", i), "usr_alice", T0))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				ms, err := s.ClaimMessages(ctx, T0, time.Hour, 4)
				if err != nil {
					t.Errorf("ClaimMessages: %v", err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d messages claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times, want once", id, c)
		}
	}
}

func testOutboxErrorText(t *testing.T, s store.Store) {
	enqueue(t, s, NewMessage("msg_e", "usr_alice", T0))
	claimIDs(t, s, T0, 1)
	if err := s.MarkFailed(ctx, "msg_e", "bad \xff answer\x00"+strings.Repeat("é", 400), T0); err != nil {
		t.Fatal(err)
	}
	m, _ := s.MessageByID(ctx, "msg_e")
	if m.LastError != store.CleanErrorText(m.LastError) || len(m.LastError) > 500 || !strings.HasPrefix(m.LastError, "bad ") {
		t.Errorf("stored last error = %q, want clean text of at most 500 bytes", m.LastError)
	}
}
