package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// Errors of the key service. The HTTP layer maps them to statuses; the
// wrapped detail is for the log.
var (
	// ErrInvalidKey is the one answer (401) for a key that does not
	// authenticate, whatever the reason: unknown, wrong secret, revoked,
	// expired, rotated out, or used from outside its allowlist. A probe
	// learns nothing about how close it came.
	ErrInvalidKey = errors.New("authz: invalid api key")
	// ErrNoAccount: the account does not exist or the caller is not a
	// member of it; the two are not told apart.
	ErrNoAccount = errors.New("authz: no such account")
	// ErrNoKey: the key does not exist or belongs to another account.
	ErrNoKey = errors.New("authz: no such key")
	// ErrKeyState wraps apikey.ErrRevoked, ErrRotated or ErrExpired when a
	// key cannot be rotated or revoked in its present state.
	ErrKeyState = errors.New("authz: the key cannot change in its present state")
)

// ForbiddenError refuses a key change the caller's role does not allow.
type ForbiddenError struct {
	Reason string // for the client, e.g. "a viewer cannot manage keys"
}

// Error returns the reason, for the log.
// Error returns the reason, for the log.
func (e *ForbiddenError) Error() string { return "authz: forbidden: " + e.Reason }

// StepUpError asks the caller to raise its session's assurance: it must
// hold at least Required, proven within MaxAge.
type StepUpError struct {
	Required session.Assurance
	MaxAge   time.Duration
}

// Error names what the session must prove.
func (e *StepUpError) Error() string {
	return fmt.Sprintf("authz: step-up to %v within %v required", e.Required, e.MaxAge)
}

// RequiredAssurance returns the assurance a session needs, proven
// recently, to create or rotate a key with scopes s on an account in env
// for a user of profile p; zero when any session will do.
//
//   - transfers:write moves money out: AAL3, in any environment;
//   - a live key that can trade: AAL2, or AAL3 for professional traders,
//     whose workstations host the automation such keys serve;
//   - anything else (paper keys, read-only keys): no step-up.
func RequiredAssurance(env account.Environment, s apikey.Scopes, p user.Profile) session.Assurance {
	switch {
	case s.Has(apikey.TransfersWrite):
		return session.AAL3
	case env == account.Live && s.CanTrade() && p == user.Professional:
		return session.AAL3
	case env == account.Live && s.CanTrade():
		return session.AAL2
	}
	return 0
}

// Actor is who asks for a key change: a member's session, or an operator
// at the command line (Session nil), who skips role and step-up checks
// but not the validation of the key itself.
type Actor struct {
	Session *session.Session
	IP      string
}

func (a Actor) operator() bool { return a.Session == nil }

// id is the actor's audit identity: the user id, or "admin".
func (a Actor) id() string {
	if a.Session == nil {
		return "admin"
	}
	return a.Session.UserID
}

func (a Actor) iface() string {
	if a.Session == nil {
		return ""
	}
	return string(a.Session.Interface)
}

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

	mu      sync.Mutex
	byID    map[string]*keyEntry // key id → key as read from the store
	missing map[string]time.Time // ids the store did not know, and when
	pending map[string]*keyUse   // uses not yet written, by key id
}

// keyLookup is all the request path needs of the store.
type keyLookup interface {
	KeyByID(ctx context.Context, id string) (*apikey.Key, error)
}

type keyEntry struct {
	key     apikey.Key // never modified once cached: readers share it
	scopes  string     // key.Scopes.String(), for the identity header
	fetched time.Time
}

// maxAddrsPerBatch bounds the distinct addresses remembered for one key
// between two flushes; more are recorded at their next use.
const maxAddrsPerBatch = 16

// maxMissing bounds the ids remembered as unknown; past it the set is
// emptied, so a flood of made-up keys costs memory once.
const maxMissing = 4096

type keyUse struct {
	at        time.Time
	last      netip.Addr   // the address of the use at at
	addrs     []netip.Addr // every address used from, in order of first use
	accountID string
	owner     string // the key's creator, whose trail the events join
}

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

// record notes a use of key from addr at now, for the next flush.
func (k *Keys) record(key *apikey.Key, addr netip.Addr, now time.Time) {
	addr = addr.Unmap()
	k.mu.Lock()
	defer k.mu.Unlock()
	u := k.pending[key.ID]
	if u == nil {
		u = &keyUse{accountID: key.AccountID, owner: key.CreatedBy}
		k.pending[key.ID] = u
	}
	if !now.Before(u.at) {
		u.at, u.last = now, addr
	}
	if addr.IsValid() && !slices.Contains(u.addrs, addr) && len(u.addrs) < maxAddrsPerBatch {
		u.addrs = append(u.addrs, addr)
	}
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

// Flush writes the recorded uses to the store in one transaction: each
// key's last-used time and address, and an [audit.KeyNewAddress] event
// for each address a key had never been used from. On failure the uses
// are kept for the next flush. Flush also drops cache entries that no
// request needs any more, so the cache does not grow with every key ever
// seen.
func (k *Keys) Flush(ctx context.Context) error {
	now := k.now()
	k.mu.Lock()
	batch := k.pending
	k.pending = map[string]*keyUse{}
	for id, e := range k.byID {
		if now.Sub(e.fetched) > k.maxAge {
			if _, used := batch[id]; !used {
				delete(k.byID, id)
			}
		}
	}
	for id, at := range k.missing {
		if now.Sub(at) > k.maxAge {
			delete(k.missing, id)
		}
	}
	k.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := k.store.InTx(ctx, func(tx store.Tx) error {
		// In id order, so that instances flushing overlapping batches
		// lock rows in one order.
		for _, id := range slices.Sorted(maps.Keys(batch)) {
			u := batch[id]
			addrs := u.addrs
			if len(addrs) == 0 {
				addrs = []netip.Addr{{}}
			}
			for _, a := range addrs {
				fresh, err := tx.TouchKey(ctx, id, a, u.at)
				if errors.Is(err, store.ErrNotFound) {
					break // cannot happen: keys are never deleted
				}
				if err != nil {
					return err
				}
				if fresh {
					if err := tx.AppendAudit(ctx, &audit.Event{Time: u.at, Type: audit.KeyNewAddress, UserID: trailOf(u.owner), Actor: "system",
						Interface: "api", IP: a.String(), Detail: map[string]string{"account": u.accountID, "key": id, "ip": a.String()}}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		k.mu.Lock()
		for id, u := range batch {
			if p := k.pending[id]; p != nil {
				for _, a := range p.addrs {
					if !slices.Contains(u.addrs, a) && len(u.addrs) < maxAddrsPerBatch {
						u.addrs = append(u.addrs, a)
					}
				}
				if p.at.After(u.at) {
					u.at, u.last = p.at, p.last
				}
			}
			k.pending[id] = u
		}
		k.mu.Unlock()
		return fmt.Errorf("authz: record key uses: %w", err)
	}
	return nil
}

// trailOf is the user whose audit trail an event about a key joins: its
// creator, unless an operator made it.
func trailOf(createdBy string) string {
	if createdBy == "admin" {
		return ""
	}
	return createdBy
}

// Run flushes recorded uses every interval and revokes dormant keys every
// DormantSweep (and once shortly after it starts), until ctx ends; then it
// flushes once more and returns.
func (k *Keys) Run(ctx context.Context, interval time.Duration) {
	flush := time.NewTicker(interval)
	defer flush.Stop()
	sweep := time.NewTimer(min(interval*5, k.sweepEvery))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := k.Flush(context.WithoutCancel(ctx)); err != nil {
				k.log.Error("flush key uses", "err", err)
			}
			return
		case <-flush.C:
			if err := k.Flush(ctx); err != nil {
				k.log.Error("flush key uses", "err", err)
			}
		case <-sweep.C:
			if n, err := k.RevokeDormant(ctx); err != nil {
				k.log.Error("revoke dormant keys", "err", err, "revoked", n)
			} else if n > 0 {
				k.log.Info("revoked dormant keys", "revoked", n)
			}
			sweep.Reset(k.sweepEvery)
		}
	}
}

// RevokeDormant revokes every usable key unused for Limits.DormantAfter,
// each with its [audit.KeyRevoked] event (reason dormant) in the same
// transaction, and returns how many it revoked. A use recorded but not
// yet flushed counts as a use.
func (k *Keys) RevokeDormant(ctx context.Context) (int, error) {
	after := k.limits.DormantAfter
	if after <= 0 {
		return 0, nil
	}
	keys, err := k.store.UnrevokedKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("authz: list keys: %w", err)
	}
	now := k.now()
	n := 0
	var errs []error
	for _, key := range keys {
		if key.Usable(now) != nil || !key.Dormant(now, after) {
			continue
		}
		k.mu.Lock()
		u := k.pending[key.ID]
		k.mu.Unlock()
		if u != nil {
			continue
		}
		last := key.LastUsedAt
		err := k.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.RevokeKey(ctx, key.ID, now, apikey.RevokedDormant); err != nil {
				return err
			}
			d := map[string]string{"account": key.AccountID, "key": key.ID, "reason": string(apikey.RevokedDormant)}
			if last.IsZero() {
				d["last_used_at"] = "never"
			} else {
				d["last_used_at"] = last.UTC().Format(time.RFC3339)
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRevoked, UserID: trailOf(key.CreatedBy), Actor: "system", Detail: d})
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Revoked meanwhile by someone else.
		case err != nil:
			errs = append(errs, fmt.Errorf("key %s: %w", key.ID, err))
		default:
			n++
		}
		k.Forget(key.ID)
	}
	return n, errors.Join(errs...)
}

// authorize checks that the actor may manage the keys of accountID and
// returns the account and the actor's role ("" for an operator).
func (k *Keys) authorize(ctx context.Context, a Actor, accountID string, manage bool) (*account.Account, account.Role, error) {
	acct, err := k.store.AccountByID(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrNoAccount
	}
	if err != nil {
		return nil, "", err
	}
	if a.operator() {
		return acct, "", nil
	}
	m, err := k.store.Membership(ctx, a.Session.UserID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrNoAccount
	}
	if err != nil {
		return nil, "", err
	}
	if manage && !m.Role.CanManageKeys() {
		return nil, "", &ForbiddenError{Reason: fmt.Sprintf("a %s of account %s cannot manage its API keys", m.Role, accountID)}
	}
	return acct, m.Role, nil
}

// checkStepUp returns a [*StepUpError] unless the actor's session holds
// AAL2, and the assurance [RequiredAssurance] asks for keys with scopes s
// in env proven within the step-up window.
func (k *Keys) checkStepUp(ctx context.Context, a Actor, env account.Environment, s apikey.Scopes, now time.Time) error {
	if a.operator() {
		return nil
	}
	// Minting a credential is not for an AAL1 session (no second factor
	// yet, or a recovery code): it may read and enrol, nothing more.
	if a.Session.Assurance < session.AAL2 {
		return &StepUpError{Required: session.AAL2, MaxAge: k.stepUpWindow}
	}
	if RequiredAssurance(env, s, user.Occasional) == 0 {
		return nil // nothing more to ask, whatever the profile
	}
	u, err := k.store.UserByID(ctx, a.Session.UserID)
	if err != nil {
		return fmt.Errorf("authz: read user: %w", err)
	}
	need := RequiredAssurance(env, s, u.Profile)
	if a.Session.Assurance < need || !a.Session.Fresh(now, k.stepUpWindow) {
		return &StepUpError{Required: need, MaxAge: k.stepUpWindow}
	}
	return nil
}

// Create makes a key for accountID as req asks, on behalf of a. A
// session's user must be a member whose role can manage keys and holds
// every scope asked for, and must have stepped up where
// [RequiredAssurance] says so; an operator skips those checks, not the
// validation of req. The key and its [audit.KeyCreated] event are stored
// in one transaction.
func (k *Keys) Create(ctx context.Context, a Actor, accountID string, req apikey.Request) (*Issued, error) {
	acct, role, err := k.authorize(ctx, a, accountID, true)
	if err != nil {
		return nil, err
	}
	// Validate at AAL3: lacking assurance is the step-up check's to
	// answer, with a challenge rather than a field error.
	spec, err := req.Validate(k.limits, acct.Environment, 3)
	if err != nil {
		return nil, err
	}
	if !a.operator() {
		if over := spec.Scopes &^ apikey.RoleScopes(role); over != 0 {
			return nil, &ForbiddenError{Reason: fmt.Sprintf("a %s cannot grant %s", role, over)}
		}
	}
	now := k.now().UTC()
	if err := k.checkStepUp(ctx, a, acct.Environment, spec.Scopes, now); err != nil {
		return nil, err
	}
	tok, err := apikey.Generate(spec.Environment, k.rand)
	if err != nil {
		return nil, err
	}
	key, err := spec.NewKey(tok, acct.ID, a.id(), now)
	if err != nil {
		return nil, err
	}
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, &key); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyCreated, UserID: trailOf(a.id()), Actor: a.id(), Interface: a.iface(), IP: a.IP,
			Detail: map[string]string{"account": acct.ID, "key": key.ID, "name": key.Name, "environment": string(key.Environment),
				"scopes": key.Scopes.String(), "allow_ips": prefixList(key.AllowIPs), "expires_at": key.ExpiresAt.Format(time.RFC3339)}})
	})
	if err != nil {
		return nil, fmt.Errorf("authz: store key: %w", err)
	}
	k.Forget(key.ID)
	return &Issued{Key: key, Secret: tok.Key, Shortened: spec.Shortened}, nil
}

// Rotate replaces the key id of accountID (any account for an operator,
// when accountID is "") with a successor holding the same powers, and
// keeps the old key working for overlap (nil: Limits.RotationOverlap,
// which is also the most it may be). The successor, the old key's new
// state and the [audit.KeyRotated] event are stored in one transaction.
func (k *Keys) Rotate(ctx context.Context, a Actor, accountID, id string, overlap *time.Duration) (*Issued, error) {
	l := k.limits
	if overlap != nil {
		if *overlap < 0 || *overlap > l.RotationOverlap {
			return nil, &apikey.RequestError{Problems: []apikey.Problem{{Field: "overlap", Message: fmt.Sprintf("want 0s to %s", l.RotationOverlap)}}}
		}
		l.RotationOverlap = *overlap
	}
	old, role, err := k.keyOf(ctx, a, accountID, id)
	if err != nil {
		return nil, err
	}
	if !a.operator() {
		// A rotation mints a new secret with the key's powers: the member
		// must be able to grant them, as for a new key.
		if over := old.Scopes &^ apikey.RoleScopes(role); over != 0 {
			return nil, &ForbiddenError{Reason: fmt.Sprintf("a %s cannot grant %s", role, over)}
		}
	}
	now := k.now().UTC()
	if err := k.checkStepUp(ctx, a, old.Environment, old.Scopes, now); err != nil {
		return nil, err
	}
	tok, err := apikey.Generate(old.Environment, k.rand)
	if err != nil {
		return nil, err
	}
	aal := 3 // an operator, or a session that passed checkStepUp
	next, err := old.Rotate(tok, a.id(), aal, l, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyState, err)
	}
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, &next); err != nil {
			return err
		}
		if err := tx.SetKeySuccessor(ctx, old.ID, next.ID, old.OverlapEndsAt); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRotated, UserID: trailOf(a.id()), Actor: a.id(), Interface: a.iface(), IP: a.IP,
			Detail: map[string]string{"account": old.AccountID, "key": old.ID, "successor": next.ID,
				"overlap_ends_at": old.OverlapEndsAt.Format(time.RFC3339), "expires_at": next.ExpiresAt.Format(time.RFC3339)}})
	})
	k.Forget(old.ID, next.ID)
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("%w: %w", ErrKeyState, apikey.ErrRotated)
	}
	if err != nil {
		return nil, fmt.Errorf("authz: store rotation: %w", err)
	}
	return &Issued{Key: next, Secret: tok.Key, OverlapEndsAt: old.OverlapEndsAt}, nil
}

// Revoke revokes the key id of accountID (any account for an operator,
// when accountID is "") with its [audit.KeyRevoked] event, and forgets it
// so that the very next request with it is refused.
func (k *Keys) Revoke(ctx context.Context, a Actor, accountID, id string) (*apikey.Key, error) {
	// Any member who manages keys may revoke any of the account's: taking
	// power away is the kill switch, and needs no step-up.
	key, _, err := k.keyOf(ctx, a, accountID, id)
	if err != nil {
		return nil, err
	}
	reason := apikey.RevokedByUser
	if a.operator() {
		reason = apikey.RevokedByAdmin
	}
	now := k.now().UTC()
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeKey(ctx, key.ID, now, reason); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRevoked, UserID: trailOf(a.id()), Actor: a.id(), Interface: a.iface(), IP: a.IP,
			Detail: map[string]string{"account": key.AccountID, "key": key.ID, "reason": string(reason)}})
	})
	k.Forget(key.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrKeyState, apikey.ErrRevoked)
	}
	if err != nil {
		return nil, fmt.Errorf("authz: store revocation: %w", err)
	}
	key.RevokedAt, key.RevokeReason = now, reason
	return key, nil
}

// keyOf reads the key id and checks that the actor may manage it,
// returning the actor's role on its account ("" for an operator).
func (k *Keys) keyOf(ctx context.Context, a Actor, accountID, id string) (*apikey.Key, account.Role, error) {
	key, err := k.store.KeyByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && accountID != "" && key.AccountID != accountID) {
		if !a.operator() {
			// Check membership first, so a non-member learns nothing
			// about which keys exist.
			if _, _, aerr := k.authorize(ctx, a, accountID, true); aerr != nil {
				return nil, "", aerr
			}
		}
		return nil, "", ErrNoKey
	}
	if err != nil {
		return nil, "", err
	}
	if a.operator() && accountID == "" {
		return key, "", nil
	}
	_, role, err := k.authorize(ctx, a, key.AccountID, true)
	if err != nil {
		return nil, "", err
	}
	return key, role, nil
}

// List returns every key of accountID, newest first, with uses recorded
// but not yet flushed applied. Any member may list; an operator may list
// any account.
func (k *Keys) List(ctx context.Context, a Actor, accountID string) ([]*apikey.Key, error) {
	if _, _, err := k.authorize(ctx, a, accountID, false); err != nil {
		return nil, err
	}
	keys, err := k.store.KeysOfAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range keys {
		if u := k.pending[key.ID]; u != nil && u.at.After(key.LastUsedAt) {
			key.LastUsedAt, key.LastUsedIP = u.at, u.last
		}
	}
	return keys, nil
}

func prefixList(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, " ")
}

// KeyStatus names a key's state at now: active, rotating (replaced, in
// its overlap), rotated, expired or revoked.
func KeyStatus(k *apikey.Key, now time.Time) string {
	switch err := k.Usable(now); {
	case errors.Is(err, apikey.ErrRevoked):
		return "revoked"
	case errors.Is(err, apikey.ErrRotated):
		return "rotated"
	case errors.Is(err, apikey.ErrExpired):
		return "expired"
	case k.SuccessorID != "":
		return "rotating"
	}
	return "active"
}
