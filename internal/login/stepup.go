package login

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
)

// StepUp is a request to raise a session's assurance with a fresh factor.
type StepUp struct {
	Factor   factor.Kind
	Code     string          // totp
	Flow     string          // webauthn finish, push poll
	Response json.RawMessage // webauthn assertion
	// IP is the client's address: the session's address once raised, so
	// a session that moved network and stepped up there trades on.
	IP string
}

// StepUpResult is where a step-up stands. When Status is "raised" the
// session holds Assurance and a new token (the old one no longer works).
type StepUpResult struct {
	Status  string // "raised", "pending", "denied"
	Session *session.Session
	Token   string
	Flow    string
	Options json.RawMessage // webauthn
	Number  int             // push
}

// Step raises sess with a fresh proof of a factor. It checks the answer
// as a login does (the same verification), and records the raise, the
// proof's use and its event in one transaction.
func (s *Service) Step(ctx context.Context, sess *session.Session, req StepUp) (_ *StepUpResult, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	if req.IP != "" {
		moved := *sess
		moved.IP = req.IP
		sess = &moved
	}
	binding := "session:" + sess.ID
	switch req.Factor {
	case factor.TOTP:
		in, fs, err := s.loadFor(ctx, s.stepFlow(sess, now), factor.TOTP)
		if err != nil {
			return nil, err
		}
		g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
		if err != nil {
			return nil, err
		}
		p, reason := s.verifyTOTP(ctx, fs, req.Code, now)
		if p == nil {
			held = nil // a wrong code counts
			s.wrong(ctx, g, sess.Door, sess.IP, now)
			return nil, s.failStep(ctx, sess, factor.TOTP, reason, now)
		}
		return s.raise(ctx, sess, p, p.spend, now)
	case factor.WebAuthn, factor.Push:
		if req.Flow == "" {
			return s.beginStep(ctx, sess, req.Factor, now)
		}
		fl, err := s.flow(ctx, req.Flow, binding)
		if err != nil {
			return nil, err
		}
		if fl.State == flow.Denied {
			return &StepUpResult{Status: "denied"}, nil
		}
		if fl.Expired(now) {
			return nil, ErrFlow
		}
		if req.Factor == factor.Push {
			if fl.State != flow.Ready {
				return &StepUpResult{Status: "pending", Flow: fl.ID}, nil
			}
			// The flow's assurance is what the approved push proved.
			fl.Authenticate(sess.ID)
			return s.raiseTo(ctx, sess, fl.Assurance, factor.Push.AMR(false), func(ctx context.Context, tx store.Tx) error { return tx.UpdateFlow(ctx, fl) }, now)
		}
		var ch webauthnChallenge
		if fl.State != flow.Factor || json.Unmarshal(fl.Challenge, &ch) != nil || len(ch.Session) == 0 {
			return nil, ErrFlow
		}
		in, fs, err := s.loadFor(ctx, fl, factor.WebAuthn)
		if err != nil {
			return nil, err
		}
		g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
		if err != nil {
			return nil, err
		}
		// One ceremony, one answer: the flow is spent before the answer is
		// checked. Only a conflict means another answer spent it; any other
		// failure is the store's.
		fl.Authenticate(sess.ID)
		if err := s.Store.UpdateFlow(ctx, fl); errors.Is(err, store.ErrConflict) {
			return nil, ErrFlow
		} else if err != nil {
			return nil, err
		}
		p, reason, err := s.verifyAssertion(ctx, in.u, fs, ch.Session, req.Response, sess.Door, sess.IP, now)
		if err != nil {
			return nil, err
		}
		if p == nil {
			held = nil // a wrong answer counts
			s.wrong(ctx, g, sess.Door, sess.IP, now)
			return nil, s.failStep(ctx, sess, factor.WebAuthn, reason, now)
		}
		return s.raise(ctx, sess, p, p.spend, now)
	}
	return nil, ErrFactorUnavailable
}

// failStep audits a wrong step-up answer.
func (s *Service) failStep(ctx context.Context, sess *session.Session, kind factor.Kind, reason string, now time.Time) error {
	s.audit(ctx, sessionEvent(sess, now, audit.FactorFailed, "factor", string(kind), "reason", reason, "action", "step_up"))
	return ErrInvalidCode
}

// stepFlow is the in-memory flow a step-up of sess is checked against.
func (s *Service) stepFlow(sess *session.Session, now time.Time) *flow.Flow {
	return &flow.Flow{UserID: sess.UserID, Door: sess.Door, Binding: "session:" + sess.ID, IP: sess.IP, DeviceName: sess.DeviceName,
		State: flow.Factor, Assurance: sess.Assurance, AMR: sess.AMR, CreatedAt: now, ExpiresAt: now.Add(s.flowLifetime())}
}

// beginStep starts a WebAuthn or push step-up in a flow bound to the
// session, stored once with its challenge.
func (s *Service) beginStep(ctx context.Context, sess *session.Session, kind factor.Kind, now time.Time) (*StepUpResult, error) {
	in, fs, err := s.loadFor(ctx, s.stepFlow(sess, now), kind)
	if err != nil {
		return nil, err
	}
	id, err := token.New(s.Rand, 16)
	if err != nil {
		return nil, err
	}
	fl := in.fl
	fl.ID = "flw_" + id
	out := &StepUpResult{Status: "pending", Flow: fl.ID}
	if kind == factor.Push {
		out.Number, fl.Challenge, err = s.pushFor(ctx, fl, now)
	} else {
		out.Options, fl.Challenge, err = s.beginAssertion(in.u, fs)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Store.CreateFlow(ctx, fl); err != nil {
		return nil, err
	}
	return out, nil
}

// raise records a step-up proven by p, spending it (spend, in the same
// transaction as the raise and its event).
func (s *Service) raise(ctx context.Context, sess *session.Session, p *proof, spend func(context.Context, store.Tx) error, now time.Time) (*StepUpResult, error) {
	res, err := s.raiseTo(ctx, sess, p.assurance(), p.amr(), spend, now)
	if errors.Is(err, errSpent) {
		return nil, s.failStep(ctx, sess, p.kind, "replayed_code", now)
	}
	return res, err
}

// raiseTo records a step-up: the session's assurance becomes the higher of
// what it held and aal, its proof time now, and its token is replaced, so
// a token copied before the step-up gains nothing. The raise, the proof's
// use (spend), the cleared factor counter and the event commit together.
func (s *Service) raiseTo(ctx context.Context, sess *session.Session, aal session.Assurance, amr string, spend func(context.Context, store.Tx) error, now time.Time) (*StepUpResult, error) {
	tok, err := token.New(s.Rand, 32)
	if err != nil {
		return nil, err
	}
	ns := *sess
	ns.Assurance, ns.AMR, ns.AuthTime, ns.TokenHash = max(sess.Assurance, aal), session.AddAMR(sess.AMR, amr), now, token.Hash(tok)
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if spend != nil {
			if err := spend(ctx, tx); err != nil {
				return err
			}
		}
		if err := tx.RaiseSession(ctx, ns.ID, ns.Assurance, ns.AMR, now, ns.TokenHash, ns.IP); err != nil {
			return err
		}
		if err := tx.ResetThrottle(ctx, throttle.FactorKey(sess.UserID)); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, sessionEvent(sess, now, audit.StepUp, "session", sess.ID, "aal", ns.Assurance.String(), "previous_aal", sess.Assurance.String(), "amr", amr))
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrFlow
	}
	if err != nil {
		return nil, err
	}
	return &StepUpResult{Status: "raised", Session: &ns, Token: tok}, nil
}
