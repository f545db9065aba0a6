package dpop

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultReplayEntries is the entry cap of a [ReplayCache] whose MaxEntries
// is zero. An entry costs about 55 bytes of heap (measured), so the default
// holds a minute of ~17,000 proofs a second in under 60 MiB.
const DefaultReplayEntries = 1 << 20

// replayShards spreads the lock: with 64 shards two requests contend only
// when their keys hash to the same shard.
const replayShards = 64

// fullSweepInterval bounds how often a full shard is swept. Without it a
// flood that keeps a shard full of live entries would make every request
// pay for a walk of the shard.
const fullSweepInterval = time.Second

// ReplayCache remembers the proofs it has seen, in memory, for as long as
// they could still pass [Proof.Check], so that each (jkt, jti) pair is
// accepted once (RFC 9449 §11.1). It is safe for concurrent use; the zero
// value is ready to use. Set the fields before the first call to Seen and do
// not change them after.
//
// Each gatehouse instance has its own cache: behind a load balancer a proof
// could be replayed once per instance. Where several instances share a
// store, the caller also spends [ReplayID] in the store once Seen lets a
// proof pass (see authn.Authenticator.Shared): the cache then only spares
// the store the replays it has seen itself.
//
// Keep separate caches for login and for authenticated requests: anyone can
// mint valid login proofs with fresh keys, and a flood of them must not fill
// the cache that protects live sessions.
type ReplayCache struct {
	// Window is how long after its "iat" an entry is kept. It must be at
	// least the MaxAge given to [Proof.Check], or a proof could be replayed
	// after its entry expires but before Check calls it stale, and at least
	// its MaxSkew, since Seen refuses an iat more than Window in the future.
	// Zero means [DefaultMaxAge].
	Window time.Duration
	// MaxEntries caps the live entries (the cap is split evenly across
	// shards). Zero means [DefaultReplayEntries].
	MaxEntries int

	once     sync.Once
	seeds    [2]maphash.Seed
	window   int64 // nanoseconds
	perShard int
	shards   [replayShards]replayShard
}

// replayKey is two independently seeded 64-bit hashes of (jkt, jti). The
// seeds are secret per process, so an attacker cannot aim keys at one shard
// or make collisions; and a collision could only refuse a fresh proof, never
// admit a replay.
type replayKey [2]uint64

type replayShard struct {
	mu        sync.Mutex
	m         map[replayKey]int64 // expiry, Unix nanoseconds
	nextSweep int64
	lastFull  int64 // last sweep forced by a full shard
	_         [64]byte
}

func (c *ReplayCache) init() {
	c.once.Do(func() {
		c.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
		w := c.Window
		if w <= 0 {
			w = DefaultMaxAge
		}
		c.window = int64(w)
		max := c.MaxEntries
		if max <= 0 {
			max = DefaultReplayEntries
		}
		c.perShard = (max + replayShards - 1) / replayShards
	})
}

// Seen records the proof (jkt, jti) issued at iat, and reports whether it must
// be refused as a replay: true if the pair was recorded before and is still
// live, and also true if it cannot be recorded.
//
// It cannot be recorded when iat is more than Window before or after now
// (Check refuses such a proof anyway), and when the cache is full. A full
// cache refuses new proofs rather than evicting live entries: eviction would
// let an attacker who floods the cache with proofs of their own flush a
// victim's entry and then replay the victim's proof. Refusal turns a flood
// into a loud denial of service, which the throttle upstream can answer,
// instead of a silent replay.
func (c *ReplayCache) Seen(jkt, jti string, iat, now time.Time) bool {
	c.init()
	k := c.key(jkt, jti)
	// Work from now and the (saturating) distance to iat, so that no iat
	// can overflow the nanosecond arithmetic.
	d := int64(iat.Sub(now))
	if d < -c.window || d > c.window {
		return true
	}
	nowN := now.UnixNano()
	exp := nowN + d + c.window
	sh := &c.shards[k[0]%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[replayKey]int64)
		sh.nextSweep = nowN + c.window/2
	}
	if e, ok := sh.m[k]; ok {
		if e >= nowN {
			return true
		}
		sh.m[k] = exp // an expired entry: reuse its slot
		return false
	}
	if nowN >= sh.nextSweep {
		sh.sweep(nowN)
		sh.nextSweep = nowN + c.window/2
	}
	if len(sh.m) >= c.perShard {
		if nowN-sh.lastFull < int64(fullSweepInterval) {
			return true
		}
		sh.lastFull = nowN
		sh.sweep(nowN)
		if len(sh.m) >= c.perShard {
			return true
		}
	}
	sh.m[k] = exp
	return false
}

// Expiry is when the entry of a proof issued at iat ends: the time until
// which a shared store must remember it too.
func (c *ReplayCache) Expiry(iat time.Time) time.Time {
	c.init()
	return iat.Add(time.Duration(c.window))
}

// ReplayID is the SHA-256 of the pair (jkt, jti), jkt length-prefixed so
// that no two pairs give one input: what a shared store keeps of a proof.
func ReplayID(jkt, jti string) []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(jkt)))
	h.Write(n[:])
	h.Write([]byte(jkt))
	h.Write([]byte(jti))
	return h.Sum(nil)
}

// Len returns the number of entries held, expired ones not yet swept
// included: a gauge for metrics. A value near MaxEntries means new proofs
// are being refused.
func (c *ReplayCache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (sh *replayShard) sweep(nowN int64) {
	for k, e := range sh.m {
		if e < nowN {
			delete(sh.m, k)
		}
	}
}

func (c *ReplayCache) key(jkt, jti string) replayKey {
	var k replayKey
	var h maphash.Hash
	for i, seed := range c.seeds {
		h.SetSeed(seed)
		// Length-prefix jkt so that no two (jkt, jti) pairs hash the same input.
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(jkt)))
		h.Write(n[:])
		h.WriteString(jkt)
		h.WriteString(jti)
		k[i] = h.Sum64()
	}
	return k
}
