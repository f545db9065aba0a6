package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gatehouse/internal/password"
)

// MemoryBase is the part of the derived memory limit that is not
// password hashing: the Go heap of an idle server with its caches, with
// room to spare (an idle server holding 1M sessions has a resident set of
// about 56 MiB, SQLite's pages included; docs/benchmarks.md).
const MemoryBase = 64 << 20

// DerivedMemoryLimit is the soft memory limit serve sets when neither
// GOMEMLIMIT nor memory_limit says otherwise: [MemoryBase] plus, for each
// of the hashes computed at once (procs, as [password.Hasher] caps them
// at GOMAXPROCS), two argon2id blocks of p.Memory — the one being filled
// and one finished but not yet collected. With the defaults (19 MiB) and
// 2 cores it is 64 + 2 × 19 × 2 = 140 MiB. docs/operations.md states it.
func DerivedMemoryLimit(p password.Params, procs int) int64 {
	if procs < 1 {
		procs = 1
	}
	return MemoryBase + int64(procs)*int64(p.Memory)*1024*2
}

// Where a memory limit comes from, as [Config.SoftMemoryLimit] reports it.
const (
	MemoryFromEnv     = "GOMEMLIMIT"   // the environment's, applied by the Go runtime at start
	MemoryFromSetting = "memory_limit" // the configuration's
	MemoryFromDerived = "derived"      // [DerivedMemoryLimit]
	MemoryOff         = "off"          // memory_limit: off; no limit
)

// SoftMemoryLimit returns the soft memory limit for serve and where it comes
// from. An explicit GOMEMLIMIT wins over everything: the Go runtime has
// already applied it, so the limit returned is 0 and serve leaves the
// runtime's alone; so does memory_limit: off. Otherwise it is memory_limit
// or, when that is empty, [DerivedMemoryLimit] for procs hashes at once.
// Call after Validate.
func (c *Config) SoftMemoryLimit(getenv func(string) string, procs int) (limit int64, from string) {
	if getenv != nil && getenv("GOMEMLIMIT") != "" {
		return 0, MemoryFromEnv
	}
	switch c.MemoryLimit {
	case "":
		return DerivedMemoryLimit(c.Password.Argon2id, procs), MemoryFromDerived
	case "off":
		return 0, MemoryOff
	}
	n, _ := ParseMemorySize(c.MemoryLimit)
	return n, MemoryFromSetting
}

// ParseMemorySize parses a size as GOMEMLIMIT writes it: a whole number
// of bytes with an optional unit B, KiB, MiB, GiB or TiB ("512MiB").
func ParseMemorySize(s string) (int64, error) {
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSuffix(s, u.suffix), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("memory size %q: want a positive whole number with B, KiB, MiB, GiB or TiB, e.g. 512MiB", s)
	}
	return n * unit, nil
}

func (c *Config) validateMemory(bad func(string, ...any)) {
	switch c.MemoryLimit {
	case "", "off":
		return
	}
	n, err := ParseMemorySize(c.MemoryLimit)
	if err != nil {
		bad("memory_limit: %v (or empty to derive it, or off)", err)
		return
	}
	// Below one hashing slot the collector would run without pause
	// during every login: almost certainly a unit mistake.
	if min := int64(c.Password.Argon2id.Memory) * 1024 * 2; n < min {
		bad("memory_limit %s: below two argon2id blocks (%d MiB); leave it empty to derive it", c.MemoryLimit, min>>20)
	}
}
