package login

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/fault"
	"gatehouse/internal/store"
)

// settle ends a login step (a password, an answer, a step-up, a password
// check) that failed: an error no one gave a kind is a failure of the
// store the step reads and writes, so it becomes [fault.Unavailable] (503
// with Retry-After, logged as an error) and the throttle attempts the
// step still held are given back. A store outage is never a failed login
// and never counts against the user; only a real conflict of the store's
// compare-and-swap (store.ErrConflict) means someone else won the race.
//
// held lists the throttle keys the step reserved and had not yet settled
// by a verdict: a wrong answer counts, so the step clears held once it
// knows the answer was wrong, and a right one resets the counter itself.
// Deferred as defer s.settle(ctx, &err, &held, now).
func (s *Service) settle(ctx context.Context, err *error, held *[]string, now time.Time) {
	if *err == nil || fault.Has(*err) || errors.Is(*err, store.ErrConflict) {
		return
	}
	*err = fault.Wrap(fault.Unavailable, *err)
	ctx = context.WithoutCancel(ctx) // give back even to a client that left
	for _, key := range *held {
		if rerr := refund(ctx, s.Store, key, now); rerr != nil && s.Log != nil {
			s.Log.ErrorContext(ctx, "give back a throttle attempt after a store failure", "err", rerr)
		}
	}
}
