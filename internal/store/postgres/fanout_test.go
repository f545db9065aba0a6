package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/storetest"
)

// TestRevocationsFanout: every change that another instance's caches
// must see reaches that instance as a notification naming it: keys
// revoked, rotated, suspended by a freeze and thawed, memberships changed
// (the user, and the keys the membership bounds), users frozen, session
// tokens replaced and assurance lowered.
func TestRevocationsFanout(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	alice := storetest.NewUser(t, a, "alice")
	storetest.NewAccount(t, a, "acc-live", account.Live)
	if err := a.AddMember(ctx, &account.Membership{UserID: alice.ID, AccountID: "acc-live", Role: account.Trader, CreatedAt: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3"} {
		k := storetest.NewKey(id, "acc-live", account.Live, storetest.T0)
		k.CreatedBy = alice.ID
		if err := a.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	s := storetest.NewSession(t, a, alice, "ses_1", storetest.T0)
	// What came before is not what this test looks at: PostgreSQL
	// delivers notifications in commit order, so once a marker session's
	// end is heard, the set-up's notifications are all behind it.
	marker := storetest.NewSession(t, a, alice, "ses_marker", storetest.T0)
	if err := a.EndSession(ctx, marker.ID, storetest.T0, session.EndRevoked); err != nil {
		t.Fatal(err)
	}
	for receiveAny(t, b.Revocations()) != (store.Revocation{Session: marker.ID}) {
	}

	at := storetest.T0.Add(time.Hour)
	key := func(id string) store.Revocation { return store.Revocation{Key: id} }
	usr := store.Revocation{User: alice.ID}
	ses := store.Revocation{Session: s.ID}
	for _, c := range []struct {
		name   string
		change func() error
		want   []store.Revocation
	}{
		{"RevokeKey", func() error { return a.RevokeKey(ctx, "aaaaaaaaaaaaaaa1", at, apikey.RevokedByUser) }, []store.Revocation{key("aaaaaaaaaaaaaaa1")}},
		{"SetKeySuccessor", func() error { return a.SetKeySuccessor(ctx, "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3", at) }, []store.Revocation{key("aaaaaaaaaaaaaaa2")}},
		{"FreezeKeysOf", func() error { _, err := a.FreezeKeysOf(ctx, alice.ID, at); return err }, []store.Revocation{key("aaaaaaaaaaaaaaa2"), key("aaaaaaaaaaaaaaa3")}},
		{"ThawKeysOf", func() error { _, err := a.ThawKeysOf(ctx, alice.ID); return err }, []store.Revocation{key("aaaaaaaaaaaaaaa2"), key("aaaaaaaaaaaaaaa3")}},
		{"FreezeUser", func() error { return a.FreezeUser(ctx, alice.ID, at, "link") }, []store.Revocation{usr}},
		{"UnfreezeUser", func() error { return a.UnfreezeUser(ctx, alice.ID) }, []store.Revocation{usr}},
		{"AddMember", func() error {
			return a.AddMember(ctx, &account.Membership{UserID: alice.ID, AccountID: "acc-live", Role: account.Viewer, CreatedAt: at})
		}, []store.Revocation{usr, key("aaaaaaaaaaaaaaa2"), key("aaaaaaaaaaaaaaa3")}},
		{"RemoveMember", func() error { return a.RemoveMember(ctx, alice.ID, "acc-live") }, []store.Revocation{usr, key("aaaaaaaaaaaaaaa2"), key("aaaaaaaaaaaaaaa3")}},
		{"RaiseSession", func() error {
			return a.RaiseSession(ctx, s.ID, session.AAL2, "pwd otp", at, []byte("new token hash, 32 bytes long!!!"), "")
		}, []store.Revocation{ses}},
		{"LowerAssurance", func() error { return a.SetSessionAssurance(ctx, s.ID, session.AAL1, at) }, []store.Revocation{ses}},
		{"RaiseAgain", func() error {
			return a.RaiseSession(ctx, s.ID, session.AAL2, "pwd otp", at, []byte("another token hash, 32 bytes!!!"), "")
		}, []store.Revocation{ses}},
		{"LowerSession", func() error { return a.LowerSession(ctx, s.ID, "pwd") }, []store.Revocation{ses}},
	} {
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := map[store.Revocation]bool{}
		for _, r := range c.want {
			want[r] = true
		}
		for len(want) > 0 {
			got := receiveAny(t, b.Revocations())
			if !want[got] {
				t.Fatalf("%s: revocation %+v, want one of %v", c.name, got, want)
			}
			delete(want, got)
		}
	}
	// A change the caches need not see (a key's use) sends nothing: the
	// next thing heard is the end of the session.
	if _, err := a.TouchKey(ctx, "aaaaaaaaaaaaaaa3", netip.MustParseAddr("127.0.0.1"), at); err != nil {
		t.Fatal(err)
	}
	if err := a.EndSession(ctx, s.ID, at, session.EndRevoked); err != nil {
		t.Fatal(err)
	}
	if got := receiveAny(t, b.Revocations()); got != ses {
		t.Errorf("after a key's use and a session's end: %+v, want %+v", got, ses)
	}
}

// TestOutboxClaimsAcrossInstances: three instances' stores on one schema,
// two workers each, claim and deliver one outbox: every message is
// claimed by exactly one worker, none twice and none left.
func TestOutboxClaimsAcrossInstances(t *testing.T) {
	url := storetest.PostgresURL(t)
	stores := []store.Store{open(t, url), open(t, url), open(t, url)}
	alice := storetest.NewUser(t, stores[0], "alice")
	const n = 300
	err := stores[0].InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			if err := tx.EnqueueMessage(ctx, storetest.NewMessage(fmt.Sprintf("msg_%03d", i), alice.ID, storetest.T0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := storetest.T0.Add(time.Second)
	var mu sync.Mutex
	claims := map[string]int{}
	var wg sync.WaitGroup
	for _, st := range stores {
		for range 2 {
			wg.Go(func() {
				for {
					ms, err := st.ClaimMessages(ctx, now, time.Hour, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ms) == 0 {
						return
					}
					for _, m := range ms {
						mu.Lock()
						claims[m.ID]++
						mu.Unlock()
						if err := st.MarkDelivered(ctx, m.ID, now); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	if len(claims) != n {
		t.Errorf("%d messages claimed, want %d", len(claims), n)
	}
	for id, c := range claims {
		if c != 1 {
			t.Errorf("%s claimed %d times, want 1", id, c)
		}
	}
}

// TestAloneAcrossInstances: while one instance runs the work of a name,
// another instance's Alone of the same name runs nothing and says so, a
// different name runs, and once the first is done the name is free
// again; an instance that dies holding it frees it with its session.
func TestAloneAcrossInstances(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	inside, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ran, err := a.Alone(ctx, "janitor", func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
		if !ran || err != nil {
			t.Errorf("first Alone = %v, %v; want it to run", ran, err)
		}
	})
	<-inside
	ran, err := b.Alone(ctx, "janitor", func(context.Context) error {
		t.Error("the other instance ran the janitor while the first ran it")
		return nil
	})
	if ran || err != nil {
		t.Errorf("second Alone while the first holds it = %v, %v; want false, nil", ran, err)
	}
	if ran, err := b.Alone(ctx, "dormant-keys", func(context.Context) error { return nil }); !ran || err != nil {
		t.Errorf("Alone of another name = %v, %v; want it to run", ran, err)
	}
	close(release)
	wg.Wait()
	want := errors.New("the work failed")
	if ran, err := b.Alone(ctx, "janitor", func(context.Context) error { return want }); !ran || !errors.Is(err, want) {
		t.Errorf("Alone after the first finished = %v, %v; want it to run and its error", ran, err)
	}

	// A process that dies holding the lock: its session ends, and the
	// lock with it.
	dying, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	held, stop, gone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(gone)
		dying.Alone(ctx, "janitor", func(context.Context) error {
			close(held)
			<-stop // the process "dies" below, its work unfinished
			return nil
		})
	}()
	t.Cleanup(func() { close(stop); <-gone; dying.Close() })
	<-held
	if ran, _ := b.Alone(ctx, "janitor", func(context.Context) error { return nil }); ran {
		t.Fatal("Alone ran while a live instance held the name")
	}
	c := raw(t, url)
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid::bigint >> 16 = x'6769'::int`); err != nil {
		t.Fatal(err)
	}
	ok := false
	for range 100 {
		if ran, _ := b.Alone(ctx, "janitor", func(context.Context) error { return nil }); ran {
			ok = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		t.Error("the name stayed held after the holder's session ended")
	}
}

// TestNotifyProbe: an instance's probe comes back to its own listener,
// timed, and is never taken for a revocation, here or on another instance.
func TestNotifyProbe(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	lags := make(chan time.Duration, 1)
	a.OnProbe(func(d time.Duration) { lags <- d })
	if at, _ := a.ProbeSeen(); !at.IsZero() {
		t.Fatal("a probe seen before any was sent")
	}
	if err := a.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-lags:
		if d <= 0 || d > 5*time.Second {
			t.Errorf("probe lag %v, want a small positive time", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe did not come back")
	}
	if at, lag := a.ProbeSeen(); at.IsZero() || lag <= 0 {
		t.Errorf("ProbeSeen = %v, %v", at, lag)
	}
	if at, _ := b.ProbeSeen(); !at.IsZero() {
		t.Error("the other instance counted a's probe as its own")
	}
	// A session ended now is the first thing either instance hears of.
	u := storetest.NewUser(t, a, "alice")
	storetest.NewSession(t, a, u, "ses_after_probe", storetest.T0)
	if err := a.EndSession(ctx, "ses_after_probe", storetest.T0.Add(time.Minute), "revoked"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*postgres.DB{a, b} {
		select {
		case r := <-st.Revocations():
			if r.Session != "ses_after_probe" {
				t.Errorf("first revocation heard = %+v, want the session (the probe is no revocation)", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no revocation heard")
		}
	}
}
