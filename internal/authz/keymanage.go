package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// ForbiddenError refuses a key change the caller's role does not allow.
type ForbiddenError struct {
	Reason string // for the client, e.g. "a viewer cannot manage keys"
}

// Error returns the reason, for the log.
func (e *ForbiddenError) Error() string { return "authz: forbidden: " + e.Reason }

// Kind is [fault.Forbidden]; the client is told Reason.
func (e *ForbiddenError) Kind() fault.Kind { return fault.Forbidden }

// RequiredAssurance returns the assurance a session needs, proven
// recently, to create or rotate a key with scopes s on an account in env
// for a user of profile p; zero when any session will do.
//
//   - transfers:write moves money out: AAL3, in any environment;
//   - a live key that can trade: AAL2, or AAL3 for professional traders,
//     whose workstations host the automation such keys serve;
//   - any other live key, read scopes included: AAL2. A live key outlives
//     the session that mints it (up to a year, through a password change
//     and the end of every session), so minting one from a stolen cookie
//     must not turn hours of access into a year of reading positions;
//   - paper keys: no step-up.
func RequiredAssurance(env account.Environment, s apikey.Scopes, p user.Profile) session.Assurance {
	switch {
	case s.Has(apikey.TransfersWrite):
		return session.AAL3
	case env == account.Live && s.CanTrade() && p == user.Professional:
		return session.AAL3
	case env == account.Live:
		return session.AAL2
	}
	return 0
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
	if a.Operator() {
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

// mayGrant refuses a member whose role could not grant every one of
// scopes; an operator may grant any.
func mayGrant(a Actor, role account.Role, scopes apikey.Scopes) error {
	if a.Operator() {
		return nil
	}
	if over := scopes &^ apikey.RoleScopes(role); over != 0 {
		return &ForbiddenError{Reason: fmt.Sprintf("a %s cannot grant %s", role, over)}
	}
	return nil
}

// checkStepUp returns a [*session.StepUpError] unless the actor's session holds
// AAL2, and the assurance [RequiredAssurance] asks for keys with scopes s
// in env proven within the step-up window; and a [*user.CooldownError]
// for a live key while the user's cool-down runs.
func (k *Keys) checkStepUp(ctx context.Context, a Actor, env account.Environment, s apikey.Scopes, now time.Time) error {
	if a.Operator() {
		return nil
	}
	// Minting a credential is not for an AAL1 session (no second factor
	// yet, or a recovery code): it may read and enrol, nothing more.
	if err := a.Session.RequireLevel(session.AAL2, k.stepUpWindow); err != nil {
		return err
	}
	if env != account.Live && RequiredAssurance(env, s, user.Occasional) == 0 {
		return nil // nothing more to ask, whatever the profile
	}
	u, err := k.store.UserByID(ctx, a.Session.UserID)
	if err != nil {
		return fmt.Errorf("authz: read user: %w", err)
	}
	if env == account.Live {
		// A rotation mints a new secret too: during a cool-down neither
		// gives a live key to whoever made the change.
		if err := u.CheckCooldown(now, "a new live API key"); err != nil {
			return err
		}
	}
	need := RequiredAssurance(env, s, u.Profile)
	if err := a.Session.Require(need, k.stepUpWindow, now); err != nil {
		return err
	}
	if env == account.Live {
		return k.checkSignals(ctx, a, u, now)
	}
	return nil
}

// ErrSignalReadOnly refuses a live key to a user who owes a security key
// or passkey, past the deadline a security signal set.
var ErrSignalReadOnly = fault.New(fault.NotAllowed, "authz: a security notice asks for a security key or passkey before any new live key")

// checkSignals applies the security signals in force to a session about
// to mint or widen a live key, as forward-auth applies them to a request
// that changes something.
func (k *Keys) checkSignals(ctx context.Context, a Actor, u *user.User, now time.Time) error {
	in := k.signals.Load()
	if in == nil {
		return nil
	}
	r := in.Rules()
	if r.Empty() {
		return nil
	}
	var ferr error
	hasStrong := func() bool {
		fs, err := k.store.FactorsOfUser(ctx, u.ID)
		if err != nil {
			ferr = err
			return true
		}
		return slices.ContainsFunc(fs, func(f *factor.Factor) bool { return f.Kind == factor.WebAuthn && f.Usable() })
	}
	s := a.Session
	d, ok := r.Session(u.Profile, s.Door, s.Assurance, s.AuthTime, "POST", "", "", now, hasStrong)
	switch {
	case ferr != nil:
		return fmt.Errorf("authz: read factors: %w", ferr)
	case !ok:
		return nil
	case d.ReadOnly:
		return fmt.Errorf("%w (%s: %s)", ErrSignalReadOnly, d.Title, d.Todo)
	}
	e := &session.StepUpError{Need: max(d.AAL, session.AAL2)}
	if !d.Since.IsZero() {
		e.Within = max(now.Sub(d.Since), time.Second)
	}
	return e
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
	if err := mayGrant(a, role, spec.Scopes); err != nil {
		return nil, err
	}
	now := k.now().UTC()
	if err := k.checkStepUp(ctx, a, acct.Environment, spec.Scopes, now); err != nil {
		return nil, err
	}
	tok, err := apikey.Generate(spec.Environment, k.rand)
	if err != nil {
		return nil, err
	}
	key, err := spec.NewKey(tok, acct.ID, a.ID(), now)
	if err != nil {
		return nil, err
	}
	key.SessionID = a.SessionID()
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, &key); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyCreated, UserID: trailOf(a.ID()), Actor: a.ID(), Interface: a.Door(), IP: a.IP,
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
	// A rotation mints a new secret with the key's powers: the member
	// must be able to grant them, as for a new key.
	if err := mayGrant(a, role, old.Scopes); err != nil {
		return nil, err
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
	next, err := old.Rotate(tok, a.ID(), aal, l, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyState, err)
	}
	next.SessionID = a.SessionID()
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateKey(ctx, &next); err != nil {
			return err
		}
		if err := tx.SetKeySuccessor(ctx, old.ID, next.ID, old.OverlapEndsAt); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRotated, UserID: trailOf(a.ID()), Actor: a.ID(), Interface: a.Door(), IP: a.IP,
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
	if a.Operator() {
		reason = apikey.RevokedByAdmin
	}
	now := k.now().UTC()
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeKey(ctx, key.ID, now, reason); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRevoked, UserID: trailOf(a.ID()), Actor: a.ID(), Interface: a.Door(), IP: a.IP,
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
		if !a.Operator() {
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
	if a.Operator() && accountID == "" {
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
	// Mark the keys of creators who left the account, as forward-auth
	// treats them: one membership read per creator.
	member := map[string]bool{}
	for _, key := range keys {
		by := trailOf(key.CreatedBy)
		if by == "" {
			continue
		}
		in, seen := member[by]
		if !seen {
			_, err := k.store.Membership(ctx, by, accountID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, fmt.Errorf("authz: read membership: %w", err)
			default:
				in = true
			}
			member[by] = in
		}
		key.Suspended = !in
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

// MintedByEndedSessions returns the usable keys the actor's user created
// from a session that was later ended as untrusted
// ([session.Session.EndedUntrusted]: revoked, or ended by a password
// change), newest first. A key outlives the session that minted it: after
// "end all sessions" or a password change, these are the keys a thief
// holding one of those sessions could have made, and the user is offered
// them to review and revoke. An operator has none.
func (k *Keys) MintedByEndedSessions(ctx context.Context, a Actor) ([]*apikey.Key, error) {
	if a.Operator() {
		return nil, nil
	}
	userID := a.Session.UserID
	ms, err := k.store.MembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("authz: read memberships: %w", err)
	}
	now := k.now()
	ended := map[string]bool{}
	var out []*apikey.Key
	for _, m := range ms {
		keys, err := k.store.KeysOfAccount(ctx, m.AccountID)
		if err != nil {
			return nil, fmt.Errorf("authz: list keys: %w", err)
		}
		for _, key := range keys {
			if key.CreatedBy != userID || key.SessionID == "" || key.Usable(now) != nil {
				continue
			}
			e, seen := ended[key.SessionID]
			if !seen {
				s, err := k.store.SessionByID(ctx, key.SessionID)
				switch {
				case errors.Is(err, store.ErrNotFound):
					// Purged: ended long ago, for a reason no longer known.
				case err != nil:
					return nil, fmt.Errorf("authz: read session: %w", err)
				default:
					e = s.EndedUntrusted()
				}
				ended[key.SessionID] = e
			}
			if e {
				out = append(out, key)
			}
		}
	}
	slices.SortFunc(out, func(x, y *apikey.Key) int { return y.CreatedAt.Compare(x.CreatedAt) })
	return out, nil
}
