package store

import (
	"context"
	"net/netip"
	"time"

	"gatehouse/internal/apikey"
)

// Keys persists API keys. It stores hashes of their secrets, never the
// secrets, and decides nothing: validity, rotation and dormancy are rules
// of package apikey, applied by the caller.
type Keys interface {
	// CreateKey stores a new key; ErrConflict if its id is taken,
	// ErrNotFound if its account does not exist.
	CreateKey(ctx context.Context, k *apikey.Key) error
	// KeyByID returns the key with the public identifier id.
	KeyByID(ctx context.Context, id string) (*apikey.Key, error)
	// KeysOfAccount lists every key of an account, revoked and expired
	// ones included, newest first.
	KeysOfAccount(ctx context.Context, accountID string) ([]*apikey.Key, error)
	// UnrevokedKeys lists every key not revoked, oldest first, for the
	// dormant-key sweep.
	UnrevokedKeys(ctx context.Context) ([]*apikey.Key, error)
	// SetKeySuccessor records that the key id was rotated to successorID
	// and keeps working until overlapEnds. It is a compare-and-set:
	// ErrConflict when the key is revoked or has a successor already (a
	// concurrent rotation won), ErrNotFound when there is no such key.
	SetKeySuccessor(ctx context.Context, id, successorID string, overlapEnds time.Time) error
	// RevokeKey marks a key revoked at now for reason; ErrNotFound when it
	// is unknown or revoked already.
	RevokeKey(ctx context.Context, id string, now time.Time, reason apikey.RevokeReason) error
	// KeyNetwork returns the network of key keyID named network;
	// ErrNotFound when the key was never used from it.
	KeyNetwork(ctx context.Context, keyID, network string) (*apikey.Network, error)
	// KeyNetworks lists the networks a key was used from, oldest first.
	KeyNetworks(ctx context.Context, keyID string) ([]*apikey.Network, error)
	// AddKeyNetwork records the first use of key keyID from network, from
	// address ip at at, and returns the network as stored and whether this
	// call added it (false: another instance did first). The key's first
	// network, and every network when hold is false, is approved at once;
	// any other waits for ApproveKeyNetwork. Deciding "first" and adding
	// are one step, so two instances cannot both add a first network.
	AddKeyNetwork(ctx context.Context, keyID, network string, ip netip.Addr, at time.Time, hold bool) (n *apikey.Network, added bool, err error)
	// ApproveKeyNetwork approves a held network of a key at at, by by;
	// ErrNotFound when the key has no such held network.
	ApproveKeyNetwork(ctx context.Context, keyID, network string, at time.Time, by string) error
	// TouchKey records a use of the key from addr at at: the last-used
	// time and address move forward only (an older use in a late batch
	// changes nothing), and the address joins the key's set of addresses.
	// It reports whether the key had never been used from addr before.
	// ErrNotFound when there is no such key.
	TouchKey(ctx context.Context, id string, addr netip.Addr, at time.Time) (newAddr bool, err error)
	// FreezeKeysOf suspends, at at, every key userID created that is
	// neither revoked nor suspended already, and returns their ids.
	FreezeKeysOf(ctx context.Context, userID string, at time.Time) ([]string, error)
	// ThawKeysOf lifts the suspension of every key of userID that a freeze
	// suspended, and returns the ids of those not revoked meanwhile: the
	// keys that work again. A key revoked before the freeze was never
	// suspended, so it stays revoked.
	ThawKeysOf(ctx context.Context, userID string) ([]string, error)
}
