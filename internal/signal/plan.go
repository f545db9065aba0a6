package signal

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// Subjects is the stored state a plan is made from.
type Subjects struct {
	Users []*user.User
	// Sessions are the sessions not ended, of every user.
	Sessions []*session.Session
	// Keys are the API keys not revoked, of every user.
	Keys []*apikey.Key
	// Factors are the factors of (at least) the users in scope, by user
	// id; only needed by require-phishing-resistant and forbid-sms.
	Factors map[string][]*factor.Factor
}

// NeedsFactors reports whether planning s reads the users' factors.
func (s *Signal) NeedsFactors() bool {
	return slices.ContainsFunc(s.Steps, func(st Step) bool {
		return st.Kind == RequirePhishingResistant || st.Kind == ForbidSMS
	})
}

// Done is the set of actions done already, by [Action.Key].
type Done map[string]bool

// Key identifies an action among those of its signal.
func (a Action) Key() string { return fmt.Sprintf("%d|%s|%s", a.Step, a.Op, a.Target) }

// DoneOf returns the set of the effects es.
func DoneOf(es []Effect) Done {
	d := make(Done, len(es))
	for _, e := range es {
		d[e.Action.Key()] = true
	}
	return d
}

// Cutoff is when the sessions an end-sessions step ends must have begun
// before: the signal's first application (now, if it was never applied),
// or the step's own time when earlier. Sessions begun after it are the
// sign-ins the signal asked for, and applying again leaves them alone.
func (s *Signal) Cutoff(st Step, now time.Time) time.Time {
	c := s.AppliedAt
	if c.IsZero() {
		c = now
	}
	if !st.Before.IsZero() && st.Before.Before(c) {
		c = st.Before
	}
	return c
}

// KeyDeadline is when keys a rotate-keys step marked and that were not
// rotated are suspended; zero before the signal is applied.
func (s *Signal) KeyDeadline(st Step) time.Time {
	if s.AppliedAt.IsZero() {
		return time.Time{}
	}
	return s.AppliedAt.Add(st.Within)
}

// Plan lists what applying s at now does, leaving out what done holds:
// exactly what [Apply]ing it then performs, in a stable order (step, op,
// target). Only the steps for which only(i) is true are planned; nil
// means every step. A closed signal plans nothing.
func Plan(s *Signal, in *Subjects, done Done, now time.Time, only func(step int) bool) []Action {
	if !s.InForce() {
		return nil
	}
	scope := make(map[string]bool, len(in.Users))
	var users []string
	for _, u := range in.Users {
		if s.UserInScope(u) {
			scope[u.ID] = true
			users = append(users, u.ID)
		}
	}
	slices.Sort(users)
	var out []Action
	add := func(a Action) {
		if !done[a.Key()] {
			out = append(out, a)
		}
	}
	for i, st := range s.Steps {
		if only != nil && !only(i) {
			continue
		}
		told := map[string]bool{}
		tell := func(userID string) { told[userID] = true }
		switch st.Kind {
		case EndSessions:
			cut := s.Cutoff(st, now)
			for _, ss := range in.Sessions {
				if scope[ss.UserID] && s.DoorInScope(string(ss.Door)) && ss.EndedAt.IsZero() && now.Before(ss.ExpiresAt) && ss.CreatedAt.Before(cut) {
					add(Action{Step: i, Op: OpEndSession, UserID: ss.UserID, Target: ss.ID})
					tell(ss.UserID)
				}
			}
		case Reauth:
			for _, id := range users {
				tell(id)
			}
		case RotateKeys:
			if !s.DoorInScope("api") {
				break
			}
			// Keys made after the signal was first applied are the new
			// ones it asked for: they are not marked.
			deadline, made := s.KeyDeadline(st), s.Cutoff(Step{}, now)
			for _, k := range in.Keys {
				if !scope[k.CreatedBy] || !k.RevokedAt.IsZero() || k.SuccessorID != "" || (!k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)) {
					continue
				}
				if !k.CreatedAt.Before(made) && !done[Action{Step: i, Op: OpMarkKey, Target: k.ID}.Key()] {
					continue
				}
				mark := Action{Step: i, Op: OpMarkKey, UserID: k.CreatedBy, Target: k.ID}
				if !done[mark.Key()] {
					add(mark)
					tell(k.CreatedBy)
				} else if !deadline.IsZero() && !now.Before(deadline) {
					add(Action{Step: i, Op: OpSuspendKey, UserID: k.CreatedBy, Target: k.ID})
				}
			}
		case RequirePhishingResistant:
			for _, id := range users {
				if !slices.ContainsFunc(in.Factors[id], func(f *factor.Factor) bool { return f.Kind == factor.WebAuthn && f.Usable() }) {
					tell(id)
				}
			}
		case ForbidSMS:
			for _, id := range users {
				if slices.ContainsFunc(in.Factors[id], func(f *factor.Factor) bool { return f.Kind == factor.SMS }) {
					tell(id)
				}
			}
		}
		for id := range told {
			add(Action{Step: i, Op: OpTell, UserID: id, Target: id})
		}
	}
	slices.SortFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(a.Step, b.Step), strings.Compare(a.Op, b.Op), strings.Compare(a.Target, b.Target))
	})
	return out
}
