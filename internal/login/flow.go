package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/flow"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
	"gatehouse/internal/user"

	"gatehouse/internal/factor/sms"
	"gatehouse/internal/factor/webauthn"
)

// Factors are the second-factor settings of a [Service].
type Factors struct {
	// Seal seals and opens TOTP seeds.
	Seal     *seal.Box
	Issuer   string
	WebAuthn *webauthn.RP // nil: WebAuthn is off
	SMS      sms.Sender   // nil: SMS is off
	// MailLinks mails device approval links (through the outbox, written
	// in the transaction that stores the link); false: no links are sent.
	MailLinks bool
	// Origin is the public origin links point to.
	Origin         string
	FlowLifetime   time.Duration
	PushLifetime   time.Duration
	MaxPendingPush int
	StepUpWindow   time.Duration
	Policy         map[user.Profile]FactorPolicy
	// Throttle slows down guessing of second-factor codes per user, and
	// closes after its Limit of wrong answers in a row.
	Throttle throttle.Rule
	// GuessNotice is how many wrong second-factor answers in a row make
	// gatehouse tell the user (a log line and a factor.guessing event);
	// 0: only when the counter closes.
	GuessNotice int
}

// FactorPolicy is one trader profile's factor policy.
type FactorPolicy struct {
	Forbid       []factor.Kind
	MinAssurance map[session.Door]session.Assurance
}

// Allows reports whether the policy permits kind.
func (p FactorPolicy) Allows(k factor.Kind) bool {
	for _, f := range p.Forbid {
		if f == k {
			return false
		}
	}
	return true
}

// Errors of the flows. Every wrong, expired, replayed or malformed answer
// is ErrInvalidCode to the client; the audit trail keeps the reason.
var (
	ErrInvalidCode = fault.New(fault.InvalidCode, "login: invalid or expired code")
	// ErrFlow is a flow that is unknown, not this client's, expired or
	// finished: the client must start again.
	ErrFlow = fault.New(fault.NoFlow, "login: no such login in progress")
	// ErrFactorUnavailable is a factor the user does not have, or that the
	// policy does not allow here.
	ErrFactorUnavailable = fault.New(fault.FactorUnavailable, "login: factor not available")
	// ErrTooManyPushes refuses a push while too many are unanswered.
	ErrTooManyPushes = fault.New(fault.TooManyPushes, "login: too many push requests pending")
)

// AssuranceError refuses a login whose factors cannot reach what the door needs.
type AssuranceError struct {
	Door    session.Door
	Profile user.Profile
	Need    session.Assurance
}

func (e *AssuranceError) Error() string {
	return fmt.Sprintf("login: %s logins need %v for the %s profile", e.Door, e.Need, e.Profile)
}

// Kind is [fault.AssuranceUnreachable].
func (e *AssuranceError) Kind() fault.Kind { return fault.AssuranceUnreachable }

// Offer is a factor that can answer a flow.
type Offer struct {
	Kind      factor.Kind
	ID        string
	Name      string
	Assurance session.Assurance
	Weak      bool
}

// maxFlowAttempts is how many wrong answers one flow takes before it is
// denied; the per-user factor throttle bounds guessing across flows.
const maxFlowAttempts = 5

// BindingForSecret is the binding of a web flow whose cookie holds secret.
func BindingForSecret(secret string) string { return fmt.Sprintf("cookie:%x", token.Hash(secret)) }

// BindingForKey is the binding of a desktop or mobile flow proved by jkt.
func BindingForKey(jkt string) string { return "jkt:" + jkt }

func flowJKT(fl *flow.Flow) string {
	if jkt, ok := strings.CutPrefix(fl.Binding, "jkt:"); ok {
		return jkt
	}
	return ""
}

// policy is u's profile's factor policy, with SMS forbidden while a
// security signal's forbid-sms step in force covers the profile.
func (s *Service) policy(u *user.User) FactorPolicy {
	p, ok := s.Factors.Policy[u.Profile]
	if !ok {
		p = FactorPolicy{MinAssurance: map[session.Door]session.Assurance{session.Web: session.AAL2, session.Desktop: session.AAL2, session.Mobile: session.AAL2}}
	}
	if s.Signals.Rules().ForbidsSMS(u.Profile) != "" && p.Allows(factor.SMS) {
		p.Forbid = append(slices.Clip(p.Forbid), factor.SMS)
	}
	return p
}

// offers lists the factors among fs (all of u's) that can take u through
// iface, and whether u has any strong factor at all. Recovery is offered
// beside a strong factor while an unused code is left.
func (s *Service) offers(ctx context.Context, u *user.User, fs []*factor.Factor, iface session.Door) ([]Offer, bool, error) {
	usable, strong := s.candidates(u, fs, iface)
	var out []Offer
	for _, f := range usable {
		out = append(out, Offer{Kind: f.Kind, ID: f.ID, Name: f.Name, Assurance: f.Assurance(), Weak: !f.Kind.Strong()})
	}
	if len(out) > 0 && strong {
		codes, err := s.Store.RecoveryCodes(ctx, u.ID)
		if err != nil {
			return nil, false, err
		}
		for _, c := range codes {
			if c.UsedAt.IsZero() {
				out = append(out, Offer{Kind: factor.Recovery, Assurance: session.AAL1})
				break
			}
		}
	}
	return out, strong, nil
}

// candidates returns the factors among fs (all of u's) that are usable,
// that the profile's policy allows on iface and that reach its minimum
// assurance, and whether u has any usable strong factor at all.
func (s *Service) candidates(u *user.User, fs []*factor.Factor, iface session.Door) ([]*factor.Factor, bool) {
	pol := s.policy(u)
	need := pol.MinAssurance[iface]
	var out []*factor.Factor
	for _, f := range fs {
		if f.Usable() && pol.Allows(f.Kind) && f.Assurance() >= need && s.kindOn(f.Kind) {
			out = append(out, f)
		}
	}
	return out, anyStrong(fs)
}

// anyStrong reports whether fs holds a usable strong factor.
func anyStrong(fs []*factor.Factor) bool {
	for _, f := range fs {
		if f.Kind.Strong() && f.Usable() {
			return true
		}
	}
	return false
}

// Offers lists the factors that can take the user through iface — the
// user's usable factors the profile's policy allows there and that reach
// its minimum assurance, and recovery codes when some are left — for a
// client to show. Answers are checked against the same rule again.
func (s *Service) Offers(ctx context.Context, userID string, iface session.Door) ([]Offer, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	fs, err := s.Store.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	offers, _, err := s.offers(ctx, u, fs, iface)
	return offers, err
}

// CanEnrol reports whether u's policy and this server's set-up allow
// enrolling a factor of kind k.
func (s *Service) CanEnrol(u *user.User, k factor.Kind) bool {
	return s.policy(u).Allows(k) && s.kindOn(k)
}

func (s *Service) kindOn(k factor.Kind) bool {
	switch k {
	case factor.WebAuthn:
		return s.Factors.WebAuthn != nil
	case factor.SMS:
		return s.Factors.SMS != nil
	}
	return true
}

// afterPassword continues a login whose password was right. Its flow is
// stored only when the login must wait (for a factor, or for the device's
// approval); a login that completes at once never stores one.
//
// closed says the account is closed to new devices: the flow must then be
// validated by a trusted device (fl.NewDevice from the start).
func (s *Service) afterPassword(ctx context.Context, u *user.User, req Request, dev *device.Device, closed bool, now time.Time) (*Result, error) {
	fl, secret, err := s.newFlow(u, req, dev, now)
	if err != nil {
		return nil, err
	}
	fl.NewDevice = closed
	fs, err := s.Store.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	offers, strong, err := s.offers(ctx, u, fs, req.Door)
	if err != nil {
		return nil, err
	}
	switch {
	case len(offers) > 0:
		if err := s.Store.CreateFlow(ctx, fl); err != nil {
			return nil, err
		}
		return &Result{Status: "factor_required", User: u, Flow: fl, FlowSecret: secret, Offers: offers}, nil
	case strong:
		s.audit(ctx, flowEvent(fl, now, audit.LoginFailed, "reason", "assurance_unreachable"))
		return nil, &AssuranceError{Door: req.Door, Profile: u.Profile, Need: s.policy(u).MinAssurance[req.Door]}
	}
	// No second factor yet: an AAL1 session for enrolment, through device
	// validation like any other.
	r, err := s.finish(ctx, &signIn{u: u, fl: fl, dev: dev, fs: fs}, nil, now)
	if err != nil {
		return nil, err
	}
	r.FlowSecret = secret
	return r, nil
}

// newFlow is the flow of req after u's password, bound to its client (the
// key, or a new flow cookie's secret, returned), from dev (nil when new).
func (s *Service) newFlow(u *user.User, req Request, dev *device.Device, now time.Time) (*flow.Flow, string, error) {
	id, err := token.New(s.Rand, 16)
	if err != nil {
		return nil, "", err
	}
	fl := &flow.Flow{ID: "flw_" + id, UserID: u.ID, Door: req.Door, IP: req.IP.String(), UserAgent: truncate(req.UserAgent, 256),
		DeviceName: deviceName(req), State: flow.Factor, Assurance: session.AAL1, AMR: "pwd", CreatedAt: now, ExpiresAt: now.Add(s.flowLifetime())}
	var secret string
	if req.Door.KeyBound() {
		fl.Binding = BindingForKey(req.JKT)
	} else {
		if secret, err = token.New(s.Rand, 32); err != nil {
			return nil, "", err
		}
		fl.Binding = BindingForSecret(secret)
	}
	if dev != nil {
		fl.DeviceID = dev.ID
	}
	return fl, secret, nil
}

func (s *Service) flowLifetime() time.Duration {
	if s.Factors.FlowLifetime > 0 {
		return s.Factors.FlowLifetime
	}
	return 5 * time.Minute
}

// flow loads a flow for the client holding binding. A flow that is
// unknown, not bound to this client or expired is ErrFlow, all alike.
func (s *Service) flow(ctx context.Context, id, binding string) (*flow.Flow, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrFlow
	}
	fl, err := s.Store.FlowByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrFlow
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(fl.Binding), []byte(binding)) != 1 {
		return nil, ErrFlow
	}
	return fl, nil
}

// pendingFlow is flow, refusing flows that cannot take an answer.
func (s *Service) pendingFlow(ctx context.Context, id, binding string, now time.Time) (*flow.Flow, error) {
	fl, err := s.flow(ctx, id, binding)
	if err != nil {
		return nil, err
	}
	if !fl.Pending(now) {
		return nil, ErrFlow
	}
	return fl, nil
}

// signIn is what a login has read so far, carried down the flow so that
// nothing is read twice.
type signIn struct {
	u  *user.User
	fl *flow.Flow
	// dev is the device the flow logs in from, nil when it is new.
	dev *device.Device
	// fs are all the user's factors.
	fs []*factor.Factor
	// stored says fl is in the store (it waited for an answer).
	stored bool
}

// answering loads what an answer of kind to the pending flow id needs: the
// flow, its user and all their factors (carried on as a [signIn]), and the
// factors of kind that can answer it — ErrFactorUnavailable when there are
// none (a recovery code needs no factor of its own).
func (s *Service) answering(ctx context.Context, id, binding string, kind factor.Kind, now time.Time) (*signIn, []*factor.Factor, error) {
	fl, err := s.pendingFlow(ctx, id, binding, now)
	if err != nil {
		return nil, nil, err
	}
	return s.loadFor(ctx, fl, kind)
}

// loadFor is answering for a flow already loaded (or in memory, a step-up's).
func (s *Service) loadFor(ctx context.Context, fl *flow.Flow, kind factor.Kind) (*signIn, []*factor.Factor, error) {
	u, err := s.Store.UserByID(ctx, fl.UserID)
	if err != nil {
		return nil, nil, err
	}
	fs, err := s.Store.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	in := &signIn{u: u, fl: fl, fs: fs, stored: true}
	if kind == factor.Recovery || kind == "" {
		return in, nil, nil
	}
	usable, _ := s.candidates(u, fs, fl.Door)
	var out []*factor.Factor
	for _, f := range usable {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, nil, ErrFactorUnavailable
	}
	return in, out, nil
}

// Poll reports a flow's state to its client and, when every proof is in
// (a push approved on the phone, the device approved), mints its session.
func (s *Service) Poll(ctx context.Context, flowID, binding string) (_ *Result, _ string, err error) {
	now := s.now()
	defer s.settle(ctx, &err, new([]string), now)
	fl, err := s.flow(ctx, flowID, binding)
	if err != nil {
		return nil, "", err
	}
	if st := fl.PublicState(now); st != "pending" {
		return nil, st, nil
	}
	switch fl.State {
	case flow.Ready:
		in, _, err := s.loadFor(ctx, fl, "")
		if err != nil {
			return nil, "", err
		}
		if in.dev, err = s.flowDevice(ctx, fl); err != nil {
			return nil, "", err
		}
		res, err := s.finish(ctx, in, nil, now)
		if errors.Is(err, errRaced) {
			return nil, "", ErrFlow
		}
		if err != nil {
			return nil, "", err
		}
		return res, statusOf(res), nil
	case flow.Device:
		dev, err := s.Store.DeviceByID(ctx, fl.DeviceID)
		if err != nil {
			return nil, "", err
		}
		if dev.Status == device.Revoked {
			s.deny(ctx, fl, "device_refused", now)
			return nil, "denied", nil
		}
		if dev.Status != device.Trusted {
			return &Result{Status: "device_approval_required", Flow: fl, Device: dev}, "pending", nil
		}
		in, _, err := s.loadFor(ctx, fl, "")
		if err != nil {
			return nil, "", err
		}
		in.dev = dev
		res, err := s.finish(ctx, in, nil, now)
		if errors.Is(err, errRaced) {
			return nil, "", ErrFlow
		}
		if err != nil {
			return nil, "", err
		}
		return res, "authenticated", nil
	}
	return &Result{Status: "factor_required", Flow: fl}, "pending", nil
}

func statusOf(r *Result) string {
	if r.Status == "authenticated" {
		return "authenticated"
	}
	return "pending"
}

// deny ends a flow as denied, with its event. A flow another request
// changed meanwhile (finished, or denied already) is left as it is.
func (s *Service) deny(ctx context.Context, fl *flow.Flow, reason string, now time.Time) {
	s.denyWith(ctx, fl, reason, now, nil)
}

// denyWith is deny with more changes (and their events) in the same
// transaction.
func (s *Service) denyWith(ctx context.Context, fl *flow.Flow, reason string, now time.Time, also func(store.Tx) error) {
	next := *fl
	next.Deny()
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if err := tx.UpdateFlow(ctx, &next); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, flowEvent(&next, now, audit.LoginFailed, "reason", reason, "flow", fl.ID))
	})
	switch {
	case err == nil:
		*fl = next
		s.outcome("failed")
	case !errors.Is(err, store.ErrConflict) && s.Log != nil:
		s.Log.ErrorContext(ctx, "deny flow", "err", err)
	}
}

// failAnswer counts a wrong answer on the flow with its event, in one
// transaction; a flow with too many wrong answers is denied. When another
// answer changed the flow first, the failure is still audited (the
// per-user factor counter has counted it).
func (s *Service) failAnswer(ctx context.Context, fl *flow.Flow, kind factor.Kind, reason string, now time.Time) error {
	if err := s.recordFailure(ctx, fl, kind, reason, now); errors.Is(err, errRaced) {
		s.outcome("failed")
		s.audit(ctx, flowEvent(fl, now, audit.FactorFailed, "factor", string(kind), "reason", reason, "flow", fl.ID))
	} else if err != nil {
		return err
	}
	return ErrInvalidCode
}

// recordFailure is failAnswer's transaction: errRaced, with nothing
// stored, when another answer changed the flow first.
func (s *Service) recordFailure(ctx context.Context, fl *flow.Flow, kind factor.Kind, reason string, now time.Time) error {
	next := *fl
	next.Fail(maxFlowAttempts)
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateFlow(ctx, &next); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, flowEvent(&next, now, audit.FactorFailed, "factor", string(kind), "reason", reason, "flow", fl.ID))
	})
	if errors.Is(err, store.ErrConflict) {
		return errRaced
	}
	if err != nil {
		return err
	}
	*fl = next
	s.outcome("failed")
	return nil
}
