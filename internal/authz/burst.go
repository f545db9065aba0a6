package authz

import (
	"sync"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
)

// bursts holds a token bucket per key and per session for order-placing
// requests (POST on a rule asking for orders:write): a ceiling of
// perMinute, refilled evenly, each bucket full at first.
//
// The buckets live in this instance alone: N instances behind a load
// balancer let a credential place up to N times the ceiling per minute
// (and exactly the ceiling when the balancer keeps a client on one
// instance). That bound is the guarantee; a shared counter would put a
// store write on every order, which the hot path must not pay. An
// allowed request writes nothing anywhere.
type bursts struct {
	perMinute int // 0: no ceiling

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
	told   bool // this run of refusals was reported
}

// maxBuckets bounds the map; past it, it is emptied (every bucket full
// again: a flood of credentials buys at most one more burst each).
const maxBuckets = 1 << 16

// placesOrder reports whether a request matching rule with method places
// an order: what the ceiling counts.
func placesOrder(rule *policy.Rule, method string) bool {
	return method == "POST" && rule.Scopes().Has(apikey.OrdersWrite)
}

// take spends one token of id's bucket at now and reports whether there
// was one, and, when not, how long until there is and whether this is
// the first refusal since the last pass (the one the owner is told of).
func (b *bursts) take(id string, now time.Time) (ok bool, wait time.Duration, first bool) {
	if b == nil || b.perMinute <= 0 {
		return true, 0, false
	}
	rate := float64(b.perMinute) / float64(time.Minute) // tokens per nanosecond
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.buckets[id]
	if k == nil {
		if len(b.buckets) >= maxBuckets {
			clear(b.buckets)
		}
		k = &bucket{tokens: float64(b.perMinute), at: now}
		b.buckets[id] = k
	}
	if d := now.Sub(k.at); d > 0 {
		k.tokens = min(float64(b.perMinute), k.tokens+float64(d)*rate)
		k.at = now
	}
	if k.tokens >= 1 {
		k.tokens--
		k.told = false
		return true, 0, false
	}
	first = !k.told
	k.told = true
	return false, time.Duration((1 - k.tokens) / rate), first
}
