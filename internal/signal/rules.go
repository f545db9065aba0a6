package signal

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// Rules is what the open signals that have been applied require now: the
// temporary rules of their reauth, route-aal, require-phishing-resistant
// and forbid-sms steps. A signal recorded but not applied yet requires
// nothing (its dry run comes first); closing it lifts its rules. The zero
// Rules requires nothing. It is read-only once built.
type Rules struct {
	rules []rule
}

type rule struct {
	sig  *Signal
	step Step
}

// BuildRules returns the rules of sigs in force: those of the open,
// applied ones.
func BuildRules(sigs []*Signal) *Rules {
	r := &Rules{}
	for _, s := range sigs {
		if !s.InForce() || s.AppliedAt.IsZero() {
			continue
		}
		for _, st := range s.Steps {
			switch st.Kind {
			case Reauth, RouteAAL, RequirePhishingResistant, ForbidSMS:
				r.rules = append(r.rules, rule{sig: s, step: st})
			}
		}
	}
	return r
}

// Empty reports whether r requires nothing.
func (r *Rules) Empty() bool { return r == nil || len(r.rules) == 0 }

// Demand is what a signal asks of one session's request, beyond its route
// rule: a higher assurance, an authentication since a time, or, for a user
// who owes a phishing-resistant factor past its deadline, only reading.
type Demand struct {
	// AAL is the assurance needed; Since the time the session's last
	// authentication must follow (the signal's application). Both zero
	// when no step-up is asked.
	AAL   session.Assurance
	Since time.Time
	// ReadOnly refuses any request but GET and HEAD.
	ReadOnly bool
	// Title is the signal's title, Todo what the user must do; for the
	// refusal's problem document.
	Title, Todo string
}

// Session returns what r demands of a request by a session of a user of
// profile on door, with assurance aal and last authentication at auth, to
// host and path with method, at now; hasStrong reports whether the user
// has a usable security key or passkey (asked only when a step needs it).
// ok is false when r demands nothing the session lacks.
func (r *Rules) Session(profile user.Profile, door session.Door, aal session.Assurance, auth time.Time, method, host, path string, now time.Time, hasStrong func() bool) (d Demand, ok bool) {
	if r.Empty() {
		return Demand{}, false
	}
	for _, x := range r.rules {
		s, st := x.sig, x.step
		if len(s.Profiles) > 0 && !containsProfile(s.Profiles, profile) {
			continue
		}
		switch st.Kind {
		case Reauth:
			if !s.DoorInScope(string(door)) {
				continue
			}
			if aal < st.AAL || auth.Before(s.AppliedAt) {
				d.AAL, d.Since = max(d.AAL, st.AAL), later(d.Since, s.AppliedAt)
				d.Title, d.Todo, ok = s.Title, st.Todo(), true
			}
		case RouteAAL:
			if !strings.EqualFold(host, st.Host) || !strings.HasPrefix(path, st.Path) {
				continue
			}
			if aal < st.AAL {
				d.AAL = max(d.AAL, st.AAL)
				d.Title, d.Todo, ok = s.Title, st.Todo(), true
			}
		case RequirePhishingResistant:
			if now.Before(st.Deadline) || method == "GET" || method == "HEAD" || hasStrong() {
				continue
			}
			d.ReadOnly = true
			d.Title, d.Todo, ok = s.Title, st.Todo(), true
		}
	}
	return d, ok
}

// ForbidsSMS returns the title of a signal that forbids SMS to users of
// profile, or "" when none does.
func (r *Rules) ForbidsSMS(profile user.Profile) string {
	if r.Empty() {
		return ""
	}
	for _, x := range r.rules {
		if x.step.Kind == ForbidSMS && (len(x.sig.Profiles) == 0 || containsProfile(x.sig.Profiles, profile)) {
			return x.sig.Title
		}
	}
	return ""
}

func containsProfile(ps []user.Profile, p user.Profile) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// InForce holds the rules in force for the hot path: one atomic load per
// request. Refresh reads them again from the signals List gives; the
// server calls it every few seconds (so that another instance's apply or
// close reaches this one) and at once after this instance applies or
// closes one. The zero InForce holds no rules.
type InForce struct {
	List func(ctx context.Context) ([]*Signal, error)
	p    atomic.Pointer[Rules]
}

// Rules returns the rules in force, nil for none.
func (f *InForce) Rules() *Rules {
	if f == nil {
		return nil
	}
	return f.p.Load()
}

// Refresh reads the signals and replaces the rules in force.
func (f *InForce) Refresh(ctx context.Context) error {
	sigs, err := f.List(ctx)
	if err != nil {
		return err
	}
	f.p.Store(BuildRules(sigs))
	return nil
}
