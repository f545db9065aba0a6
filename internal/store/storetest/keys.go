package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// keyTests are the conformance tests of [store.Keys].
var keyTests = []suiteTest{
	{"KeysRoundTrip", testKeysRoundTrip},
	{"KeyNetworks", testKeyNetworks},
	{"KeysList", testKeysList},
	{"KeysRotate", testKeysRotate},
	{"KeysRotateRace", testKeysRotateRace},
	{"KeysRevoke", testKeysRevoke},
	{"KeysTouch", testKeysTouch},
	{"KeysTxRollback", testKeysTxRollback},
	{"KeysRevokeAndCreateWhileUseIsFlushed", testKeysRevokeAndCreateWhileUseIsFlushed},
}

// NewAccount stores an account in env and returns it.
func NewAccount(t testing.TB, s store.Tx, id string, env account.Environment) *account.Account {
	t.Helper()
	a := &account.Account{ID: id, Name: id, Environment: env, CreatedAt: T0}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

// NewKey returns a key of the account with id, not yet stored: its hash
// is the SHA-256 of a fixed string, as no test here needs the secret.
func NewKey(id, accountID string, env account.Environment, created time.Time) *apikey.Key {
	return &apikey.Key{
		ID: id, AccountID: accountID, Name: "bot " + id, Environment: env,
		Scopes:     apikey.ScopesOf(apikey.OrdersRead, apikey.OrdersWrite),
		SecretHash: apikey.HashSecret("secret of " + id),
		CreatedBy:  "usr_alice", CreatedAt: created, ExpiresAt: created.Add(90 * 24 * time.Hour),
	}
}

// cmpKey compares keys, netip values by their value.
var cmpKey = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func testKeysRoundTrip(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-live", account.Live)
	k := NewKey("0123456789abcdef", "acc-live", account.Live, T0)
	k.Scopes = apikey.AllScopes
	k.AllowIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/48"), netip.MustParsePrefix("198.51.100.7/32")}
	k.Name = "momentum bot #2 (vm-3) — 日本"
	k.SessionID = "ses_minter"
	k.HoldOnNewNetwork = true
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyByID(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got, cmpKey); diff != "" {
		t.Errorf("KeyByID mismatch (-stored +read):\n%s", diff)
	}
	if _, err := s.KeyByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByID(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.CreateKey(ctx, NewKey(k.ID, "acc-live", account.Live, T0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey(taken id) = %v, want ErrConflict", err)
	}
	if err := s.CreateKey(ctx, NewKey("orphan0000000000", "acc-missing", account.Live, T0)); err == nil {
		t.Error("CreateKey for an unknown account succeeded")
	}

	// A key with nothing optional: no allowlist, one scope.
	bare := NewKey("bare000000000000", "acc-live", account.Live, T0)
	bare.Scopes = apikey.ScopesOf(apikey.MarketdataRead)
	if err := s.CreateKey(ctx, bare); err != nil {
		t.Fatal(err)
	}
	got, _ = s.KeyByID(ctx, bare.ID)
	if diff := cmp.Diff(bare, got, cmpKey); diff != "" {
		t.Errorf("bare key mismatch (-stored +read):\n%s", diff)
	}
}

func testKeysList(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-a", account.Paper)
	NewAccount(t, s, "acc-b", account.Paper)
	for i, id := range []string{"a1", "a2", "a3"} {
		if err := s.CreateKey(ctx, NewKey(id, "acc-a", account.Paper, T0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, NewKey("b1", "acc-b", account.Paper, T0)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, "a2", T0.Add(time.Hour), apikey.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	list, err := s.KeysOfAccount(ctx, "acc-a")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range list {
		ids = append(ids, k.ID)
	}
	if diff := cmp.Diff([]string{"a3", "a2", "a1"}, ids); diff != "" {
		t.Errorf("KeysOfAccount ids mismatch (-want +got):\n%s", diff)
	}
	if list, err := s.KeysOfAccount(ctx, "acc-none"); err != nil || len(list) != 0 {
		t.Errorf("KeysOfAccount(no keys) = %v, %v; want none", list, err)
	}
	ids = nil
	un, err := s.UnrevokedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range un {
		ids = append(ids, k.ID)
	}
	if diff := cmp.Diff([]string{"a1", "b1", "a3"}, ids); diff != "" {
		t.Errorf("UnrevokedKeys ids mismatch (-want +got):\n%s", diff)
	}
}

func testKeysRotate(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	old := NewKey("old0000000000000", "acc-p", account.Paper, T0)
	if err := s.CreateKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	now := T0.Add(time.Hour)
	next, err := old.Rotate(apikey.Token{ID: "new0000000000000", Environment: account.Paper, Hash: apikey.HashSecret("n")}, "usr_alice", 1, apikey.DefaultLimits(), now)
	if err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, &next); err != nil {
			return err
		}
		return tx.SetKeySuccessor(ctx, old.ID, next.ID, old.OverlapEndsAt)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.KeyByID(ctx, old.ID)
	if got.SuccessorID != next.ID || !got.OverlapEndsAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("rotated key: successor %q, overlap ends %v; want %q, %v", got.SuccessorID, got.OverlapEndsAt, next.ID, now.Add(24*time.Hour))
	}
	if err := got.Usable(now.Add(23 * time.Hour)); err != nil {
		t.Errorf("rotated key read back: Usable during the overlap = %v", err)
	}
	if err := got.Usable(now.Add(24 * time.Hour)); !errors.Is(err, apikey.ErrRotated) {
		t.Errorf("rotated key read back: Usable after the overlap = %v, want ErrRotated", err)
	}
	gn, _ := s.KeyByID(ctx, next.ID)
	if gn.PredecessorID != old.ID {
		t.Errorf("successor's PredecessorID = %q, want %q", gn.PredecessorID, old.ID)
	}
	if err := s.SetKeySuccessor(ctx, old.ID, "other", now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SetKeySuccessor on a rotated key = %v, want ErrConflict", err)
	}
	if err := s.SetKeySuccessor(ctx, "nope", "other", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetKeySuccessor on an unknown key = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, next.ID, now, apikey.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKeySuccessor(ctx, next.ID, "other", now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SetKeySuccessor on a revoked key = %v, want ErrConflict", err)
	}
}

// testKeysRotateRace rotates one key from many goroutines at once: one
// successor wins, the others fail and leave nothing behind.
func testKeysRotateRace(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	if err := s.CreateKey(ctx, NewKey("old0000000000000", "acc-p", account.Paper, T0)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "succ" + string(rune('a'+i)) + "00000000000"
			errs[i] = s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.CreateKey(ctx, NewKey(id, "acc-p", account.Paper, T0)); err != nil {
					return err
				}
				return tx.SetKeySuccessor(ctx, "old0000000000000", id, T0.Add(time.Hour))
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("losing rotation: %v, want ErrConflict", err)
		}
	}
	keys, _ := s.KeysOfAccount(ctx, "acc-p")
	if won != 1 || len(keys) != 2 {
		t.Errorf("%d rotations won, %d keys stored; want 1 and 2", won, len(keys))
	}
}

func testKeysRevoke(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	k := NewKey("k000000000000000", "acc-p", account.Paper, T0)
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	at := T0.Add(time.Hour)
	if err := s.RevokeKey(ctx, k.ID, at, apikey.RevokedDormant); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k.ID, at.Add(time.Hour), apikey.RevokedByUser); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeKey twice = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, "nope", at, apikey.RevokedByUser); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeKey(unknown) = %v, want ErrNotFound", err)
	}
	got, _ := s.KeyByID(ctx, k.ID)
	if !got.RevokedAt.Equal(at) || got.RevokeReason != apikey.RevokedDormant {
		t.Errorf("revoked key: %v %q; want %v dormant (the first revocation stays)", got.RevokedAt, got.RevokeReason, at)
	}
	if err := got.Usable(at); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("revoked key read back: Usable = %v, want ErrRevoked", err)
	}
}

func testKeysTouch(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	k := NewKey("k000000000000000", "acc-p", account.Paper, T0)
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("203.0.113.9")
	b := netip.MustParseAddr("2001:db8::7")
	steps := []struct {
		addr     netip.Addr
		at       time.Time
		wantNew  bool
		wantAt   time.Time
		wantAddr netip.Addr
	}{
		{a, T0.Add(time.Minute), true, T0.Add(time.Minute), a},
		{a, T0.Add(2 * time.Minute), false, T0.Add(2 * time.Minute), a},
		{b, T0.Add(3 * time.Minute), true, T0.Add(3 * time.Minute), b},
		// A late batch with an older use moves nothing back, but still
		// learns the address.
		{netip.MustParseAddr("::ffff:198.51.100.1"), T0.Add(30 * time.Second), true, T0.Add(3 * time.Minute), b},
		{netip.MustParseAddr("198.51.100.1"), T0.Add(4 * time.Minute), false, T0.Add(4 * time.Minute), netip.MustParseAddr("198.51.100.1")},
	}
	for i, st := range steps {
		fresh, err := s.TouchKey(ctx, k.ID, st.addr, st.at)
		if err != nil {
			t.Fatalf("step %d: TouchKey = %v", i, err)
		}
		if fresh != st.wantNew {
			t.Errorf("step %d: TouchKey(%v) new address = %v, want %v", i, st.addr, fresh, st.wantNew)
		}
		got, _ := s.KeyByID(ctx, k.ID)
		if !got.LastUsedAt.Equal(st.wantAt) || got.LastUsedIP != st.wantAddr {
			t.Errorf("step %d: last used %v from %v, want %v from %v", i, got.LastUsedAt, got.LastUsedIP, st.wantAt, st.wantAddr)
		}
	}
	if _, err := s.TouchKey(ctx, "nope", a, T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchKey(unknown) = %v, want ErrNotFound", err)
	}
}

func testKeysTxRollback(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, NewKey("k000000000000000", "acc-p", account.Paper, T0)); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &audit.Event{Time: T0, Type: audit.KeyCreated, UserID: "usr_alice"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if _, err := s.KeyByID(ctx, "k000000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("key survived rollback: %v", err)
	}
}

// testKeysRevokeAndCreateWhileUseIsFlushed revokes, creates and rotates
// keys while their uses are written from several goroutines in the
// pattern of the key-use flush (authz.Keys.Flush): one transaction per
// batch, keys in id order, each use from a new address followed by its
// audit event. Every change must succeed (on PostgreSQL a deadlock
// between key rows and the audit chain's lock once failed revocations
// with 40P01 and left the keys usable), every revoked key must read back
// revoked, and the audit chain must verify.
func testKeysRevokeAndCreateWhileUseIsFlushed(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-p", account.Paper)
	const nKeys = 12
	ids := make([]string, nKeys)
	for i := range ids {
		ids[i] = fmt.Sprintf("key%013d", i)
		if err := s.CreateKey(ctx, NewKey(ids[i], "acc-p", account.Paper, T0)); err != nil {
			t.Fatal(err)
		}
	}
	event := func(typ, key string) *audit.Event {
		return &audit.Event{Time: T0, Type: typ, UserID: "usr_alice", Actor: "usr_alice", Detail: map[string]string{"key": key}}
	}

	done := make(chan struct{})
	var flushers, changers sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for f := range 3 { // three instances flushing overlapping batches
		flushers.Add(1)
		go func() {
			defer flushers.Done()
			for round := 0; ; round++ {
				select {
				case <-done:
					return
				default:
				}
				err := s.InTx(ctx, func(tx store.Tx) error {
					for i, id := range ids {
						addr := netip.AddrFrom4([4]byte{10, byte(f), byte(round), byte(i)})
						fresh, err := tx.TouchKey(ctx, id, addr, T0.Add(time.Duration(round)*time.Second))
						if err != nil {
							return err
						}
						if fresh {
							if err := tx.AppendAudit(ctx, event(audit.KeyNewAddress, id)); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					fail(fmt.Errorf("flush: %w", err))
				}
				// A flush runs on a timer, not back to back: three loops
				// with no pause starve SQLite's changers (its lock is not
				// fair) past the busy timeout on a loaded machine.
				time.Sleep(time.Millisecond)
			}
		}()
	}
	revoke := ids[:nKeys/2]
	rotate := ids[nKeys/2 : nKeys/2+3]
	for _, id := range revoke {
		changers.Add(1)
		go func() {
			defer changers.Done()
			err := s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.RevokeKey(ctx, id, T0.Add(time.Hour), apikey.RevokedByUser); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, event(audit.KeyRevoked, id))
			})
			if err != nil {
				fail(fmt.Errorf("revoke %s: %w", id, err))
			}
		}()
	}
	for i, id := range rotate {
		changers.Add(1)
		go func() {
			defer changers.Done()
			next := fmt.Sprintf("nxt%013d", i)
			err := s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.CreateKey(ctx, NewKey(next, "acc-p", account.Paper, T0)); err != nil {
					return err
				}
				if err := tx.SetKeySuccessor(ctx, id, next, T0.Add(time.Hour)); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, event(audit.KeyRotated, id))
			})
			if err != nil {
				fail(fmt.Errorf("rotate %s: %w", id, err))
			}
		}()
	}
	for i := range 4 {
		changers.Add(1)
		go func() {
			defer changers.Done()
			id := fmt.Sprintf("new%013d", i)
			err := s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.CreateKey(ctx, NewKey(id, "acc-p", account.Paper, T0)); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, event(audit.KeyCreated, id))
			})
			if err != nil {
				fail(fmt.Errorf("create %s: %w", id, err))
			}
		}()
	}
	changers.Wait()
	close(done)
	flushers.Wait()

	for _, err := range errs {
		t.Error(err)
	}
	for _, id := range revoke {
		k, err := s.KeyByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if k.RevokedAt.IsZero() {
			t.Errorf("key %s is not revoked after its revocation", id)
		}
	}
	if n, err := audit.Verify(s.AuditEvents(ctx)); err != nil {
		t.Errorf("Verify after concurrent key changes = %d, %v; want nil", n, err)
	}
}

// testKeyNetworks: a key's first network is approved at its first use;
// later ones wait under a hold and pass at once without; adding again
// adds nothing; approval is once, by someone.
func testKeyNetworks(t *testing.T, s store.Store) {
	NewAccount(t, s, "acc-live", account.Live)
	for _, id := range []string{"0123456789abcdef", "fedcba9876543210"} {
		if err := s.CreateKey(ctx, NewKey(id, "acc-live", account.Live, T0)); err != nil {
			t.Fatal(err)
		}
	}
	held, free := "0123456789abcdef", "fedcba9876543210"
	ip := netip.MustParseAddr("203.0.113.7")
	add := func(key, network string, at time.Time, hold bool) (*apikey.Network, bool) {
		t.Helper()
		n, added, err := s.AddKeyNetwork(ctx, key, network, ip, at, hold)
		if err != nil {
			t.Fatal(err)
		}
		return n, added
	}
	if n, added := add(held, "203.0.113.0/24", T0, true); !added || n.Held() || !n.ApprovedAt.Equal(T0) || n.FirstIP != ip {
		t.Errorf("first network of a held key = %+v, added %v; want added and approved at once", n, added)
	}
	n, added := add(held, "198.51.100.0/24", T0.Add(time.Minute), true)
	if !added || !n.Held() {
		t.Errorf("second network of a held key = %+v, added %v; want added and held", n, added)
	}
	if n, added := add(held, "198.51.100.0/24", T0.Add(2*time.Minute), true); added || !n.Held() || !n.FirstSeenAt.Equal(T0.Add(time.Minute)) {
		t.Errorf("adding it again = %+v, added %v; want the stored one, not added", n, added)
	}
	if n, _ := add(free, "203.0.113.0/24", T0, false); n.Held() {
		t.Error("a key without a hold has its first network held")
	}
	if n, _ := add(free, "AS64500", T0.Add(time.Minute), false); n.Held() {
		t.Error("a key without a hold has a later network held")
	}
	if err := s.ApproveKeyNetwork(ctx, held, "198.51.100.0/24", T0.Add(time.Hour), "usr_alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.ApproveKeyNetwork(ctx, held, "198.51.100.0/24", T0.Add(time.Hour), "usr_alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approving twice = %v, want ErrNotFound", err)
	}
	if err := s.ApproveKeyNetwork(ctx, held, "192.0.2.0/24", T0, "usr_alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approving a network never seen = %v, want ErrNotFound", err)
	}
	got, err := s.KeyNetwork(ctx, held, "198.51.100.0/24")
	if err != nil || got.Held() || got.ApprovedBy != "usr_alice" || !got.ApprovedAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("approved network = %+v, %v", got, err)
	}
	list, err := s.KeyNetworks(ctx, held)
	if err != nil || len(list) != 2 || list[0].Network != "203.0.113.0/24" {
		t.Errorf("KeyNetworks = %+v, %v; want the two, oldest first", list, err)
	}
	if _, err := s.KeyNetwork(ctx, held, "nope\x00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyNetwork of a hostile name = %v, want ErrNotFound", err)
	}
	if _, _, err := s.AddKeyNetwork(ctx, "nokey", "203.0.113.0/24", ip, T0, true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddKeyNetwork of an unknown key = %v, want ErrNotFound", err)
	}
}
