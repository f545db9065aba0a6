package throttle_test

import (
	"testing"
	"time"

	"gatehouse/internal/throttle"
)

func TestDelay(t *testing.T) {
	r := throttle.Rule{Free: 2, Base: time.Second, Max: 10 * time.Second}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for n, w := range want {
		if got := r.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestReserveSequence(t *testing.T) {
	r := throttle.Rule{Free: 2, Base: time.Second, Max: time.Minute, Limit: 5}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s throttle.State
	var ok bool
	var wait time.Duration
	for i := 1; i <= 3; i++ {
		s, ok, _ = r.Reserve(s, now)
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	// Three failures: one second to wait.
	if _, ok, wait = r.Reserve(s, now); ok || wait != time.Second {
		t.Fatalf("4th attempt at once = %v, wait %v; want refused, 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if s, ok, _ = r.Reserve(s, now); !ok {
		t.Fatal("4th attempt after the wait refused")
	}
	now = now.Add(time.Hour)
	s, _, _ = r.Reserve(s, now)
	if s.Failures != 5 {
		t.Fatalf("failures = %d, want 5", s.Failures)
	}
	now = now.Add(time.Hour)
	if _, ok, _ = r.Reserve(s, now); ok {
		t.Error("attempt past the limit allowed")
	}
}

func TestReserveForgets(t *testing.T) {
	r := throttle.Rule{Free: 0, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, _ := r.Reserve(throttle.State{}, now)
	s, _, _ = r.Reserve(s, now.Add(time.Minute))
	s, ok, _ := r.Reserve(s, now.Add(25*time.Hour))
	if !ok || s.Failures != 1 {
		t.Errorf("after a quiet day: ok=%v failures=%d, want true, 1", ok, s.Failures)
	}
}

func TestRefund(t *testing.T) {
	r := throttle.Rule{Free: 1, Base: time.Minute, Max: time.Hour}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s throttle.State
	for range 40 {
		// A successful attempt reserves and is refunded: it never adds up.
		s, _, _ = r.Reserve(s, now)
		s = throttle.Refund(s, now)
	}
	if s.Failures != 0 {
		t.Errorf("after 40 refunded successes: %d failures, want 0", s.Failures)
	}
	s, _, _ = r.Reserve(s, now)
	s, _, _ = r.Reserve(s, now)
	if _, ok, _ := r.Reserve(s, now); ok {
		t.Fatal("third failure at once allowed")
	}
}

// A free attempt must not refuse one whose clock reading is a little older:
// parallel requests read the clock before they queue for the store.
func TestReserveFreeIsNoGate(t *testing.T) {
	r := throttle.Rule{Free: 5, Base: time.Minute, Max: time.Hour}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, _ := r.Reserve(throttle.State{}, now)
	if _, ok, _ := r.Reserve(s, now.Add(-time.Millisecond)); !ok {
		t.Error("a free attempt with an older clock reading was refused")
	}
}
