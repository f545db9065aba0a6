package notice

import (
	"maps"
	"time"
)

// Limit is the per-user rate rule of notices: at most Max notices to one
// user in each Window; what comes beyond is held back and told in one
// [Summary] when the window ends, so that a flood of events (a script
// rotating keys, an intruder's busy hour) becomes one mail, not hundreds.
//
// A critical event is never held back the first time its type occurs in
// a window, even past Max: otherwise whoever triggers a flood of cheap
// notices first could hide a new key or device in the summary for up to
// a Window. Repeats of it within the window are held back like the rest.
// So one user gets at most Max + (number of critical types) + 1 notices
// per window.
type Limit struct {
	Max    int
	Window time.Duration
}

// DefaultLimit is the rule unless configured: 10 notices an hour.
var DefaultLimit = Limit{Max: 10, Window: time.Hour}

// RateState is one user's count in the current window. Its zero value is
// a user who has been sent nothing. It is stored between notices (the
// outbox keeps it per user), so it holds only plain values.
type RateState struct {
	Start time.Time // when the current window began; zero for none
	Sent  int       // notices let through in it
	// Critical holds the critical types let through in it.
	Critical map[Event]bool `json:",omitempty"`
	// Held counts the notices held back in it, per event.
	Held map[Event]int `json:",omitempty"`
}

// Admit decides whether a notice of event e, due at now, is sent, and
// returns the state to store. A notice not admitted is counted in Held,
// to be told by [Limit.Summary]. Admit does not close a window that has
// ended with notices held: call Summary first, or the held counts pass
// into the next window (and are told at its end, not lost).
func (l Limit) Admit(st RateState, e Event, now time.Time) (RateState, bool) {
	st = st.clone()
	if st.Start.IsZero() || !now.Before(st.Start.Add(l.window())) {
		if len(st.Held) == 0 {
			st = RateState{Start: now}
		} else {
			// The held notices still wait for their summary; a new window
			// starts its counts while keeping them.
			st = RateState{Start: now, Held: st.Held}
		}
	}
	switch {
	case Critical(e) && !st.Critical[e]:
		if st.Critical == nil {
			st.Critical = map[Event]bool{}
		}
		st.Critical[e] = true
		st.Sent++
		return st, true
	case st.Sent < l.Max:
		st.Sent++
		return st, true
	}
	if st.Held == nil {
		st.Held = map[Event]int{}
	}
	st.Held[e]++
	return st, false
}

// Summary reports whether a summary of held notices is due at now (the
// window they were held in has ended), with the counts to tell and the
// state to store after sending it. The summary itself is not counted:
// it is the one notice that stands for the others.
func (l Limit) Summary(st RateState, now time.Time) (held map[Event]int, next RateState, due bool) {
	if len(st.Held) == 0 || now.Before(st.Start.Add(l.window())) {
		return nil, st, false
	}
	return maps.Clone(st.Held), RateState{}, true
}

// SummaryDue returns when the summary of st's held notices falls due; zero
// when nothing is held.
func (l Limit) SummaryDue(st RateState) time.Time {
	if len(st.Held) == 0 {
		return time.Time{}
	}
	return st.Start.Add(l.window())
}

func (l Limit) window() time.Duration {
	if l.Window <= 0 {
		return DefaultLimit.Window
	}
	return l.Window
}

func (st RateState) clone() RateState {
	st.Critical = maps.Clone(st.Critical)
	st.Held = maps.Clone(st.Held)
	return st
}
