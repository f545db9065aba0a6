package login

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

// reserve takes one attempt of key under rule before a secret is checked
// (see [throttle.Rule.Reserve]): the count is raised atomically in the
// store, so parallel guesses get no more tries than a sequence would. A
// refused attempt is a *[ThrottledError] saying when to come back.
func reserve(ctx context.Context, st store.Throttles, key string, rule throttle.Rule, now time.Time) error {
	_, err := reserveState(ctx, st, key, rule, now)
	return err
}

// reserveState is reserve, returning the counter as it stored it.
func reserveState(ctx context.Context, st store.Throttles, key string, rule throttle.Rule, now time.Time) (throttle.State, error) {
	var wait time.Duration
	state, ok, err := st.Reserve(ctx, key, func(s throttle.State) (throttle.State, bool) {
		next, ok, d := rule.Reserve(s, now)
		wait = d
		return next, ok
	})
	if err != nil {
		return throttle.State{}, fmt.Errorf("login: throttle: %w", err)
	}
	if !ok {
		return state, throttled(wait)
	}
	return state, nil
}

// throttled is the refusal of an attempt that must wait: rounded up, so a
// client retrying on the second is not refused again.
func throttled(wait time.Duration) *ThrottledError {
	return &ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
}

// refund gives back an attempt of key that turned out to succeed.
func refund(ctx context.Context, st store.Throttles, key string, now time.Time) error {
	_, _, err := st.Reserve(ctx, key, func(s throttle.State) (throttle.State, bool) { return throttle.Refund(s, now), true })
	return err
}
