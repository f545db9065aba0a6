package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// onceTests are the conformance tests of single-use values.
var onceTests = []suiteTest{
	{"UseOnce", testUseOnce},
	{"UseOnceConcurrent", testUseOnceConcurrent},
}

func testUseOnce(t *testing.T, s store.Store) {
	h := []byte("0123456789abcdef0123456789abcdef")
	exp := T0.Add(time.Minute)
	if err := s.UseOnce(ctx, "dpop", h, exp, T0); err != nil {
		t.Fatalf("UseOnce(first) = %v, want nil", err)
	}
	if err := s.UseOnce(ctx, "dpop", h, exp, T0.Add(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce(again) = %v, want ErrConflict", err)
	}
	if err := s.UseOnce(ctx, "approval", h, exp, T0); err != nil {
		t.Errorf("UseOnce(same hash, other kind) = %v, want nil", err)
	}
	if err := s.UseOnce(ctx, "dpop", h, exp.Add(time.Minute), exp); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce(at its expiry) = %v, want ErrConflict", err)
	}
	// Past its expiry the value is as if never spent, and spent again.
	if err := s.UseOnce(ctx, "dpop", h, exp.Add(time.Minute), exp.Add(time.Microsecond)); err != nil {
		t.Errorf("UseOnce(after expiry) = %v, want nil", err)
	}
	if err := s.UseOnce(ctx, "dpop", h, exp.Add(time.Minute), exp.Add(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce(again after the renewal) = %v, want ErrConflict", err)
	}

	// A use in a transaction that rolls back spends nothing.
	h2 := []byte("fedcba9876543210fedcba9876543210")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UseOnce(ctx, "dpop", h2, exp, T0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if err := s.UseOnce(ctx, "dpop", h2, exp, T0); err != nil {
		t.Errorf("UseOnce(after a rolled-back use) = %v, want nil", err)
	}

	// The janitor deletes exactly the expired entries: the "approval"
	// entry expired at exp, the "dpop" ones live on.
	n, err := s.PurgeExpired(ctx, exp.Add(time.Second), T0.Add(-365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 { // "approval" on h, and "dpop" on h2
		t.Errorf("PurgeExpired = %d rows, want 2", n)
	}
	if err := s.UseOnce(ctx, "approval", h, exp.Add(time.Hour), T0); err != nil {
		t.Errorf("UseOnce(purged) = %v, want nil", err)
	}
	if err := s.UseOnce(ctx, "dpop", h, exp.Add(time.Hour), exp.Add(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce(live, after the purge) = %v, want ErrConflict", err)
	}
}

// testUseOnceConcurrent: of many simultaneous uses of one value, exactly
// one succeeds.
func testUseOnceConcurrent(t *testing.T, s store.Store) {
	const n = 16
	h := []byte("concurrentconcurrentconcurrent!!")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.UseOnce(ctx, "dpop", h, T0.Add(time.Minute), T0) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("UseOnce = %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent uses succeeded, want 1", won, n)
	}
}
