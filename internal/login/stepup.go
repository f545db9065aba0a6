package login

import (
	"context"
	"encoding/json"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/token"
)

// StepUp is a request to raise a session's assurance with a fresh factor.
type StepUp struct {
	Factor   factor.Kind
	Code     string          // totp
	Flow     string          // webauthn finish, push poll
	Response json.RawMessage // webauthn assertion
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

// Step raises sess with a fresh proof of a factor.
func (s *Service) Step(ctx context.Context, sess *session.Session, req StepUp) (*StepUpResult, error) {
	now := s.now()
	binding := "session:" + sess.ID
	switch req.Factor {
	case factor.TOTP:
		fl := s.stepFlow(sess, now)
		fs, err := s.usableFactors(ctx, fl, factor.TOTP)
		if err != nil {
			return nil, err
		}
		if err := s.reserveFactor(ctx, sess.UserID, now); err != nil {
			return nil, err
		}
		f, reason := s.checkTOTP(ctx, fs, req.Code, now)
		if f == nil {
			s.audit(ctx, &audit.Event{Time: now, Type: audit.FactorFailed, UserID: sess.UserID, Actor: sess.UserID, Interface: string(sess.Interface), IP: sess.IP,
				Detail: map[string]string{"factor": "totp", "reason": reason, "action": "step_up"}})
			return nil, ErrInvalidCode
		}
		return s.raise(ctx, sess, f.Assurance(), factor.TOTP.AMR(false), now)
	case factor.WebAuthn, factor.Push:
		if req.Flow == "" {
			return s.beginStep(ctx, sess, req.Factor, now)
		}
		fl, err := s.flow(ctx, req.Flow, binding, now)
		if err != nil {
			return nil, err
		}
		if fl.State == session.FlowDenied {
			return &StepUpResult{Status: "denied"}, nil
		}
		if fl.Expired(now) {
			return nil, ErrFlow
		}
		if req.Factor == factor.Push {
			if fl.State != session.FlowReady {
				return &StepUpResult{Status: "pending", Flow: fl.ID}, nil
			}
			fl.State = session.FlowAuthenticated
			if err := s.Store.UpdateFlow(ctx, fl); err != nil {
				return nil, ErrFlow
			}
			return s.raise(ctx, sess, fl.Assurance, factor.Push.AMR(false), now)
		}
		var ch webauthnChallenge
		if fl.State != session.FlowFactor || json.Unmarshal(fl.Challenge, &ch) != nil || len(ch.Session) == 0 {
			return nil, ErrFlow
		}
		fs, err := s.usableFactors(ctx, fl, factor.WebAuthn)
		if err != nil {
			return nil, err
		}
		if err := s.reserveFactor(ctx, sess.UserID, now); err != nil {
			return nil, err
		}
		u, err := s.Store.UserByID(ctx, sess.UserID)
		if err != nil {
			return nil, err
		}
		fl.State, fl.Challenge = session.FlowAuthenticated, nil // one ceremony, one answer
		if err := s.Store.UpdateFlow(ctx, fl); err != nil {
			return nil, ErrFlow
		}
		f, err := s.verifyAssertion(ctx, u, fs, ch.Session, req.Response, sess.Interface, sess.IP, now)
		if err != nil {
			s.audit(ctx, &audit.Event{Time: now, Type: audit.FactorFailed, UserID: sess.UserID, Actor: sess.UserID, Interface: string(sess.Interface), IP: sess.IP,
				Detail: map[string]string{"factor": "webauthn", "reason": err.Error(), "action": "step_up"}})
			return nil, ErrInvalidCode
		}
		return s.raise(ctx, sess, f.Assurance(), factor.WebAuthn.AMR(f.DeviceBound), now)
	}
	return nil, ErrFactorUnavailable
}

// stepFlow is the in-memory flow a step-up of sess is checked against.
func (s *Service) stepFlow(sess *session.Session, now time.Time) *session.Flow {
	return &session.Flow{UserID: sess.UserID, Interface: sess.Interface, Binding: "session:" + sess.ID, IP: sess.IP, DeviceName: sess.DeviceName,
		State: session.FlowFactor, Assurance: sess.Assurance, AMR: sess.AMR, CreatedAt: now, ExpiresAt: now.Add(s.flowLifetime())}
}

// beginStep starts a WebAuthn or push step-up in a flow bound to the session.
func (s *Service) beginStep(ctx context.Context, sess *session.Session, kind factor.Kind, now time.Time) (*StepUpResult, error) {
	fl := s.stepFlow(sess, now)
	if _, err := s.usableFactors(ctx, fl, kind); err != nil {
		return nil, err
	}
	id, err := token.New(s.Rand, 16)
	if err != nil {
		return nil, err
	}
	fl.ID = "flw_" + id
	if err := s.Store.CreateFlow(ctx, fl); err != nil {
		return nil, err
	}
	out := &StepUpResult{Status: "pending", Flow: fl.ID}
	if kind == factor.Push {
		out.Number, err = s.StartPush(ctx, fl.ID, fl.Binding)
	} else {
		out.Options, err = s.BeginWebAuthn(ctx, fl.ID, fl.Binding)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// raise records a step-up: the session's assurance becomes the higher of
// what it held and what was proven, its proof time now, and its token is
// replaced, so a token copied before the step-up gains nothing.
func (s *Service) raise(ctx context.Context, sess *session.Session, aal session.Assurance, amr string, now time.Time) (*StepUpResult, error) {
	tok, err := token.New(s.Rand, 32)
	if err != nil {
		return nil, err
	}
	ns := *sess
	ns.Assurance, ns.AMR, ns.AuthTime, ns.TokenHash = max(sess.Assurance, aal), addAMR(sess.AMR, amr), now, token.Hash(tok)
	if err := s.Store.RaiseSession(ctx, ns.ID, ns.Assurance, ns.AMR, now, ns.TokenHash); err != nil {
		return nil, err
	}
	s.audit(ctx, &audit.Event{Time: now, Type: audit.StepUp, UserID: sess.UserID, Actor: sess.UserID, Interface: string(sess.Interface), IP: sess.IP,
		Detail: map[string]string{"session": sess.ID, "aal": ns.Assurance.String(), "amr": amr}})
	return &StepUpResult{Status: "raised", Session: &ns, Token: tok}, nil
}
