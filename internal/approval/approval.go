// Package approval is the owner's consent to one transaction: an order, a
// transfer, a change of the withdrawal bank account, a live key, a
// trading permission. The consent is bound to the SHA-256 of the
// transaction's canonical details ([Canonical], [Hash]) and given on a
// device the browser does not control: the phone authenticator signs
// the hash with its device key ([PhoneMessage]), or a security key signs
// a WebAuthn challenge that commits to it ([WebAuthnChallenge]). Once
// approved, gatehouse issues a short single-use [Token] that forward-auth
// checks and an upstream can verify offline.
//
// The package is pure: types, canonical form, words, wire formats and
// token signing. Persistence is package store's; the flow is authz's.
package approval

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what an approval is for.
type Kind string

// The kinds.
const (
	Order             Kind = "order"
	Transfer          Kind = "transfer"
	BankAccountChange Kind = "bank_account_change"
	LiveKey           Kind = "live_key"
	Permission        Kind = "permission"
)

// Kinds lists every kind, in the order the documentation gives them.
var Kinds = []Kind{Order, Transfer, BankAccountChange, LiveKey, Permission}

// ErrKind reports a kind that is none of [Kinds].
var ErrKind = errors.New("approval: unknown kind (want order, transfer, bank_account_change, live_key or permission)")

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", ErrKind
}

// Status is the state of an approval.
type Status string

// The states. Pending goes to Approved, Denied or Expired; Approved goes
// to Used when forward-auth accepts its token, or stays Approved (and
// its token expires) when nobody uses it.
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Denied   Status = "denied"
	Expired  Status = "expired"
	Used     Status = "used"
)

// Defaults.
const (
	// DefaultLifetime is how long an approval waits for the owner.
	DefaultLifetime = 5 * time.Minute
	// DefaultTokenLifetime is how long an approval token lives after the
	// approval.
	DefaultTokenLifetime = 2 * time.Minute
	// DefaultMaxPending is how many approvals a user may have waiting,
	// as for pushes: a flood of requests must not bury the real one.
	DefaultMaxPending = 5
	// NonceSize is the size of the server nonce a WebAuthn challenge
	// mixes with the hash.
	NonceSize = 32
)

// Approval is one transaction waiting for, or given, its owner's consent.
//
// Security invariant: Details is the canonical form the owner is shown
// and Hash is its SHA-256; they never change after creation, so what
// the owner approves is what the token names.
type Approval struct {
	ID        string
	UserID    string // whose consent: the owner the approval waits for
	AccountID string
	Kind      Kind
	Details   []byte // canonical form ([Canonical])
	Hash      string // [HashCanonical] of Details
	// Nonce is the server's random part of the WebAuthn challenge.
	Nonce []byte
	// RequestedBy is who asked: a session id, or an API key id.
	RequestedBy string
	Status      Status
	CreatedAt   time.Time
	ExpiresAt   time.Time // of the pending request
	// DecidedAt, FactorID, FactorKind and AAL say who decided, with what
	// and at which assurance; zero while pending.
	DecidedAt  time.Time
	FactorID   string
	FactorKind string
	AAL        int
	UsedAt     time.Time
}

// State returns the status as a client sees it at now: a pending
// approval past its expiry is Expired.
func (a *Approval) State(now time.Time) Status {
	if a.Status == Pending && !now.Before(a.ExpiresAt) {
		return Expired
	}
	return a.Status
}

// TokenExpiry returns when an approval token minted for a (approved at
// DecidedAt) stops being accepted.
func (a *Approval) TokenExpiry(lifetime time.Duration) time.Time {
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	return a.DecidedAt.Add(lifetime)
}

// String describes the approval for logs, without its details.
func (a *Approval) String() string {
	return fmt.Sprintf("approval %s (%s on %s, %s)", a.ID, a.Kind, a.AccountID, a.Status)
}
