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
// A critical event is never held back, even past Max: otherwise whoever
// triggers a flood of cheap notices first could hide a new key or device
// in the summary for up to a Window. Critical notices count towards Max,
// so a burst of them leaves no room for the others until the window
// ends; each critical notice still costs its sender a real change (a key
// made, a factor added), which every one of them is worth telling.
type Limit struct {
	Max    int
	Window time.Duration
}

// DefaultLimit is the rule unless configured: 10 notices an hour.
var DefaultLimit = Limit{Max: 10, Window: time.Hour}

// RateState is one user's count in the current window. Its zero value is
// a user who has been sent nothing. It is stored between notices, so it
// holds only plain values.
type RateState struct {
	Start time.Time // when the current window began; zero for none
	Sent  int       // notices let through in it
	// Held counts the notices held back in it, per event: what its
	// summary tells.
	Held map[Event]int `json:",omitempty"`
}

// Admit decides whether a notice of event e, due at now, is sent, and
// returns the state to store. A notice not admitted is counted in Held,
// to be told by the window's summary, due at [Limit.SummaryDue]. When
// the window has ended Admit starts a new one: the held counts of the
// old one belong to its summary, which was written when the first was
// held.
func (l Limit) Admit(st RateState, e Event, now time.Time) (RateState, bool) {
	st = st.clone()
	if l.Ended(st, now) {
		st = RateState{Start: now}
	}
	if Critical(e) || st.Sent < l.max() {
		st.Sent++
		return st, true
	}
	if st.Held == nil {
		st.Held = map[Event]int{}
	}
	st.Held[e]++
	return st, false
}

// SummaryDue returns when the summary of st's held notices falls due (the
// end of its window); zero when nothing is held.
func (l Limit) SummaryDue(st RateState) time.Time {
	if len(st.Held) == 0 {
		return time.Time{}
	}
	return st.Start.Add(l.window())
}

// Ended reports whether st's window has ended at now, so that a notice
// then starts a new one. A notice dated a little before the window began
// (transactions commit in another order than their clocks read) counts
// in it.
func (l Limit) Ended(st RateState, now time.Time) bool {
	return st.Start.IsZero() || !now.Before(st.Start.Add(l.window()))
}

func (l Limit) max() int {
	if l.Max <= 0 && l.Window <= 0 {
		return DefaultLimit.Max
	}
	return l.Max
}

func (l Limit) window() time.Duration {
	if l.Window <= 0 {
		return DefaultLimit.Window
	}
	return l.Window
}

func (st RateState) clone() RateState {
	st.Held = maps.Clone(st.Held)
	return st
}
