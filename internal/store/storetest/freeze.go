package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

// freezeTests are the conformance tests of a user's freeze, the keys it
// suspends and the links that make one.
var freezeTests = []suiteTest{
	{"FreezeUser", testFreezeUser},
	{"FreezeKeys", testFreezeKeys},
	{"FreezeLinks", testFreezeLinks},
}

func testFreezeUser(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	at := T0.Add(time.Hour)
	if err := s.FreezeUser(ctx, u.ID, at, u.ID); err != nil {
		t.Fatalf("FreezeUser = %v", err)
	}
	got, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Frozen() || !got.FrozenAt.Equal(at) || got.FrozenBy != u.ID {
		t.Errorf("frozen user: FrozenAt %v by %q, want %v by %q", got.FrozenAt, got.FrozenBy, at, u.ID)
	}
	if err := s.FreezeUser(ctx, u.ID, at.Add(time.Minute), "admin"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FreezeUser(frozen) = %v, want ErrConflict", err)
	}
	if err := s.FreezeUser(ctx, "usr_nobody", at, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FreezeUser(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.UnfreezeUser(ctx, u.ID); err != nil {
		t.Fatalf("UnfreezeUser = %v", err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.Frozen() || got.FrozenBy != "" {
		t.Errorf("unfrozen user: FrozenAt %v by %q, want neither", got.FrozenAt, got.FrozenBy)
	}
	if err := s.UnfreezeUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UnfreezeUser(not frozen) = %v, want ErrNotFound", err)
	}
}

// testFreezeKeys: a freeze suspends exactly the user's working keys, and
// a thaw brings back exactly those, never a key revoked before the freeze
// nor one revoked during it, nor another user's.
func testFreezeKeys(t *testing.T, s store.Store) {
	NewUser(t, s, "alice")
	NewAccount(t, s, "acc-live", account.Live)
	live := NewKey("aaaaaaaaaaaaaaa1", "acc-live", account.Live, T0)
	before := NewKey("aaaaaaaaaaaaaaa2", "acc-live", account.Live, T0)
	during := NewKey("aaaaaaaaaaaaaaa3", "acc-live", account.Live, T0)
	other := NewKey("aaaaaaaaaaaaaaa4", "acc-live", account.Live, T0)
	other.CreatedBy = "admin"
	for _, k := range []*apikey.Key{live, before, during, other} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeKey(ctx, before.ID, T0.Add(time.Minute), "user"); err != nil {
		t.Fatal(err)
	}
	at := T0.Add(time.Hour)
	frozen, err := s.FreezeKeysOf(ctx, "usr_alice", at)
	if err != nil {
		t.Fatalf("FreezeKeysOf = %v", err)
	}
	if want := []string{live.ID, during.ID}; !cmp.Equal(frozen, want) {
		t.Errorf("FreezeKeysOf = %v, want %v", frozen, want)
	}
	for id, want := range map[string]bool{live.ID: true, before.ID: false, during.ID: true, other.ID: false} {
		k, err := s.KeyByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := !k.FrozenAt.IsZero(); got != want || (want && !k.FrozenAt.Equal(at)) {
			t.Errorf("key %s: FrozenAt %v, want suspended %v", id, k.FrozenAt, want)
		}
	}
	if again, err := s.FreezeKeysOf(ctx, "usr_alice", at.Add(time.Minute)); err != nil || len(again) != 0 {
		t.Errorf("FreezeKeysOf again = %v, %v; want none", again, err)
	}
	if err := s.RevokeKey(ctx, during.ID, at.Add(time.Minute), "admin"); err != nil {
		t.Fatal(err)
	}
	thawed, err := s.ThawKeysOf(ctx, "usr_alice")
	if err != nil {
		t.Fatalf("ThawKeysOf = %v", err)
	}
	if want := []string{live.ID}; !cmp.Equal(thawed, want) {
		t.Errorf("ThawKeysOf = %v, want %v", thawed, want)
	}
	for _, id := range []string{live.ID, before.ID, during.ID} {
		k, _ := s.KeyByID(ctx, id)
		if !k.FrozenAt.IsZero() {
			t.Errorf("key %s after thaw: FrozenAt %v, want zero", id, k.FrozenAt)
		}
	}
	if k, _ := s.KeyByID(ctx, before.ID); k.RevokedAt.IsZero() {
		t.Errorf("key revoked before the freeze is usable after the thaw")
	}
	if k, _ := s.KeyByID(ctx, during.ID); k.RevokedAt.IsZero() {
		t.Errorf("key revoked during the freeze is usable after the thaw")
	}
}

func testFreezeLinks(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	good, old := []byte("hash-of-a-good-link-token-000000"), []byte("hash-of-an-old-link-token-000000")
	if err := s.CreateFreezeLink(ctx, good, u.ID, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFreezeLink(ctx, old, u.ID, T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	now := T0.Add(2 * time.Minute)
	if _, err := s.UseFreezeLink(ctx, old, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseFreezeLink(expired) = %v, want ErrNotFound", err)
	}
	if _, err := s.UseFreezeLink(ctx, []byte("forged"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseFreezeLink(forged) = %v, want ErrNotFound", err)
	}
	if got, err := s.UseFreezeLink(ctx, good, now); err != nil || got != u.ID {
		t.Errorf("UseFreezeLink = %q, %v; want %q", got, err, u.ID)
	}
	if _, err := s.UseFreezeLink(ctx, good, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseFreezeLink(used) = %v, want ErrNotFound", err)
	}
	if n, err := s.PurgeExpired(ctx, T0.Add(2*time.Hour), T0.Add(-time.Hour)); err != nil || n < 2 {
		t.Errorf("PurgeExpired = %d, %v; want both links gone", n, err)
	}
}
