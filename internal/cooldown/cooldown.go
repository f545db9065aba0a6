// Package cooldown slows down what follows a security change: after a
// password change, a second factor added or removed, an unfreeze or a
// recovery, the user's risky actions wait (no new live API key, no
// transfer or bank-account change, no trading permission raised, no
// removal of another factor) until the cool-down ends, because an
// intruder who made the change will try them next.
//
// A flow starts the cool-down in the transaction of its change
// ([Policy.Start]), so the change and its cool-down commit together; the
// owner is told by the notice its audit event causes. The rules that
// refuse read [user.User.CooldownUntil] where they decide: forward-auth
// (package authz), key creation, factor removal and the permission gate.
package cooldown

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// DefaultLength is how long a cool-down lasts unless configured.
const DefaultLength = 24 * time.Hour

// The reasons a cool-down starts, as audit details and notices name them.
const (
	ReasonPassword      = "password"
	ReasonFactorAdded   = "factor_added"
	ReasonFactorRemoved = "factor_removed"
	ReasonUnfreeze      = "unfreeze"
	ReasonRecovery      = "recovery"
)

// reasons maps the audit types of the changes that start a cool-down to
// their reason.
var reasons = map[string]string{
	audit.PasswordChanged: ReasonPassword,
	audit.FactorAdded:     ReasonFactorAdded,
	audit.FactorRemoved:   ReasonFactorRemoved,
	audit.AccountUnfrozen: ReasonUnfreeze,
	audit.RecoveryUsed:    ReasonRecovery,
	// A lost-factor recovery completed (package login, docs/recovery.md).
	audit.RecoveryCompleted: ReasonRecovery,
}

// Policy says how long a cool-down lasts. A nil *Policy starts none: the
// command line always wires one from the configuration, whose default is
// [DefaultLength].
type Policy struct {
	// Length is the cool-down of a profile not in Profiles; zero turns
	// cool-downs off.
	Length time.Duration
	// Profiles overrides Length per trader profile; a zero value turns
	// cool-downs off for that profile.
	Profiles map[user.Profile]time.Duration
	// Changed, when set, is told (inside the change's transaction) of
	// every user whose cool-down started, so that this instance's
	// forward-auth forgets what it cached of them at once rather than at
	// its cache age; other instances hear of it by the store's
	// revocations. A re-read before the commit is set right by those.
	Changed func(userID string)
}

// For returns the length of the cool-down of a user of profile p; zero
// when none starts.
func (p *Policy) For(pr user.Profile) time.Duration {
	if p == nil {
		return 0
	}
	if d, ok := p.Profiles[pr]; ok {
		return d
	}
	return p.Length
}

// Start starts, inside tx, the cool-down that the change cause records
// (its audit event, already appended), and appends a
// [audit.CooldownStarted] event beside it, which tells the owner. A
// running cool-down that ends later is kept. It does nothing for an
// event that starts no cool-down, a nil Policy, or a profile whose
// length is zero.
func (p *Policy) Start(ctx context.Context, tx store.Tx, cause *audit.Event) error {
	reason, ok := reasons[cause.Type]
	if !ok || p == nil || cause.UserID == "" {
		return nil
	}
	u, err := tx.UserByID(ctx, cause.UserID)
	if err != nil {
		return fmt.Errorf("cooldown: read user: %w", err)
	}
	d := p.For(u.Profile)
	if d <= 0 {
		return nil
	}
	if cause.Type == audit.FactorAdded && cause.Time.Sub(u.CreatedAt) < d {
		onboarding, err := firstFactor(ctx, tx, u.ID, cause.Detail["factor"])
		if err != nil || onboarding {
			return err
		}
	}
	until := cause.Time.Add(d).UTC()
	if err := tx.StartCooldown(ctx, u.ID, until, reason); err != nil {
		return fmt.Errorf("cooldown: start: %w", err)
	}
	if p.Changed != nil {
		p.Changed(u.ID)
	}
	if u.CooldownUntil.After(until) {
		until = u.CooldownUntil
	}
	return tx.AppendAudit(ctx, &audit.Event{Time: cause.Time, Type: audit.CooldownStarted, UserID: u.ID, Actor: cause.Actor,
		Interface: cause.Interface, IP: cause.IP, Detail: map[string]string{"reason": reason, "until": until.Format(time.RFC3339)}})
}

// firstFactor reports whether the factor added is the user's only active
// one. The first second factor of an account younger than a cool-down is
// its onboarding, not a change of an established set-up: making a new
// trader wait a day for their first live key would protect nothing the
// critical factor.added notice does not.
func firstFactor(ctx context.Context, tx store.Tx, userID, added string) (bool, error) {
	fs, err := tx.FactorsOfUser(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("cooldown: read factors: %w", err)
	}
	for _, f := range fs {
		if f.ID != added && f.Status == factor.Active {
			return false, nil
		}
	}
	return true, nil
}

// ErrNone is returned by [Service.Lift] for a user whose cool-down does
// not run (or who does not exist: the two are not told apart).
var ErrNone = fault.New(fault.NotFound, "cooldown: no cool-down runs")

// ErrNoReason refuses a lift without a reason.
var ErrNoReason = fault.Wrap(fault.Invalid, errors.New("cooldown: a reason is required"))

// Service lifts cool-downs, for administrators.
type Service struct {
	Store store.Store
	Now   func() time.Time // nil means time.Now
}

// Lift ends the running cool-down of userID early, recording the
// administrator's reason in the audit trail (and telling the owner).
// Only an operator may lift: a session cannot lift its own cool-down.
func (s *Service) Lift(ctx context.Context, a session.Actor, userID, reason string) error {
	if !a.Operator() {
		return fault.New(fault.NotAllowed, "cooldown: only an administrator lifts a cool-down")
	}
	return s.lift(ctx, a, func(tx store.Tx) (*user.User, error) { return tx.UserByID(ctx, userID) }, reason)
}

// ErrOwnCooldown refuses an administrator lifting their own cool-down.
var ErrOwnCooldown = fault.New(fault.NotAllowed, "cooldown: an administrator does not lift their own cool-down; another one must")

// AdminLift is [Service.Lift] for an administrator signed in on
// a.Session, whom the caller has checked (login.Service.Admin: listed in
// admins, AAL3 within the step-up window). ref is a username or a user
// id. Nobody lifts their own cool-down: an intruder who took over an
// administrator's account, and started its cool-down doing so, would
// otherwise end it.
func (s *Service) AdminLift(ctx context.Context, a session.Actor, ref, reason string) error {
	if a.Session == nil {
		return fault.New(fault.NotAllowed, "cooldown: an administrator's session is needed")
	}
	return s.lift(ctx, a, func(tx store.Tx) (*user.User, error) {
		u, err := tx.UserByUsername(ctx, user.NormalizeUsername(ref))
		if errors.Is(err, store.ErrNotFound) {
			u, err = tx.UserByID(ctx, ref)
		}
		if err == nil && u.ID == a.Session.UserID {
			return nil, ErrOwnCooldown
		}
		return u, err
	}, reason)
}

func (s *Service) lift(ctx context.Context, a session.Actor, find func(store.Tx) (*user.User, error), reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return ErrNoReason
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		u, err := find(tx)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNone
		}
		if err != nil {
			return err
		}
		if !u.CoolingDown(t) {
			return ErrNone
		}
		if err := tx.LiftCooldown(ctx, u.ID, t); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: t, Type: audit.CooldownLifted, UserID: u.ID, Actor: a.ID(), IP: a.IP,
			Detail: map[string]string{"reason": reason, "was_until": u.CooldownUntil.UTC().Format(time.RFC3339)}})
	})
}
