package login

import (
	"context"
	"errors"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// ErrNoFactor: the factor does not exist or is another user's; the two
// are not told apart.
var ErrNoFactor = fault.New(fault.NotFound, "login: no such factor")

// What a signed-in actor reads of its own user. Each takes the actor, and
// only ever reads the actor's user: the transports never ask the store
// for a user id of their choosing.

// errNoActor refuses an operator: these read a signed-in user's own state.
var errNoActor = errors.New("login: reading one's own state needs a signed-in actor")

// Me returns the actor's user.
func (s *Service) Me(ctx context.Context, a session.Actor) (*user.User, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	return s.Store.UserByID(ctx, a.Session.UserID)
}

// OwnFactors returns the actor's factors, pending ones included.
func (s *Service) OwnFactors(ctx context.Context, a session.Actor) ([]*factor.Factor, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	return s.Store.FactorsOfUser(ctx, a.Session.UserID)
}

// OwnFactor returns the actor's factor with id; another user's is
// [ErrNoFactor].
func (s *Service) OwnFactor(ctx context.Context, a session.Actor, id string) (*factor.Factor, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	f, err := s.Store.FactorByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.UserID != a.Session.UserID) {
		return nil, ErrNoFactor
	}
	return f, err
}

// OwnRecoveryCodes returns the actor's recovery codes (hashes and use
// times; the codes themselves are shown once, when made).
func (s *Service) OwnRecoveryCodes(ctx context.Context, a session.Actor) ([]factor.RecoveryCode, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	return s.Store.RecoveryCodes(ctx, a.Session.UserID)
}

// OwnDevices returns the actor's devices.
func (s *Service) OwnDevices(ctx context.Context, a session.Actor) ([]*device.Device, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	return s.Store.DevicesOfUser(ctx, a.Session.UserID)
}

// Trail returns up to limit events of the actor's audit trail before
// the sequence number before (0: the newest), newest first, each as
// [audit.ForOwner] lets its owner see it.
func (s *Service) Trail(ctx context.Context, a session.Actor, before int64, limit int) ([]audit.Event, error) {
	if a.Operator() {
		return nil, errNoActor
	}
	events, err := s.Store.AuditOfUser(ctx, a.Session.UserID, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]audit.Event, len(events))
	for i, e := range events {
		out[i] = audit.ForOwner(e)
	}
	return out, nil
}
