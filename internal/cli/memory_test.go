package cli

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// After a burst of hashes the memory is given back once the hashing has
// been quiet for a tick, once per burst, never during one, and not for
// fewer hashes than the burst size.
func TestReleaseAfterBurstsWaitsForTheBurstToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hashes atomic.Uint64
		var releases atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			releaseAfterBursts(ctx, hashes.Load, 4, time.Second, func() { releases.Add(1) })
		}()
		step := func(add uint64, want int32, what string) {
			t.Helper()
			hashes.Add(add)
			time.Sleep(time.Second + time.Millisecond)
			synctest.Wait()
			if got := releases.Load(); got != want {
				t.Errorf("%s: releases = %d, want %d", what, got, want)
			}
		}
		step(0, 0, "idle")
		step(3, 0, "a burst under way")
		step(5, 0, "the burst goes on")
		step(0, 1, "the burst is over")
		step(0, 1, "still quiet")
		step(2, 1, "two hashes")
		step(0, 1, "quiet after fewer hashes than a burst")
		step(2, 1, "two more")
		step(0, 2, "quiet after a burst's worth in all")
		cancel()
		<-done
	})
}
