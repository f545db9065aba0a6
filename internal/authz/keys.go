package authz

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
)

// Errors of the key service. The HTTP layer maps them to statuses; the
// wrapped detail is for the log.
var (
	// ErrInvalidKey is the one answer (401) for a key that does not
	// authenticate, whatever the reason: unknown, wrong secret, revoked,
	// expired, rotated out, or used from outside its allowlist. A probe
	// learns nothing about how close it came.
	ErrInvalidKey = fault.New(fault.Unauthenticated, "authz: invalid api key")
	// ErrNoAccount: the account does not exist or the caller is not a
	// member of it; the two are not told apart.
	ErrNoAccount = fault.New(fault.NotFound, "authz: no such account")
	// ErrNoKey: the key does not exist or belongs to another account.
	ErrNoKey = fault.New(fault.NotFound, "authz: no such key")
	// ErrKeyState wraps apikey.ErrRevoked, ErrRotated or ErrExpired when a
	// key cannot be rotated or revoked in its present state.
	ErrKeyState = fault.New(fault.KeyState, "authz: the key cannot change in its present state")
	// ErrKeyFrozen refuses a key suspended by a freeze of its creator. It
	// is of kind [fault.Frozen] and wraps [ErrInvalidKey]; only a caller
	// holding the key's secret is told.
	ErrKeyFrozen error = keyFrozenError{}
)

type keyFrozenError struct{}

func (keyFrozenError) Error() string    { return "authz: key suspended: its creator is frozen" }
func (keyFrozenError) Kind() fault.Kind { return fault.Frozen }
func (keyFrozenError) Unwrap() error    { return ErrInvalidKey }

// Actor is who asks for a key change: a member's session, or an operator
// at the command line (Session nil), who skips role and step-up checks
// but not the validation of the key itself. It is [session.Actor], the
// one every flow takes.
type Actor = session.Actor

// Issued is a key just created or rotated, with its secret.
type Issued struct {
	Key apikey.Key
	// Secret is the whole key. It is shown to its owner once, in the
	// answer to the create or rotate request, and never stored or logged.
	Secret string
	// Shortened reports that the key lives less than asked because it can
	// trade live without an allowlist.
	Shortened bool
	// OverlapEndsAt, after a rotation, is when the replaced key stops
	// working.
	OverlapEndsAt time.Time
}

// KeysConfig configures [NewKeys].
type KeysConfig struct {
	Store  store.Store
	Limits apikey.Limits
	// StepUpWindow is how recent a session's last strong proof must be
	// for the changes [RequiredAssurance] guards.
	StepUpWindow time.Duration
	// MaxAge bounds how long a key read from the store is believed before
	// it is read again: the bound on how late a revocation made elsewhere
	// (the command line, another instance) takes effect here.
	MaxAge time.Duration
	// DormantSweep is how often Run looks for dormant keys; zero means
	// hourly.
	DormantSweep time.Duration
	Now          func() time.Time // nil means time.Now
	Rand         io.Reader        // nil means crypto/rand.Reader
	Log          *slog.Logger     // nil discards
}

// Keys creates, rotates, revokes and lists API keys, and resolves the key
// of a forward-auth request through an in-memory cache.
//
// The cache holds keys by id for at most MaxAge; a change made through
// this Keys is seen by the very next request. Uses are recorded in memory
// and written in batches by Flush, off the request path, with the audit
// event of a key's first use from a new address. Run owns the background
// work; a Keys is safe for concurrent use.
type Keys struct {
	store        store.Store
	lookup       keyLookup
	limits       apikey.Limits
	stepUpWindow time.Duration
	maxAge       time.Duration
	sweepEvery   time.Duration
	now          func() time.Time
	rand         io.Reader
	log          *slog.Logger
	// signals holds the security signals' rules, which a session must
	// meet to mint or widen a live key (see UseSignals); nil for none.
	signals atomic.Pointer[signal.InForce]

	// hits and misses count the look-ups answered from the cache and
	// from the store, for the metrics.
	hits, misses atomic.Uint64

	mu      sync.Mutex
	byID    map[string]*keyEntry // key id → key as read from the store
	missing map[string]time.Time // ids the store did not know, and when
	pending map[string]*keyUse   // uses not yet written, by key id
}

// UseSignals makes minting, rotating and widening a live key meet the
// rules of the security signals in force, as forward-auth makes a
// session's trading meet them: a session a signal asks to step up must,
// and a user who owes a security key past its deadline mints none. A key
// must not carry past a signal what its session could not do.
func (k *Keys) UseSignals(in *signal.InForce) { k.signals.Store(in) }

// NewKeys returns the key service.
func NewKeys(c KeysConfig) *Keys {
	k := &Keys{store: c.Store, lookup: c.Store, limits: c.Limits, stepUpWindow: c.StepUpWindow, maxAge: c.MaxAge,
		sweepEvery: c.DormantSweep, now: c.Now, rand: c.Rand, log: c.Log,
		byID: map[string]*keyEntry{}, missing: map[string]time.Time{}, pending: map[string]*keyUse{}}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.sweepEvery <= 0 {
		k.sweepEvery = time.Hour
	}
	return k
}

// trailOf is the user whose audit trail an event about a key joins: its
// creator, unless an operator made it.
func trailOf(createdBy string) string {
	if createdBy == "admin" {
		return ""
	}
	return createdBy
}

// KeyStatus names a key's state at now: active, rotating (replaced, in
// its overlap), suspended (its creator left the account), rotated,
// expired or revoked.
func KeyStatus(k *apikey.Key, now time.Time) string {
	switch err := k.Usable(now); {
	case errors.Is(err, apikey.ErrRevoked):
		return "revoked"
	case errors.Is(err, apikey.ErrRotated):
		return "rotated"
	case errors.Is(err, apikey.ErrExpired):
		return "expired"
	case k.Suspended, !k.FrozenAt.IsZero():
		return "suspended"
	case k.SuccessorID != "":
		return "rotating"
	}
	return "active"
}
