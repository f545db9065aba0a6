package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/signal"
	"gatehouse/internal/user"
)

// Signals persists security signals ([signal.Signal]) and the effects
// applying them had. A signal is never deleted: closing it keeps it,
// with its effects, as history.
type Signals interface {
	// CreateSignal stores a new signal; ErrConflict when its id is taken.
	CreateSignal(ctx context.Context, s *signal.Signal) error
	// SignalByID returns a signal; ErrNotFound when there is none.
	SignalByID(ctx context.Context, id string) (*signal.Signal, error)
	// ListSignals lists every signal, open and closed, newest first.
	ListSignals(ctx context.Context) ([]*signal.Signal, error)
	// MarkSignalApplied records the signal's first application at at;
	// a later call keeps the first time. ErrNotFound when the signal
	// is unknown or closed.
	MarkSignalApplied(ctx context.Context, id string, at time.Time) error
	// CloseSignal closes an open signal at at by by; ErrNotFound when it
	// is unknown or closed already.
	CloseSignal(ctx context.Context, id string, at time.Time, by string) error
	// AddSignalEffects records actions done; one recorded already (same
	// signal, step, op and target) is ErrConflict and nothing is stored.
	AddSignalEffects(ctx context.Context, es []signal.Effect) error
	// SignalEffects lists the effects of a signal, in no stated order.
	SignalEffects(ctx context.Context, signalID string) ([]signal.Effect, error)
	// SignalEffectsOfUser lists the effects that concern a user, over
	// every signal.
	SignalEffectsOfUser(ctx context.Context, userID string) ([]signal.Effect, error)
}

// EncodeSignal writes a signal's lists as the backends store them:
// doors and profiles comma-separated, steps newline-separated.
func EncodeSignal(s *signal.Signal) (doors, profiles, steps string) {
	ps := make([]string, len(s.Profiles))
	for i, p := range s.Profiles {
		ps[i] = string(p)
	}
	ss := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		ss[i] = st.String()
	}
	return strings.Join(s.Doors, ","), strings.Join(ps, ","), strings.Join(ss, "\n")
}

// DecodeSignal reads back what [EncodeSignal] wrote into s.
func DecodeSignal(s *signal.Signal, doors, profiles, steps string) error {
	s.Doors, s.Profiles, s.Steps = nil, nil, nil
	if doors != "" {
		s.Doors = strings.Split(doors, ",")
	}
	if profiles != "" {
		for _, p := range strings.Split(profiles, ",") {
			s.Profiles = append(s.Profiles, user.Profile(p))
		}
	}
	if steps != "" {
		for _, line := range strings.Split(steps, "\n") {
			st, err := signal.ParseStep(line)
			if err != nil {
				return fmt.Errorf("store: signal %s: %w", s.ID, err)
			}
			s.Steps = append(s.Steps, st)
		}
	}
	return nil
}
