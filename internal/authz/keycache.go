package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

// keyLookup is all the request path needs of the store.
type keyLookup interface {
	KeyByID(ctx context.Context, id string) (*apikey.Key, error)
	Membership(ctx context.Context, userID, accountID string) (*account.Membership, error)
}

// keyEntry is a key as the request path believes it, with the powers its
// creator's membership leaves it, read together and believed for as long.
type keyEntry struct {
	// key is the stored key, except that its Scopes are the effective
	// ones: its own, intersected with what its creator's current role on
	// its account allows ([apikey.RoleScopes]). A demoted member's keys
	// lose what the member lost, as the member's sessions do. Never
	// modified once cached: readers share it.
	key     apikey.Key
	scopes  string // key.Scopes.String(), for the identity header
	fetched time.Time
	// suspended: the creator is no longer a member of the key's account.
	// The key is refused until the membership is back; an operator's keys
	// are never suspended.
	suspended bool
}

// maxMissing bounds the ids remembered as unknown; past it the set is
// emptied, so a flood of made-up keys costs memory once.
const maxMissing = 4096

// Lookups returns how many keys (or ids known to be unknown) were found in
// the cache and how many were read from the store, since the start.
func (k *Keys) Lookups() (hits, misses uint64) { return k.hits.Load(), k.misses.Load() }

// Resolve returns the key that p names if it authenticates a request from
// addr now: it exists, p's secret matches its hash (in constant time), it
// is usable and addr is in its allowlist. Otherwise the error wraps
// [ErrInvalidKey] with the reason; a store failure is returned as is. The
// use is recorded for [Keys.Flush]. A key whose creator is no longer a
// member of its account is suspended, and refused; one a freeze suspended
// is refused with [ErrKeyFrozen].
//
// The returned key's Scopes, and the scope string, are its effective
// scopes: its own, bounded by its creator's current role on the account.
// Both are shared with the cache and must not be modified. On a cache hit
// Resolve does not allocate.
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
	if stale && !unknown {
		k.misses.Add(1)
	} else {
		k.hits.Add(1)
	}
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
	if !key.FrozenAt.IsZero() {
		return nil, "", fmt.Errorf("%w: key %s", ErrKeyFrozen, key.ID)
	}
	if e.suspended {
		return nil, "", fmt.Errorf("%w: key %s: suspended: its creator is no longer a member of account %s", ErrInvalidKey, key.ID, key.AccountID)
	}
	if !key.AllowsAddr(addr) {
		return nil, "", fmt.Errorf("%w: key %s used from %v, outside its allowlist", ErrInvalidKey, key.ID, addr)
	}
	k.record(key, addr, now)
	return key, e.scopes, nil
}

// fetch reads a key, and its creator's membership of its account, from
// the store into the cache.
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
	e := &keyEntry{key: *key, fetched: now}
	if by := trailOf(key.CreatedBy); by != "" {
		m, err := k.lookup.Membership(ctx, by, key.AccountID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.suspended, e.key.Scopes = true, 0
		case err != nil:
			return nil, fmt.Errorf("authz: read the membership of key %s's creator: %w", key.ID, err)
		default:
			e.key.Scopes &= apikey.RoleScopes(m.Role)
		}
	}
	e.scopes = e.key.Scopes.String()
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

// ForgetAll empties the cache, for when revocations may have been lost.
func (k *Keys) ForgetAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.byID)
	clear(k.missing)
}

// forgetCreator drops from the cache the keys userID created on
// accountID, so that a change to the membership bounding them is seen by
// the very next request.
func (k *Keys) forgetCreator(userID, accountID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, e := range k.byID {
		if e.key.CreatedBy == userID && e.key.AccountID == accountID {
			delete(k.byID, id)
		}
	}
}
