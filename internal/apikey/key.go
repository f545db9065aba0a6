package apikey

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"gatehouse/internal/account"
)

// Errors from [Key.Usable], [Key.Rotate] and [Key.Revoke].
var (
	ErrExpired   = errors.New("apikey: expired")
	ErrRevoked   = errors.New("apikey: revoked")
	ErrRotated   = errors.New("apikey: replaced by its successor")
	ErrAssurance = errors.New("apikey: transfers:write needs AAL3")
	// ErrFrozen: the key is suspended while its creator is frozen.
	ErrFrozen = errors.New("apikey: suspended while its creator is frozen")
)

// RevokeReason says why a key was revoked; it is shown to the owner and
// written to the audit trail.
type RevokeReason string

// Reasons for revocation.
const (
	RevokedByUser   RevokeReason = "user"    // the owner or a trader revoked it
	RevokedByAdmin  RevokeReason = "admin"   // an operator revoked it
	RevokedDormant  RevokeReason = "dormant" // unused for [Limits.DormantAfter]
	RevokedBySignal RevokeReason = "signal"  // a security signal's playbook revoked it
)

// Key is a stored API key. It holds the hash of the secret, never the
// secret.
type Key struct {
	ID          string // the public identifier embedded in the key
	AccountID   string
	Name        string // the owner's label, e.g. "momentum bot on vm-3"
	Environment account.Environment
	Scopes      Scopes
	// AllowIPs, when not empty, are the only networks the key may be used
	// from. Prefixes are masked and IPv4 ones are plain IPv4, never
	// IPv4-mapped IPv6 (see [Request.Validate]).
	AllowIPs   []netip.Prefix
	SecretHash []byte // SHA-256 of the secret, see [HashSecret]

	CreatedBy string // user ID of the creator
	// SessionID is the session that minted the key (created it, or
	// rotated its predecessor); empty for an operator's keys. A key
	// outlives its session: when that session is later ended as
	// untrusted, the key is offered for review.
	SessionID string
	// Suspended is not stored: package authz sets it on a key it lists
	// when the key's creator is no longer a member of its account, which
	// makes forward-auth refuse the key until the membership is back.
	Suspended bool
	CreatedAt time.Time
	ExpiresAt time.Time

	// LastUsedAt and LastUsedIP are zero until the key is first used.
	LastUsedAt time.Time
	LastUsedIP netip.Addr

	RevokedAt    time.Time // zero unless revoked
	RevokeReason RevokeReason
	// FrozenAt is when a freeze of its creator suspended the key, zero
	// when it is not suspended. A suspended key is refused (see
	// [ErrFrozen]) until the creator unfreezes; unlike a revocation, the
	// suspension is lifted then.
	FrozenAt time.Time
	// ApprovalRequired makes every transfer of the key wait for its
	// owner's approval (docs/approvals.md), whatever the route rule says:
	// a bot may place orders within its scopes, but money leaves only
	// with the owner's phone or security key. Rotation keeps it.
	ApprovalRequired bool
	// HoldOnNewNetwork refuses a [Key.Watched] key on a network it has not
	// been used from (its first excepted) until the owner approves that
	// network (see [Network]). Rotation keeps it.
	HoldOnNewNetwork bool

	// SuccessorID is set on a key that was rotated, PredecessorID on the
	// key that replaced it. OverlapEndsAt, set with SuccessorID, is when
	// the old key stops working: until then both keys work, so the owner
	// can redeploy without downtime.
	SuccessorID   string
	PredecessorID string
	OverlapEndsAt time.Time
}

// Usable returns nil if k may authenticate a request at now, or why not:
// [ErrRevoked], [ErrRotated] (its rotation overlap is over) or
// [ErrExpired]. A key with no expiry time counts as expired: every key has
// one, so a zero value is a bug and must fail closed.
func (k *Key) Usable(now time.Time) error {
	switch {
	case !k.RevokedAt.IsZero():
		return ErrRevoked
	case k.SuccessorID != "" && !now.Before(k.OverlapEndsAt):
		return ErrRotated
	case !now.Before(k.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// AllowsAddr reports whether k may be used from addr. An empty allowlist
// allows every address. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1, as a
// dual-stack listener reports IPv4 peers) are unmapped first so that they
// match IPv4 prefixes, and a zone is dropped; an invalid addr is refused
// whenever there is an allowlist.
func (k *Key) AllowsAddr(addr netip.Addr) bool {
	if len(k.AllowIPs) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range k.AllowIPs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Dormant reports whether k has gone unused for at least after, counting
// from its last use or, if never used, from its creation: such a key is
// revoked automatically ([RevokedDormant]). A revoked key is not dormant
// (there is nothing left to do), nor is any key when after is zero or
// less, which turns the rule off.
func (k *Key) Dormant(now time.Time, after time.Duration) bool {
	if after <= 0 || !k.RevokedAt.IsZero() {
		return false
	}
	last := k.LastUsedAt
	if last.IsZero() {
		last = k.CreatedAt
	}
	return now.Sub(last) >= after
}

// Revoke marks k revoked at now for reason. It returns [ErrRevoked] if k
// already is, leaving the first revocation's time and reason.
func (k *Key) Revoke(reason RevokeReason, now time.Time) error {
	if !k.RevokedAt.IsZero() {
		return ErrRevoked
	}
	k.RevokedAt, k.RevokeReason = now, reason
	return nil
}

// Rotate makes k's successor from tok, a token just made by [Generate],
// for the user by who holds assurance aal, and starts the overlap: k keeps
// working until now + l.RotationOverlap (never past its own expiry) and
// then fails with [ErrRotated].
//
// The successor has k's account, name, scopes and allowlist, and k's
// lifetime again from now, clamped by today's limits, so that tightened
// limits reach rotated keys. Rotating a transfers:write key mints a new
// money-moving secret, so it needs AAL3 like creating one.
//
// Rotate fails, leaving k unchanged, if k is not usable, already has a
// successor ([ErrRotated]), is suspended ([ErrFrozen]), tok is empty or for the other environment
// ([ErrEnvironment]) or aal is too low ([ErrAssurance]).
func (k *Key) Rotate(tok Token, by string, aal int, l Limits, now time.Time) (Key, error) {
	if k.SuccessorID != "" {
		return Key{}, ErrRotated
	}
	if !k.FrozenAt.IsZero() {
		return Key{}, ErrFrozen
	}
	if err := k.Usable(now); err != nil {
		return Key{}, err
	}
	if tok.Environment != k.Environment || tok.ID == "" {
		return Key{}, ErrEnvironment
	}
	if k.Scopes.Has(TransfersWrite) && aal < 3 {
		return Key{}, ErrAssurance
	}
	ttl, _ := l.clamp(k.ExpiresAt.Sub(k.CreatedAt), k.Environment, k.Scopes, len(k.AllowIPs) > 0)
	next := Key{
		ID:            tok.ID,
		AccountID:     k.AccountID,
		Name:          k.Name,
		Environment:   k.Environment,
		Scopes:        k.Scopes,
		AllowIPs:      slices.Clone(k.AllowIPs),
		SecretHash:    slices.Clone(tok.Hash),
		CreatedBy:     by,
		CreatedAt:     now,
		ExpiresAt:     now.Add(ttl),
		PredecessorID: k.ID,

		ApprovalRequired: k.ApprovalRequired,
		HoldOnNewNetwork: k.HoldOnNewNetwork,
	}
	end := now.Add(max(l.RotationOverlap, 0))
	if end.After(k.ExpiresAt) {
		end = k.ExpiresAt
	}
	k.SuccessorID, k.OverlapEndsAt = next.ID, end
	return next, nil
}
