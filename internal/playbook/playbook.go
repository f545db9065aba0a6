// Package playbook records security signals and runs their playbooks:
// the dry run that lists exactly whom and what each step would touch,
// the application that does it once, and the closing that lifts the
// temporary rules (see package signal for the steps).
//
// Applying is idempotent: every action done is recorded as an effect in
// the transaction that does it, and a later application plans around
// the effects recorded. Each event it causes is audited with the
// signal's id, and each user affected gets one signal.applied event per
// application, which the notice deriver turns into a notice telling
// them why and what to do.
package playbook

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Errors of the playbook flows.
var (
	ErrNoSignal = fault.New(fault.NotFound, "playbook: no such signal")
	ErrClosed   = fault.New(fault.NotAllowed, "playbook: the signal is closed")
)

// EndSignal is the end reason of a session a signal ended.
const EndSignal = "signal"

// Service records and applies signals. Its fields are set once before
// use; it is safe for concurrent use.
type Service struct {
	Store store.Store
	// Sessions and Keys are this instance's caches, told at once of the
	// sessions ended and keys revoked; nil for none (the command line).
	Sessions *authn.Sessions
	Keys     *authz.Keys
	// InForce, when set, is refreshed after each application and close,
	// so that this instance enforces the rules at once.
	InForce *signal.InForce
	Now     func() time.Time // nil means time.Now
	Rand    io.Reader        // nil means crypto/rand.Reader
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Add records sig, open, on behalf of by ("admin" for an operator), and
// returns it with its id. An invalid signal is a field error and
// changes nothing.
func (s *Service) Add(ctx context.Context, sig *signal.Signal, by string) (*signal.Signal, error) {
	if err := sig.Validate(); err != nil {
		return nil, fault.Wrap(fault.Invalid, err)
	}
	id, err := token.New(s.Rand, 12)
	if err != nil {
		return nil, err
	}
	out := *sig
	out.ID, out.State, out.CreatedAt, out.CreatedBy = "sig_"+id, signal.Open, s.now(), by
	out.AppliedAt, out.ClosedAt, out.ClosedBy = time.Time{}, time.Time{}, ""
	out.Title = strings.TrimSpace(out.Title)
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateSignal(ctx, &out); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: out.CreatedAt, Type: audit.SignalCreated, Actor: by, Detail: describe(&out)})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func describe(sig *signal.Signal) map[string]string {
	steps := make([]string, len(sig.Steps))
	for i, st := range sig.Steps {
		steps[i] = st.String()
	}
	return map[string]string{"signal": sig.ID, "title": sig.Title, "kind": string(sig.Kind), "severity": string(sig.Severity), "steps": strings.Join(steps, ",")}
}

// List lists every signal, newest first.
func (s *Service) List(ctx context.Context) ([]*signal.Signal, error) {
	return s.Store.ListSignals(ctx)
}

// Get returns one signal.
func (s *Service) Get(ctx context.Context, id string) (*signal.Signal, error) {
	sig, err := s.Store.SignalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSignal
	}
	return sig, err
}

// Close closes an open signal on behalf of by: its temporary rules
// (re-authentication, route assurance, SMS forbidden, the phishing-
// resistant deadline, the key deadline) stop at once; what it did stays
// done and recorded.
func (s *Service) Close(ctx context.Context, id, by string) (*signal.Signal, error) {
	now := s.now()
	var sig *signal.Signal
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if sig, err = tx.SignalByID(ctx, id); errors.Is(err, store.ErrNotFound) {
			return ErrNoSignal
		} else if err != nil {
			return err
		}
		if err := tx.CloseSignal(ctx, id, now, by); errors.Is(err, store.ErrNotFound) {
			return ErrClosed
		} else if err != nil {
			return err
		}
		sig.State, sig.ClosedAt, sig.ClosedBy = signal.Closed, now, by
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.SignalClosed, Actor: by, Detail: describe(sig)})
	})
	if err != nil {
		return nil, err
	}
	s.refresh(ctx)
	return sig, nil
}

// Plan is what applying a signal does (a dry run), or did.
type Plan struct {
	Signal  *signal.Signal  `json:"-"`
	Actions []signal.Action `json:"actions"`
}

// Count is how many actions of each op, and how many users, a plan has.
func (p *Plan) Count() map[string]int {
	n := map[string]int{}
	users := map[string]bool{}
	for _, a := range p.Actions {
		n[a.Op]++
		users[a.UserID] = true
	}
	n["users"] = len(users)
	return n
}

// DryRun lists exactly what [Service.Apply] would do now, and changes
// nothing.
func (s *Service) DryRun(ctx context.Context, id string) (*Plan, error) {
	return s.plan(ctx, s.Store, id, s.now(), nil)
}

// plan reads what the signal id touches in q and plans it at now.
func (s *Service) plan(ctx context.Context, q store.Tx, id string, now time.Time, only func(int) bool) (*Plan, error) {
	sig, err := q.SignalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSignal
	}
	if err != nil {
		return nil, err
	}
	if !sig.InForce() {
		return nil, ErrClosed
	}
	in := &signal.Subjects{}
	if in.Users, err = q.ListUsers(ctx); err != nil {
		return nil, err
	}
	need := func(k signal.StepKind) bool {
		return slices.ContainsFunc(sig.Steps, func(st signal.Step) bool { return st.Kind == k })
	}
	if need(signal.EndSessions) {
		if in.Sessions, err = q.ListSessions(ctx); err != nil {
			return nil, err
		}
	}
	if need(signal.RotateKeys) {
		if in.Keys, err = q.UnrevokedKeys(ctx); err != nil {
			return nil, err
		}
	}
	if sig.NeedsFactors() {
		in.Factors = map[string][]*factor.Factor{}
		fs, err := q.ListFactors(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			in.Factors[f.UserID] = append(in.Factors[f.UserID], f)
		}
	}
	effects, err := q.SignalEffects(ctx, sig.ID)
	if err != nil {
		return nil, err
	}
	return &Plan{Signal: sig, Actions: signal.Plan(sig, in, signal.DoneOf(effects), now, only)}, nil
}

// Apply applies the signal id on behalf of by and returns what it did:
// what [Service.DryRun] listed just before, less what changed meanwhile.
// It works through the users in chunks of [applyChunk], each in one
// transaction with its audit events and notices: every change commits
// with its event, and no transaction holds the audit chain long enough
// to keep other instances' logins waiting. Applying again does nothing
// twice; an apply stopped part way (a failure, the signal closed) is
// finished by applying again.
func (s *Service) Apply(ctx context.Context, id, by string) (*Plan, error) {
	return s.apply(ctx, id, by, nil)
}

// applyChunk is how many users one transaction of an apply covers.
const applyChunk = 1000

func (s *Service) apply(ctx context.Context, id, by string, only func(int) bool) (*Plan, error) {
	now := s.now()
	p, err := s.plan(ctx, s.Store, id, now, only)
	if err != nil {
		return nil, err
	}
	var users []string
	seen := map[string]bool{}
	for _, a := range p.Actions {
		if !seen[a.UserID] {
			seen[a.UserID] = true
			users = append(users, a.UserID)
		}
	}
	slices.Sort(users)
	done := map[string]bool{}
	defer s.refresh(ctx)
	for start := 0; start == 0 || start < len(users); start += applyChunk {
		chunk := map[string]bool{}
		for _, u := range users[start:min(start+applyChunk, len(users))] {
			chunk[u] = true
		}
		var acts []signal.Action
		for _, a := range p.Actions {
			if chunk[a.UserID] {
				acts = append(acts, a)
			}
		}
		ended, revoked, err := s.applyActions(ctx, p.Signal, acts, by, now, done)
		if s.Sessions != nil {
			s.Sessions.Forget(ended...)
		}
		if s.Keys != nil {
			s.Keys.Forget(revoked...)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.Signal.AppliedAt.IsZero() {
		p.Signal.AppliedAt = now
	}
	p.Actions = slices.DeleteFunc(p.Actions, func(a signal.Action) bool { return !done[a.Key()] })
	return p, nil
}

// applyActions does acts, the actions of some users, in one transaction
// with their audit events and notices, and notes in done what it did.
func (s *Service) applyActions(ctx context.Context, sig *signal.Signal, acts []signal.Action, by string, now time.Time, done map[string]bool) (ended, revoked []string, err error) {
	var effects []signal.Effect
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		ended, revoked, effects = nil, nil, nil
		// Closed since the plan (or by another apply's last chunk): stop.
		if cur, err := tx.SignalByID(ctx, sig.ID); err != nil {
			return err
		} else if !cur.InForce() {
			return ErrClosed
		}
		if err := tx.MarkSignalApplied(ctx, sig.ID, now); err != nil {
			return err
		}
		event := func(typ, userID string, d map[string]string) error {
			d["signal"] = sig.ID
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: typ, UserID: userID, Actor: by, Detail: d})
		}
		tells := map[string][]int{} // user → steps to tell of
		var order []string
		keys := map[string][]string{}
		var ending []string
		for _, a := range acts {
			if a.Op == signal.OpEndSession {
				ending = append(ending, a.Target)
			}
		}
		var err error
		if ended, err = tx.EndSessions(ctx, ending, now, EndSignal); err != nil {
			return err
		}
		endedNow := make(map[string]bool, len(ended))
		for _, id := range ended {
			endedNow[id] = true
		}
		for _, a := range acts {
			switch a.Op {
			case signal.OpEndSession:
				if !endedNow[a.Target] {
					continue // ended meanwhile
				}
				if err := event(audit.SessionEnded, a.UserID, map[string]string{"session": a.Target, "reason": EndSignal}); err != nil {
					return err
				}
			case signal.OpMarkKey:
				keys[a.UserID] = append(keys[a.UserID], a.Target)
			case signal.OpSuspendKey:
				if err := tx.RevokeKey(ctx, a.Target, now, apikey.RevokedBySignal); errors.Is(err, store.ErrNotFound) {
					continue // revoked meanwhile
				} else if err != nil {
					return err
				}
				revoked = append(revoked, a.Target)
				k, err := tx.KeyByID(ctx, a.Target)
				if err != nil {
					return err
				}
				if err := event(audit.KeyRevoked, a.UserID, map[string]string{"account": k.AccountID, "key": k.ID, "reason": string(apikey.RevokedBySignal)}); err != nil {
					return err
				}
			case signal.OpTell:
				if tells[a.UserID] == nil {
					order = append(order, a.UserID)
				}
				tells[a.UserID] = append(tells[a.UserID], a.Step)
			}
			effects = append(effects, signal.Effect{SignalID: sig.ID, Action: a, At: now})
		}
		slices.Sort(order)
		for _, userID := range order {
			var todo, steps []string
			for _, i := range tells[userID] {
				st := sig.Steps[i]
				if st.Kind == signal.RotateKeys {
					steps = append(steps, st.String())
					todo = append(todo, st.Todo()+" (keys "+strings.Join(keys[userID], ", ")+")")
					continue
				}
				steps, todo = append(steps, st.String()), append(todo, st.Todo())
			}
			d := map[string]string{"title": sig.Title, "todo": strings.Join(todo, "; "), "steps": strings.Join(steps, ",")}
			if sig.Link != "" {
				d["link"] = sig.Link
			}
			if err := event(audit.SignalApplied, userID, d); err != nil {
				return err
			}
		}
		return tx.AddSignalEffects(ctx, effects)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, e := range effects {
		done[e.Action.Key()] = true
	}
	return ended, revoked, nil
}

// refresh reads the rules in force again after a change; a failure is
// made good by the next periodic refresh.
func (s *Service) refresh(ctx context.Context) {
	if s.InForce != nil {
		_ = s.InForce.Refresh(ctx)
	}
}

// Sweep suspends, for every open signal, the keys its rotate-keys steps
// marked that were not rotated by the deadline. The janitor runs it.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	sigs, err := s.Store.ListSignals(ctx)
	if err != nil {
		return 0, err
	}
	now, n := s.now(), 0
	for _, sig := range sigs {
		due := func(i int) bool {
			st := sig.Steps[i]
			return st.Kind == signal.RotateKeys && !sig.KeyDeadline(st).IsZero() && !now.Before(sig.KeyDeadline(st))
		}
		if !sig.InForce() || sig.AppliedAt.IsZero() {
			continue
		}
		if !anyDue(len(sig.Steps), due) {
			continue
		}
		p, err := s.apply(ctx, sig.ID, "system", due)
		if errors.Is(err, ErrClosed) {
			continue
		}
		if err != nil {
			return n, err
		}
		n += len(p.Actions)
	}
	return n, nil
}

func anyDue(n int, due func(int) bool) bool {
	for i := range n {
		if due(i) {
			return true
		}
	}
	return false
}
