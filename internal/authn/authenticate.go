package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// Credential is what a request presents for a session, as its door read
// it. A request with an Authorization header is judged by that header
// alone, whatever cookie it also sends.
type Credential struct {
	// Cookie is the web session cookie's value, "" when absent.
	Cookie string
	// Authorization is the Authorization header, "" when absent. Only the
	// DPoP scheme names a session.
	Authorization string
	// DPoP is the DPoP header; DPoPCount is how many the request carried
	// (exactly one is accepted).
	DPoP      string
	DPoPCount int
	// Method and URL are the request a proof must name (htm and htu): the
	// method, and the absolute URL as the client addressed it. Only a
	// DPoP credential needs them.
	Method, URL string
	// AllowFrozen accepts a session of a frozen user, for the few routes
	// such a session may reach: reading its own state, stepping up,
	// unfreezing, signing out. Everywhere else it is [ErrFrozen].
	AllowFrozen bool
	// AllowRecovery accepts a session a completed recovery gave
	// ([session.Session.RecoveryOnly]), for the routes that enrol a
	// factor and new recovery codes, read its own state and sign out.
	// Everywhere else, forward-auth included, it is [ErrRecoveryOnly].
	AllowRecovery bool
}

// Authenticator turns credentials into live sessions: it is the one path
// by which a token becomes a session, for every door. It is safe for
// concurrent use once its fields are set.
type Authenticator struct {
	Sessions *Sessions
	// Replay remembers the DPoP proofs this door accepted. Doors that
	// see different requests keep separate caches (forward-auth sees the
	// proxied request, the API its own: a proof is made for one request),
	// and login proofs have their own (anyone can mint those). Nil
	// refuses every DPoP credential: the portal takes cookies only.
	Replay *dpop.ReplayCache
	// Shared, when set, is the store in which each proof Replay lets pass
	// is spent as well (kind SharedKind, "dpop" when empty), so that a
	// proof accepted by one instance is refused by every other on the
	// same store. Replay answers first: only a proof this instance has
	// not seen costs a write. Nil keeps proofs per instance, which is
	// right for a store only one instance serves (SQLite).
	Shared     store.Once
	SharedKind string
	// MaxAge is how old a proof's iat may be; zero means
	// [dpop.DefaultMaxAge]. Replay must keep entries at least this long.
	MaxAge time.Duration
	// Watch, when set, is consulted before the session cache is believed,
	// so that revocations by another process take effect at once.
	Watch *Watcher
	Now   func() time.Time // nil means time.Now
}

// The reasons a credential does not authenticate, for the log. Each wraps
// [ErrUnauthenticated]; a client sees only that.
var (
	// ErrScheme: an Authorization scheme other than DPoP.
	ErrScheme = fmt.Errorf("%w: authorization scheme names no session", ErrUnauthenticated)
	// ErrWrongDoor: a key-bound (desktop, mobile) token sent as a cookie,
	// or a web token sent with a proof. A key-bound token is never
	// accepted without its proof, and a cookie token has no key to prove.
	ErrWrongDoor = fmt.Errorf("%w: session presented through another interface's door", ErrUnauthenticated)
	// ErrProofCount: not exactly one DPoP header.
	ErrProofCount = fmt.Errorf("%w: want exactly one DPoP proof", ErrUnauthenticated)
	// ErrReplayed: a proof already accepted once.
	ErrReplayed = fmt.Errorf("%w: replayed dpop proof", ErrUnauthenticated)
	// ErrNoCredential: neither a cookie nor an Authorization header.
	ErrNoCredential = fmt.Errorf("%w: no credential", ErrUnauthenticated)
)

// Authenticate returns the live session that c authenticates, and only
// then records its use: a refused request (a key-bound token as a cookie,
// a proof with the wrong key, method, URL or token hash, a replayed or
// stale proof) never keeps a session from idling out. A refusal wraps
// [ErrUnauthenticated] with its reason; any other error is the store's.
//
// Cheapest refusal first: the scheme and the proof's form before any
// look-up, the proof's signature-bound claims before the replay cache
// remembers it.
func (a *Authenticator) Authenticate(ctx context.Context, c *Credential) (*session.Session, error) {
	a.Watch.Check(ctx)
	var s *session.Session
	var frozen bool
	var err error
	switch {
	case c.Authorization != "":
		s, frozen, err = a.proven(ctx, c)
	case c.Cookie != "":
		s, frozen, err = a.Sessions.resolve(ctx, c.Cookie)
		if err == nil && s.Door != session.Web {
			err = ErrWrongDoor
		}
	default:
		err = ErrNoCredential
	}
	if err == nil && frozen && !c.AllowFrozen {
		err = ErrFrozen
	}
	if err == nil && s.RecoveryOnly() && !c.AllowRecovery {
		err = ErrRecoveryOnly
	}
	if err != nil {
		return nil, err
	}
	s.LastSeenAt = a.Sessions.touch(s.ID)
	return s, nil
}

// proven checks `Authorization: DPoP <token>` and its proof.
func (a *Authenticator) proven(ctx context.Context, c *Credential) (*session.Session, bool, error) {
	scheme, tok, _ := strings.Cut(c.Authorization, " ")
	if !strings.EqualFold(scheme, "DPoP") {
		return nil, false, ErrScheme
	}
	if a.Replay == nil {
		return nil, false, ErrScheme // a door that takes no proofs
	}
	tok = strings.TrimSpace(tok)
	if c.DPoPCount != 1 {
		return nil, false, ErrProofCount
	}
	p, err := dpop.ParseProof(c.DPoP)
	if err != nil {
		return nil, false, refused(err)
	}
	s, frozen, err := a.Sessions.resolve(ctx, tok)
	if err != nil {
		return nil, false, err
	}
	if !s.Door.KeyBound() || s.JKT == "" {
		return nil, false, ErrWrongDoor
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if err := p.Check(dpop.Expect{Method: c.Method, URL: c.URL, AccessToken: tok, JKT: s.JKT, Now: now, MaxAge: a.MaxAge}); err != nil {
		return nil, false, refused(err)
	}
	if a.Replay.Seen(p.JKT, p.ID, p.IssuedAt, now) {
		return nil, false, ErrReplayed
	}
	if a.Shared != nil {
		kind := a.SharedKind
		if kind == "" {
			kind = "dpop"
		}
		// A store that does not answer refuses the request (the error is
		// the store's, not a refusal): accepting it unrecorded would let
		// the proof through again elsewhere.
		err := a.Shared.UseOnce(ctx, kind, dpop.ReplayID(p.JKT, p.ID), a.Replay.Expiry(p.IssuedAt), now)
		if errors.Is(err, store.ErrConflict) {
			return nil, false, ErrReplayed
		}
		if err != nil {
			return nil, false, fmt.Errorf("authn: spend dpop proof: %w", err)
		}
	}
	return s, frozen, nil
}

// refused makes a proof's own error a refusal.
func refused(err error) error {
	if errors.Is(err, ErrUnauthenticated) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
}
