package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/notify"
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
	// Mail sends device approval links; nil: no links are sent.
	Mail notify.Mailer
	// Origin is the public origin links point to.
	Origin         string
	FlowLifetime   time.Duration
	PushLifetime   time.Duration
	MaxPendingPush int
	StepUpWindow   time.Duration
	Policy         map[user.Profile]FactorPolicy
	// Throttle slows down guessing of second-factor codes per user.
	Throttle throttle.Rule
	// Notices, when set, e-mails each user about every new sign-in, so a
	// takeover does not go unnoticed until positions move.
	Notices *notify.Queue
}

// FactorPolicy is one trader profile's factor policy.
type FactorPolicy struct {
	Forbid       []factor.Kind
	MinAssurance map[session.Interface]session.Assurance
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
	Interface session.Interface
	Profile   user.Profile
	Need      session.Assurance
}

func (e *AssuranceError) Error() string {
	return fmt.Sprintf("login: %s logins need %v for the %s profile", e.Interface, e.Need, e.Profile)
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

func flowJKT(fl *session.Flow) string {
	if jkt, ok := strings.CutPrefix(fl.Binding, "jkt:"); ok {
		return jkt
	}
	return ""
}

func (s *Service) policy(u *user.User) FactorPolicy {
	if p, ok := s.Factors.Policy[u.Profile]; ok {
		return p
	}
	return FactorPolicy{MinAssurance: map[session.Interface]session.Assurance{session.Web: session.AAL2, session.Desktop: session.AAL2, session.Mobile: session.AAL2}}
}

// offers lists the factors that can take u through iface, and whether u
// has any strong factor at all.
func (s *Service) offers(ctx context.Context, u *user.User, iface session.Interface) ([]Offer, bool, error) {
	fs, strong, err := s.candidates(ctx, u, iface)
	if err != nil {
		return nil, false, err
	}
	var out []Offer
	for _, f := range fs {
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

// candidates returns u's usable factors that the profile's policy allows
// on iface and that reach its minimum assurance, and whether u has any
// usable strong factor at all.
func (s *Service) candidates(ctx context.Context, u *user.User, iface session.Interface) ([]*factor.Factor, bool, error) {
	fs, err := s.Store.FactorsOfUser(ctx, u.ID)
	if err != nil {
		return nil, false, err
	}
	pol := s.policy(u)
	need := pol.MinAssurance[iface]
	var out []*factor.Factor
	strong := false
	for _, f := range fs {
		if !f.Usable() {
			continue
		}
		strong = strong || f.Kind.Strong()
		if pol.Allows(f.Kind) && f.Assurance() >= need && s.kindOn(f.Kind) {
			out = append(out, f)
		}
	}
	return out, strong, nil
}

// Offers lists the factors that can take the user through iface — the
// user's usable factors the profile's policy allows there and that reach
// its minimum assurance, and recovery codes when some are left — for a
// client to show. Answers are checked against the same rule again.
func (s *Service) Offers(ctx context.Context, userID string, iface session.Interface) ([]Offer, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	offers, _, err := s.offers(ctx, u, iface)
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

// afterPassword continues a login whose password was right.
func (s *Service) afterPassword(ctx context.Context, u *user.User, req Request, dev *device.Device, now time.Time) (*Result, error) {
	id, err := token.New(s.Rand, 16)
	if err != nil {
		return nil, err
	}
	fl := &session.Flow{ID: "flw_" + id, UserID: u.ID, Interface: req.Interface, IP: req.IP.String(), UserAgent: truncate(req.UserAgent, 256),
		DeviceName: deviceName(req), State: session.FlowFactor, Assurance: session.AAL1, AMR: "pwd", CreatedAt: now, ExpiresAt: now.Add(s.flowLifetime())}
	res := &Result{User: u}
	if req.Interface.KeyBound() {
		fl.Binding = BindingForKey(req.JKT)
	} else {
		if res.FlowSecret, err = token.New(s.Rand, 32); err != nil {
			return nil, err
		}
		fl.Binding = BindingForSecret(res.FlowSecret)
	}
	if dev != nil {
		fl.DeviceID = dev.ID
	}
	offers, strong, err := s.offers(ctx, u, req.Interface)
	if err != nil {
		return nil, err
	}
	switch {
	case len(offers) > 0:
		if err := s.Store.CreateFlow(ctx, fl); err != nil {
			return nil, err
		}
		res.Status, res.Flow, res.Offers = "factor_required", fl, offers
		return res, nil
	case strong:
		s.audit(ctx, &audit.Event{Time: now, Type: audit.LoginFailed, UserID: u.ID, Actor: u.ID, Interface: string(req.Interface), IP: fl.IP,
			Detail: map[string]string{"reason": "assurance_unreachable"}})
		return nil, &AssuranceError{Interface: req.Interface, Profile: u.Profile, Need: s.policy(u).MinAssurance[req.Interface]}
	}
	// No second factor yet: an AAL1 session for enrolment, through device
	// validation like any other.
	if err := s.Store.CreateFlow(ctx, fl); err != nil {
		return nil, err
	}
	r, err := s.complete(ctx, fl, now)
	if err != nil {
		return nil, err
	}
	r.FlowSecret = res.FlowSecret
	return r, nil
}

func (s *Service) flowLifetime() time.Duration {
	if s.Factors.FlowLifetime > 0 {
		return s.Factors.FlowLifetime
	}
	return 5 * time.Minute
}

// flow loads a flow for the client holding binding. A flow that is
// unknown, not bound to this client or expired is ErrFlow, all alike.
func (s *Service) flow(ctx context.Context, id, binding string, now time.Time) (*session.Flow, error) {
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
func (s *Service) pendingFlow(ctx context.Context, id, binding string, now time.Time) (*session.Flow, error) {
	fl, err := s.flow(ctx, id, binding, now)
	if err != nil {
		return nil, err
	}
	if fl.State != session.FlowFactor || fl.Expired(now) {
		return nil, ErrFlow
	}
	return fl, nil
}

// complete finishes a flow whose factors are proven: it mints the session,
// or, for a device the user has not used before, asks for its approval.
func (s *Service) complete(ctx context.Context, fl *session.Flow, now time.Time) (*Result, error) {
	u, err := s.Store.UserByID(ctx, fl.UserID)
	if err != nil {
		return nil, err
	}
	var dev *device.Device
	if fl.DeviceID != "" {
		if dev, err = s.Store.DeviceByID(ctx, fl.DeviceID); err != nil {
			return nil, err
		}
	}
	res := &Result{User: u, Flow: fl}
	if dev == nil || dev.Status != device.Trusted {
		devices, err := s.Store.DevicesOfUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		trusted := 0
		for _, d := range devices {
			if d.Status == device.Trusted {
				trusted++
			}
		}
		status := device.Pending
		if trusted == 0 {
			status = device.Trusted // the first device is trusted on first use
		}
		err = s.Store.InTx(ctx, func(tx store.Tx) error {
			if dev == nil {
				if dev, res.DeviceCookie, err = s.newDevice(ctx, tx, fl, status, now); err != nil {
					return err
				}
			} else if dev.Status != status {
				if err := tx.SetDeviceStatus(ctx, dev.ID, status); err != nil {
					return err
				}
				dev.Status = status
			}
			fl.DeviceID = dev.ID
			if status == device.Trusted {
				return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.DeviceTrusted, UserID: u.ID, Actor: u.ID, Interface: string(fl.Interface), IP: fl.IP,
					Detail: map[string]string{"device": dev.ID, "by": "first_use"}})
			}
			fl.State, fl.NewDevice = session.FlowDevice, true
			if err := tx.UpdateFlow(ctx, fl); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.DeviceNew, UserID: u.ID, Actor: u.ID, Interface: string(fl.Interface), IP: fl.IP,
				Detail: map[string]string{"device": dev.ID, "name": dev.Name}})
		})
		if err != nil {
			return nil, err
		}
		if dev.Status != device.Trusted {
			res.Number = s.requestApproval(ctx, u, fl, dev, now)
			res.Status, res.Device = "device_approval_required", dev
			return res, nil
		}
	}
	return s.mintFlow(ctx, u, fl, dev, res, now)
}

// mintFlow mints the flow's session once: the flow's version makes a
// second pickup fail.
func (s *Service) mintFlow(ctx context.Context, u *user.User, fl *session.Flow, dev *device.Device, res *Result, now time.Time) (*Result, error) {
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if res.Session, res.Token, err = s.mint(ctx, tx, fl, dev, now); err != nil {
			return err
		}
		if err := tx.TouchDevice(ctx, dev.ID, now); err != nil {
			return err
		}
		fl.State, fl.SessionID, fl.Challenge = session.FlowAuthenticated, res.Session.ID, nil
		return tx.UpdateFlow(ctx, fl)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrFlow
	}
	if err != nil {
		return nil, err
	}
	strong, err := s.hasStrong(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	res.Status, res.EnrolmentRequired = "authenticated", !strong
	s.outcome("succeeded")
	s.noticeSignIn(u, res.Session, dev)
	return res, nil
}

// noticeSignIn queues the e-mail that tells a user of a new sign-in.
func (s *Service) noticeSignIn(u *user.User, ss *session.Session, dev *device.Device) {
	if s.Factors.Notices == nil || u.Email == "" {
		return
	}
	door := map[session.Interface]string{session.Web: "the web portal", session.Desktop: "the desktop workstation", session.Mobile: "the mobile app"}[ss.Interface]
	body := "Your gatehouse account was just signed in to:\n\n" +
		"  door:   " + door + "\n  device: " + dev.Name + "\n  from:   " + ss.IP + "\n  at:     " + ss.CreatedAt.Format(time.RFC1123) +
		"\n  proof:  " + ss.Assurance.String() + " (" + ss.AMR + ")\n\n" +
		"If this was you, there is nothing to do.\n\n" +
		"If it was not: end the session now at " + s.Factors.Origin + "/sessions, change your password, and call your broker. " +
		"Someone who can sign in can trade."
	s.Factors.Notices.Enqueue(notify.Mail{To: u.Email, Subject: "New sign-in to your gatehouse account", Body: body})
}

// Poll reports a flow's state to its client and, when every proof is in
// (a push approved on the phone, the device approved), mints its session.
func (s *Service) Poll(ctx context.Context, flowID, binding string) (*Result, string, error) {
	now := s.now()
	fl, err := s.flow(ctx, flowID, binding, now)
	if err != nil {
		return nil, "", err
	}
	if st := fl.PublicState(now); st != "pending" {
		return nil, st, nil
	}
	switch fl.State {
	case session.FlowReady:
		res, err := s.complete(ctx, fl, now)
		if err != nil {
			return nil, "", err
		}
		return res, statusOf(res), nil
	case session.FlowDevice:
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
		u, err := s.Store.UserByID(ctx, fl.UserID)
		if err != nil {
			return nil, "", err
		}
		res, err := s.mintFlow(ctx, u, fl, dev, &Result{User: u, Flow: fl}, now)
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

// deny ends a flow as denied.
func (s *Service) deny(ctx context.Context, fl *session.Flow, reason string, now time.Time) {
	fl.State = session.FlowDenied
	if err := s.Store.UpdateFlow(ctx, fl); err != nil && !errors.Is(err, store.ErrConflict) {
		s.Log.ErrorContext(ctx, "deny flow", "err", err)
	}
	s.outcome("failed")
	s.audit(ctx, &audit.Event{Time: now, Type: audit.LoginFailed, UserID: fl.UserID, Actor: fl.UserID, Interface: string(fl.Interface), IP: fl.IP,
		Detail: map[string]string{"reason": reason, "flow": fl.ID}})
}

// reserveFactor takes one second-factor attempt from the user's budget.
func (s *Service) reserveFactor(ctx context.Context, userID string, now time.Time) error {
	var wait time.Duration
	_, ok, err := s.Store.Reserve(ctx, throttle.FactorKey(userID), func(st throttle.State) (throttle.State, bool) {
		next, ok, d := s.Factors.Throttle.Reserve(st, now)
		wait = d
		return next, ok
	})
	if err != nil {
		return err
	}
	if !ok {
		return &ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
	}
	return nil
}

// failAnswer counts a wrong answer on the flow and audits it; a flow with
// too many wrong answers is denied.
func (s *Service) failAnswer(ctx context.Context, fl *session.Flow, kind factor.Kind, reason string, now time.Time) error {
	fl.Attempts++
	if fl.Attempts >= maxFlowAttempts {
		fl.State = session.FlowDenied
	}
	if err := s.Store.UpdateFlow(ctx, fl); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	s.outcome("failed")
	s.audit(ctx, &audit.Event{Time: now, Type: audit.FactorFailed, UserID: fl.UserID, Actor: fl.UserID, Interface: string(fl.Interface), IP: fl.IP,
		Detail: map[string]string{"factor": string(kind), "reason": reason, "flow": fl.ID}})
	return ErrInvalidCode
}

// proven records a factor proven on the flow, and completes it.
func (s *Service) proven(ctx context.Context, fl *session.Flow, f *factor.Factor, kind factor.Kind, now time.Time) (*Result, error) {
	if err := s.Store.ResetThrottle(ctx, throttle.FactorKey(fl.UserID)); err != nil {
		return nil, err
	}
	aal, deviceBound, id := session.AAL1, false, ""
	if f != nil {
		aal, deviceBound, id = f.Assurance(), f.DeviceBound, f.ID
	}
	fl.Assurance = max(fl.Assurance, aal)
	fl.AMR = addAMR(fl.AMR, kind.AMR(deviceBound))
	fl.Challenge = nil
	if err := s.Store.UpdateFlow(ctx, fl); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrFlow
		}
		return nil, err
	}
	s.audit(ctx, &audit.Event{Time: now, Type: audit.FactorVerified, UserID: fl.UserID, Actor: fl.UserID, Interface: string(fl.Interface), IP: fl.IP,
		Detail: map[string]string{"factor": string(kind), "factor_id": id, "flow": fl.ID}})
	return s.complete(ctx, fl, now)
}

func addAMR(amr, m string) string {
	for _, x := range strings.Fields(amr) {
		if x == m {
			return amr
		}
	}
	return strings.TrimSpace(amr + " " + m)
}

// usableFactors returns the flow user's factors of kind that can answer
// it (see candidates), or ErrFactorUnavailable when there are none.
func (s *Service) usableFactors(ctx context.Context, fl *session.Flow, kind factor.Kind) ([]*factor.Factor, error) {
	u, err := s.Store.UserByID(ctx, fl.UserID)
	if err != nil {
		return nil, err
	}
	fs, _, err := s.candidates(ctx, u, fl.Interface)
	if err != nil {
		return nil, err
	}
	var out []*factor.Factor
	for _, f := range fs {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, ErrFactorUnavailable
	}
	return out, nil
}
