package cli

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"gatehouse/internal/config"
)

// setMemoryLimit sets the soft memory limit for the server's lifetime
// (see [config.Config.SoftMemoryLimit]), logs it, and returns the function
// that puts the previous limit back.
func setMemoryLimit(c *config.Config, getenv func(string) string, log *slog.Logger) (restore func()) {
	limit, from := c.SoftMemoryLimit(getenv, runtime.GOMAXPROCS(0))
	restore = func() {}
	switch from {
	case config.MemoryFromEnv:
		limit = debug.SetMemoryLimit(-1) // the runtime's, from GOMEMLIMIT
	case config.MemoryOff:
	default:
		prev := debug.SetMemoryLimit(limit)
		restore = func() { debug.SetMemoryLimit(prev) }
	}
	if limit <= 0 || limit == math.MaxInt64 {
		log.Info("memory limit", "limit", "none", "from", from)
	} else {
		log.Info("memory limit", "limit_mib", limit>>20, "from", from, "gomaxprocs", runtime.GOMAXPROCS(0), "argon2id_kib", c.Password.Argon2id.Memory)
	}
	return restore
}

// releaseAfterBursts gives the memory of a burst of password hashes back
// to the operating system once the burst is over: each tick, when at
// least minBurst hashes were computed since the last release and none
// since the tick before, it calls release (debug.FreeOSMemory) once.
// Without it the argon2id blocks (19 MiB each) of a login flood stay
// resident until the next collection, which an idle server may not run
// for two minutes. It releases at most once per minBurst hashes, so a
// steady trickle of logins costs one collection per minBurst logins, a
// few milliseconds against their hashing. It returns when ctx ends.
func releaseAfterBursts(ctx context.Context, hashes func() uint64, minBurst uint64, every time.Duration, release func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	released := hashes() // what the last release (or the start) had seen
	last := released
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n := hashes()
			if n == last && n-released >= minBurst {
				release()
				released = n
			}
			last = n
		}
	}
}
