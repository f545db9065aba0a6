package login

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/flow"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
)

// PhonePrompt is a pending push as the phone sees it: where the login
// comes from and what it is for, never the number.
type PhonePrompt struct {
	push.Prompt
	Purpose string `json:"purpose"`
}

// phone finds the enrolled push factor whose key has thumbprint jkt.
func (s *Service) phone(ctx context.Context, jkt string) (*factor.Factor, error) {
	f, err := s.Store.FactorByCredentialID(ctx, []byte(jkt))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (f.Kind != factor.Push || !f.Usable())) {
		return nil, ErrFactorUnavailable
	}
	return f, err
}

// PhonePending lists the pushes waiting for the phone holding the key jkt.
func (s *Service) PhonePending(ctx context.Context, jkt string) ([]PhonePrompt, error) {
	f, err := s.phone(ctx, jkt)
	if err != nil {
		return nil, err
	}
	ps, err := s.Store.PendingPushRequests(ctx, f.UserID, s.now())
	if err != nil {
		return nil, err
	}
	out := []PhonePrompt{}
	for _, p := range ps {
		out = append(out, PhonePrompt{Prompt: p.Challenge.Prompt(), Purpose: p.Purpose})
	}
	return out, nil
}

// PhoneAnswer takes the phone's signed answer to a push, or to a notice
// (see [Service.PhoneNotices]; its challenge_id is the notice's id). A wrong number
// or a denial fails the login; "this was not me" also raises the
// account's throttling, is kept in the audit trail and, with
// [Service.Freeze] set, freezes the account in the same transaction.
func (s *Service) PhoneAnswer(ctx context.Context, jkt string, body []byte) (string, error) {
	now := s.now()
	f, err := s.phone(ctx, jkt)
	if err != nil {
		return "", err
	}
	resp, sig, err := push.DecodeResponse(body)
	if err != nil {
		return "", ErrInvalidCode
	}
	pub, err := push.ParsePublicKey(f.PublicKey)
	if err != nil {
		return "", err
	}
	if err := push.Verify(pub, resp, sig); err != nil {
		return "", ErrInvalidCode
	}
	if isNoticeAnswer(resp) {
		return s.answerNotice(ctx, f, resp, now)
	}
	p, err := s.Store.PushRequestByID(ctx, resp.ChallengeID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (p.UserID != f.UserID || p.Outcome != push.RequestPending)) {
		return "", ErrFlow
	}
	if err != nil {
		return "", err
	}
	o, jerr := p.Challenge.Judge(resp, now)
	outcome, event := push.RequestDenied, audit.PushDenied
	switch o {
	case push.Approved:
		outcome, event = push.RequestApproved, audit.PushApproved
	case push.Reported:
		outcome, event = push.RequestReported, audit.PushReported
	case push.Expired:
		outcome, event = push.RequestExpired, audit.PushDenied
	case push.Pending:
		return "", ErrInvalidCode // malformed for this challenge: nothing decided
	}
	detail := map[string]string{"push": p.ID, "purpose": p.Purpose, "phone": f.ID, "from_ip": p.IP}
	if jerr != nil {
		detail["reason"] = jerr.Error()
	}
	f.LastUsedAt = now
	var frozen func()
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.AnswerPushRequest(ctx, p.ID, outcome, now); err != nil {
			return err
		}
		if err := tx.UpdateFactor(ctx, f); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: event, UserID: p.UserID, Actor: p.UserID, Interface: "mobile", Detail: detail}); err != nil {
			return err
		}
		if outcome != push.RequestReported || s.Freeze == nil {
			return nil
		}
		var err error
		frozen, err = s.Freeze(ctx, tx, p.UserID, "phone:"+f.ID, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrFlow // answered already
	}
	if err != nil {
		return "", err
	}
	if frozen != nil {
		frozen()
	}
	if outcome == push.RequestReported {
		s.raiseAccountThrottle(ctx, p.UserID, now)
	}

	fl, err := s.Store.FlowByID(ctx, p.FlowID)
	if err != nil {
		return outcome, nil // a step-up or device flow that is gone
	}
	switch {
	case outcome != push.RequestApproved:
		// A device the phone refused is revoked with its event and the
		// flow's denial, in one transaction.
		var refuse func(store.Tx) error
		if p.Purpose == push.PurposeDevice && p.DeviceID != "" {
			if d, err := s.Store.DeviceByID(ctx, p.DeviceID); err == nil && d.Status == device.Pending {
				refuse = func(tx store.Tx) error {
					if err := tx.SetDeviceStatus(ctx, d.ID, device.Revoked); err != nil {
						return err
					}
					return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.DeviceRevoked, UserID: d.UserID, Actor: d.UserID, Interface: "mobile",
						Detail: details([]string{"device", d.ID, "name", d.Name, "by", "push:" + f.ID, "push", p.ID})})
				}
			}
		}
		s.denyWith(ctx, fl, "push_"+outcome, now, refuse)
	case p.Purpose == push.PurposeDevice:
		if d, err := s.Store.DeviceByID(ctx, p.DeviceID); err == nil {
			if err := s.trustDevice(ctx, d, p.UserID, "push:"+f.ID, now); err != nil {
				return "", err
			}
		}
	case fl.State == flow.Factor:
		fl.Ready(f.Assurance(), factor.Push.AMR(false))
		err := s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.UpdateFlow(ctx, fl); err != nil {
				return err
			}
			if err := tx.ResetThrottle(ctx, throttle.FactorKey(p.UserID)); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, flowEvent(fl, now, audit.FactorVerified, "factor", string(factor.Push), "factor_id", f.ID, "flow", fl.ID))
		})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
	}
	return outcome, nil
}

// raiseAccountThrottle counts a reported push as a burst of failures on
// the account: someone has the password, and guessing gets slower.
func (s *Service) raiseAccountThrottle(ctx context.Context, userID string, now time.Time) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return
	}
	rule := s.Throttle.Account
	_, _, err = s.Store.Reserve(ctx, throttle.AccountKey(u.Username), func(st throttle.State) (throttle.State, bool) {
		st.Failures = max(st.Failures, rule.Free) + 1
		st.LastAt = now
		st.NextAt = now.Add(rule.Delay(st.Failures))
		return st, true
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "raise throttle after a reported push", "err", err)
	}
}

// RegisterPhone enrols a phone as a push authenticator: the phone sends
// its public key, signed, with the one-time enrolment code.
func (s *Service) RegisterPhone(ctx context.Context, body []byte) (*factor.Factor, error) {
	now := s.now()
	reg, err := push.DecodeRegistration(body)
	if err != nil {
		return nil, ErrInvalidCode
	}
	userID, err := s.Store.RedeemPushEnrolment(ctx, token.Hash(reg.Code), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, err
	}
	pub, err := push.MarshalPublicKey(reg.PublicKey)
	if err != nil {
		return nil, ErrInvalidCode
	}
	jkt, err := dpop.Thumbprint(reg.PublicKey)
	if err != nil {
		return nil, ErrInvalidCode
	}
	name := reg.DeviceName
	if !validName(name) {
		name = "Phone"
	}
	f, err := s.newFactor(factor.Push, userID, name, now)
	if err != nil {
		return nil, err
	}
	f.Status, f.ConfirmedAt, f.PublicKey, f.CredentialID = factor.Active, now, pub, []byte(jkt)
	c, err := s.activate(ctx, nil, f, now, true)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrInvalidCode // this key is enrolled already
		}
		return nil, err
	}
	return c.Factor, nil
}
