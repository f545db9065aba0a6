package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

// keyLookup is all the request path needs of the store.
type keyLookup interface {
	KeyByID(ctx context.Context, id string) (*apikey.Key, error)
}

type keyEntry struct {
	key     apikey.Key // never modified once cached: readers share it
	scopes  string     // key.Scopes.String(), for the identity header
	fetched time.Time
}

// maxMissing bounds the ids remembered as unknown; past it the set is
// emptied, so a flood of made-up keys costs memory once.
const maxMissing = 4096

// Resolve returns the key that p names if it authenticates a request from
// addr now: it exists, p's secret matches its hash (in constant time), it
// is usable and addr is in its allowlist. Otherwise the error wraps
// [ErrInvalidKey] with the reason; a store failure is returned as is. The
// use is recorded for [Keys.Flush].
//
// The returned key and scope string are shared with the cache and must
// not be modified. On a cache hit Resolve does not allocate.
func (k *Keys) Resolve(ctx context.Context, p apikey.Parsed, addr netip.Addr) (*apikey.Key, string, error) {
	now := k.now()
	k.mu.Lock()
	e := k.byID[p.ID]
	stale := e == nil || now.Sub(e.fetched) > k.maxAge
	unknown := false
	if stale {
		at, ok := k.missing[p.ID]
		unknown = ok && now.Sub(at) <= k.maxAge
	}
	k.mu.Unlock()
	if unknown {
		return nil, "", fmt.Errorf("%w: unknown id", ErrInvalidKey)
	}
	if stale {
		var err error
		if e, err = k.fetch(ctx, p.ID, now); err != nil {
			return nil, "", err
		}
	}

	// The reasons name the key: its id is public, and a wrong secret or
	// a use from outside the allowlist is what a leak looks like in the log.
	key := &e.key
	if !p.Matches(key.SecretHash) {
		return nil, "", fmt.Errorf("%w: key %s: wrong secret", ErrInvalidKey, key.ID)
	}
	if err := key.Usable(now); err != nil {
		return nil, "", fmt.Errorf("%w: key %s: %w", ErrInvalidKey, key.ID, err)
	}
	if !key.AllowsAddr(addr) {
		return nil, "", fmt.Errorf("%w: key %s used from %v, outside its allowlist", ErrInvalidKey, key.ID, addr)
	}
	k.record(key, addr, now)
	return key, e.scopes, nil
}

// fetch reads a key from the store into the cache.
func (k *Keys) fetch(ctx context.Context, id string, now time.Time) (*keyEntry, error) {
	key, err := k.lookup.KeyByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		k.mu.Lock()
		if len(k.missing) >= maxMissing {
			clear(k.missing)
		}
		k.missing[strings.Clone(id)] = now
		k.mu.Unlock()
		return nil, fmt.Errorf("%w: unknown id", ErrInvalidKey)
	}
	if err != nil {
		return nil, fmt.Errorf("authz: read key: %w", err)
	}
	e := &keyEntry{key: *key, scopes: key.Scopes.String(), fetched: now}
	k.mu.Lock()
	k.byID[key.ID] = e
	delete(k.missing, key.ID)
	k.mu.Unlock()
	return e, nil
}

// Forget drops keys from the cache, so that a change to them is seen by
// the very next request.
func (k *Keys) Forget(ids ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		delete(k.byID, id)
		delete(k.missing, id)
	}
}
