package dpop_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/dpop"
)

func TestReplayCacheSeen(t *testing.T) {
	var c dpop.ReplayCache // zero value: 60 s window
	if c.Seen("jkt-a", "id-1", t0, t0) {
		t.Fatal("Seen(first use) = true, want false")
	}
	if !c.Seen("jkt-a", "id-1", t0, t0.Add(time.Second)) {
		t.Error("Seen(replay) = false, want true")
	}
	if c.Seen("jkt-b", "id-1", t0, t0) {
		t.Error("Seen(same jti, other key) = true, want false")
	}
	if c.Seen("jkt-a", "id-2", t0, t0) {
		t.Error("Seen(other jti) = true, want false")
	}
	// The (jkt, jti) encoding must not let two pairs share a key.
	if c.Seen("jkt-a", "id-1x", t0, t0) || c.Seen("jkt-ai", "d-1", t0, t0) {
		t.Error("Seen(pair that concatenates like another) = true, want false")
	}
	// To the end of the window, which Check accepts, the entry is still there.
	if !c.Seen("jkt-a", "id-1", t0, t0.Add(60*time.Second)) {
		t.Error("Seen(replay at 60 s) = false, want true")
	}
	if c.Seen("jkt-a", "id-edge", t0, t0.Add(60*time.Second)) {
		t.Error("Seen(first use at 60 s, which Check accepts) = true, want false")
	}
	// A proof older than the window cannot be tracked, so it is refused.
	if !c.Seen("jkt-a", "id-3", t0, t0.Add(61*time.Second)) {
		t.Error("Seen(stale proof) = false, want true")
	}
	// So is one dated further ahead than the window, and no iat, however
	// absurd, overflows the arithmetic into acceptance or a panic.
	for _, iat := range []time.Time{t0.Add(61 * time.Second), {}, time.Unix(1<<62, 0), time.Unix(-1<<62, 0)} {
		if !c.Seen("jkt-a", "id-4", iat, t0) {
			t.Errorf("Seen(iat %v) = false, want true", iat)
		}
	}
	// After the window a new proof may reuse the jti (Check governs iat).
	later := t0.Add(2 * time.Minute)
	if c.Seen("jkt-a", "id-1", later, later) {
		t.Error("Seen(jti reused after window) = true, want false")
	}
}

func TestReplayCacheFutureIAT(t *testing.T) {
	// An entry lives until iat + Window, so a proof dated a little in the
	// future stays blocked for its whole acceptable life.
	c := dpop.ReplayCache{Window: 10 * time.Second}
	iat := t0.Add(5 * time.Second)
	if c.Seen("k", "id", iat, t0) {
		t.Fatal("Seen(first use) = true, want false")
	}
	if !c.Seen("k", "id", iat, t0.Add(14*time.Second)) {
		t.Error("Seen(replay at iat+9s) = false, want true")
	}
}

func TestReplayCacheFullRefusesWithoutEvicting(t *testing.T) {
	// 64 entries over 64 shards: one per shard.
	c := dpop.ReplayCache{MaxEntries: 64, Window: 10 * time.Second}
	victim := "victim-id"
	if c.Seen("victim", victim, t0, t0) {
		t.Fatal("Seen(victim) = true, want false")
	}
	refused := 0
	for i := range 1000 {
		if c.Seen("attacker", fmt.Sprint(i), t0, t0.Add(time.Millisecond)) {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("a full cache accepted every new proof")
	}
	if got := c.Len(); got > 64 {
		t.Errorf("Len() = %d, want at most 64", got)
	}
	// The victim's entry survived the flood: its replay is still refused.
	if !c.Seen("victim", victim, t0, t0.Add(2*time.Second)) {
		t.Error("Seen(victim replay after flood) = false, want true")
	}
	// Once the window has passed the entries expire and room returns.
	later := t0.Add(time.Minute)
	accepted := 0
	for i := range 1000 {
		if !c.Seen("later", fmt.Sprint(i), later, later) {
			accepted++
		}
	}
	if accepted < 32 {
		t.Errorf("after expiry accepted %d new proofs, want most shards to have room", accepted)
	}
}

func TestReplayCacheMemoryBounded(t *testing.T) {
	// A steady stream never grows the cache past the proofs of about one
	// and a half windows.
	c := dpop.ReplayCache{Window: 10 * time.Second}
	for i := range 200_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond) // 1000 proofs a second
		if c.Seen("k", fmt.Sprint(i), now, now) {
			t.Fatalf("Seen(fresh proof %d) = true", i)
		}
	}
	if got, max := c.Len(), 16_000; got > max {
		t.Errorf("Len() = %d after 200 s at 1000/s with a 10 s window, want at most %d", got, max)
	}
}

func TestReplayCacheConcurrent(t *testing.T) {
	// Many goroutines present the same proofs: each must be accepted once.
	var c dpop.ReplayCache
	const proofs, workers = 200, 8
	var accepted [proofs]atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range proofs {
				if !c.Seen("k", fmt.Sprint(i), t0, t0) {
					accepted[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Errorf("proof %d accepted %d times, want 1", i, n)
		}
	}
}

func BenchmarkReplayCacheSeen(b *testing.B) {
	var c dpop.ReplayCache
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("%022d", i)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			now := t0.Add(time.Duration(i) * time.Microsecond)
			c.Seen("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", ids[i%int64(len(ids))]+fmt.Sprint(i>>16), now, now)
		}
	})
}

// TestReplayID: the id a shared store keeps names one (jkt, jti) pair:
// the same pair gives the same id, pairs that concatenate alike do not.
func TestReplayID(t *testing.T) {
	if !bytes.Equal(dpop.ReplayID("ab", "c"), dpop.ReplayID("ab", "c")) {
		t.Error("ReplayID(ab, c) differs between calls")
	}
	for _, p := range [][2]string{{"a", "bc"}, {"", "abc"}, {"abc", ""}, {"ab", "d"}} {
		if bytes.Equal(dpop.ReplayID(p[0], p[1]), dpop.ReplayID("ab", "c")) {
			t.Errorf("ReplayID(%q, %q) = ReplayID(\"ab\", \"c\")", p[0], p[1])
		}
	}
	c := &dpop.ReplayCache{Window: 90 * time.Second}
	iat := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	if got, want := c.Expiry(iat), iat.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Expiry(%v) = %v, want %v", iat, got, want)
	}
	if got, want := (&dpop.ReplayCache{}).Expiry(iat), iat.Add(dpop.DefaultMaxAge); !got.Equal(want) {
		t.Errorf("zero cache: Expiry(%v) = %v, want %v", iat, got, want)
	}
}
