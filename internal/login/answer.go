package login

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/factor/recovery"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// AnswerTOTP answers a flow with a TOTP code.
func (s *Service) AnswerTOTP(ctx context.Context, flowID, binding, code string) (*Result, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	fs, err := s.usableFactors(ctx, fl, factor.TOTP)
	if err != nil {
		return nil, err
	}
	if err := s.reserveFactor(ctx, fl.UserID, now); err != nil {
		return nil, err
	}
	f, reason := s.checkTOTP(ctx, fs, code, now)
	if f == nil {
		return nil, s.failAnswer(ctx, fl, factor.TOTP, reason, now)
	}
	return s.proven(ctx, fl, f, factor.TOTP, now)
}

// checkTOTP finds the factor among fs that code belongs to and spends the
// code's time step, so it is never accepted again.
func (s *Service) checkTOTP(ctx context.Context, fs []*factor.Factor, code string, now time.Time) (*factor.Factor, string) {
	reason := "wrong_code"
	for _, f := range fs {
		seed, err := s.Factors.Seal.Open(f.Secret, []byte(f.ID))
		if err != nil {
			s.Log.ErrorContext(ctx, "open TOTP seed", "factor", f.ID, "err", err)
			continue
		}
		step, err := totp.Verify(string(seed), code, f.LastStep, now)
		switch {
		case errors.Is(err, totp.ErrReplayed):
			reason = "replayed_code"
			continue
		case errors.Is(err, totp.ErrMalformed):
			return nil, "malformed_code"
		case err != nil:
			continue
		}
		// Two logins racing with one code: only one advances the step.
		if err := s.Store.AdvanceTOTP(ctx, f.ID, step, now); err != nil {
			return nil, "replayed_code"
		}
		return f, ""
	}
	return nil, reason
}

// AnswerRecovery answers a flow with a recovery code. It is single-use,
// gives AAL1 only (enough to enrol a new factor) and is always audited.
func (s *Service) AnswerRecovery(ctx context.Context, flowID, binding, code string) (*Result, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	if err := s.reserveFactor(ctx, fl.UserID, now); err != nil {
		return nil, err
	}
	codes, err := s.Store.RecoveryCodes(ctx, fl.UserID)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		if c.UsedAt.IsZero() {
			hashes[i] = c.Hash
		}
	}
	i, ok := recovery.Match(code, hashes)
	if !ok {
		return nil, s.failAnswer(ctx, fl, factor.Recovery, "wrong_code", now)
	}
	if err := s.Store.UseRecoveryCode(ctx, fl.UserID, codes[i].Index, now); err != nil {
		return nil, s.failAnswer(ctx, fl, factor.Recovery, "replayed_code", now)
	}
	left := 0
	for _, h := range hashes {
		if h != nil {
			left++
		}
	}
	s.audit(ctx, &audit.Event{Time: now, Type: audit.RecoveryUsed, UserID: fl.UserID, Actor: fl.UserID, Interface: string(fl.Interface), IP: fl.IP,
		Detail: map[string]string{"left": strconv.Itoa(left - 1), "flow": fl.ID}})
	return s.proven(ctx, fl, nil, factor.Recovery, now)
}

// webauthnUser is u as the WebAuthn relying party sees it, with the
// credentials of fs. The user id is random, so it is the handle.
func webauthnUser(u *user.User, fs []*factor.Factor) (webauthn.User, map[string]*factor.Factor) {
	wu := webauthn.User{Handle: []byte(u.ID), Name: u.Username}
	byID := map[string]*factor.Factor{}
	for _, f := range fs {
		var c webauthn.Credential
		if f.Kind != factor.WebAuthn || f.Status != factor.Active || json.Unmarshal(f.Data, &c) != nil {
			continue
		}
		wu.Credentials = append(wu.Credentials, c)
		byID[string(c.ID)] = f
	}
	return wu, byID
}

type webauthnChallenge struct {
	Session []byte `json:"webauthn_session"`
}

// BeginWebAuthn starts a WebAuthn assertion on a flow and returns the
// options for navigator.credentials.get.
func (s *Service) BeginWebAuthn(ctx context.Context, flowID, binding string) ([]byte, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	fs, err := s.usableFactors(ctx, fl, factor.WebAuthn)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, fl.UserID)
	if err != nil {
		return nil, err
	}
	wu, _ := webauthnUser(u, fs)
	opts, sess, err := s.Factors.WebAuthn.BeginLogin(wu)
	if err != nil {
		return nil, ErrFactorUnavailable
	}
	fl.Challenge, _ = json.Marshal(webauthnChallenge{Session: sess})
	if err := s.Store.UpdateFlow(ctx, fl); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishWebAuthn answers a flow with a WebAuthn assertion.
func (s *Service) FinishWebAuthn(ctx context.Context, flowID, binding string, response []byte) (*Result, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	var ch webauthnChallenge
	if json.Unmarshal(fl.Challenge, &ch) != nil || len(ch.Session) == 0 {
		return nil, s.failAnswer(ctx, fl, factor.WebAuthn, "no_ceremony", now)
	}
	fs, err := s.usableFactors(ctx, fl, factor.WebAuthn)
	if err != nil {
		return nil, err
	}
	if err := s.reserveFactor(ctx, fl.UserID, now); err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, fl.UserID)
	if err != nil {
		return nil, err
	}
	fl.Challenge = nil // one ceremony, one answer
	f, err := s.verifyAssertion(ctx, u, fs, ch.Session, response, fl.Interface, fl.IP, now)
	if err != nil {
		return nil, s.failAnswer(ctx, fl, factor.WebAuthn, err.Error(), now)
	}
	return s.proven(ctx, fl, f, factor.WebAuthn, now)
}

// verifyAssertion checks a WebAuthn assertion and stores the credential's
// new counter; a counter that went backwards flags the credential.
func (s *Service) verifyAssertion(ctx context.Context, u *user.User, fs []*factor.Factor, sess, response []byte, iface session.Interface, ip string, now time.Time) (*factor.Factor, error) {
	wu, byID := webauthnUser(u, fs)
	cred, err := s.Factors.WebAuthn.FinishLogin(wu, sess, response)
	f := byID[string(cred.ID)]
	if errors.Is(err, webauthn.ErrCloned) && f != nil {
		f.Flag = factor.FlagPossibleClone
		f.Data, _ = json.Marshal(cred)
		uerr := s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.UpdateFactor(ctx, f); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.FactorCloneSuspect, UserID: u.ID, Actor: u.ID, Interface: string(iface), IP: ip,
				Detail: map[string]string{"factor": f.ID, "name": f.Name}})
		})
		if uerr != nil {
			return nil, uerr
		}
		return nil, errors.New("counter_went_backwards")
	}
	if err != nil || f == nil {
		return nil, errors.New("invalid_assertion")
	}
	f.Data, _ = json.Marshal(cred)
	f.LastUsedAt = now
	if err := s.Store.UpdateFactor(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

type pushChallenge struct {
	PushID string `json:"push_id"`
}

// StartPush sends a push to the user's phone for a flow and returns the
// number the login screen shows; the user types it into the phone.
func (s *Service) StartPush(ctx context.Context, flowID, binding string) (int, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return 0, err
	}
	if _, err := s.usableFactors(ctx, fl, factor.Push); err != nil {
		return 0, err
	}
	var old pushChallenge
	if json.Unmarshal(fl.Challenge, &old) == nil && old.PushID != "" {
		if p, err := s.Store.PushRequestByID(ctx, old.PushID); err == nil && p.Outcome == factor.PushPending && now.Before(p.ExpiresAt) {
			return p.Number, nil // the same push, not a new one: no push bombing by reloading
		}
	}
	p, err := s.newPush(ctx, fl.UserID, factor.PurposeLogin, fl, "", now)
	if err != nil {
		return 0, err
	}
	fl.Challenge, _ = json.Marshal(pushChallenge{PushID: p.ID})
	if err := s.Store.UpdateFlow(ctx, fl); err != nil {
		return 0, err
	}
	return p.Number, nil
}

// newPush stores a push request for the user's phone, refusing when too
// many are unanswered.
func (s *Service) newPush(ctx context.Context, userID, purpose string, fl *session.Flow, deviceID string, now time.Time) (*factor.PushRequest, error) {
	pending, err := s.Store.PendingPushRequests(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	if max := s.Factors.MaxPendingPush; max > 0 && len(pending) >= max {
		return nil, ErrTooManyPushes
	}
	ch, err := push.NewChallenge(s.Rand, push.Login{UserID: userID, Interface: string(fl.Interface), IP: fl.IP, DeviceName: fl.DeviceName}, s.Factors.PushLifetime, now)
	if err != nil {
		return nil, err
	}
	p := &factor.PushRequest{Challenge: ch, FlowID: fl.ID, Purpose: purpose, DeviceID: deviceID, Outcome: factor.PushPending}
	if err := s.Store.CreatePushRequest(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

type smsChallenge struct {
	SMS sms.Challenge `json:"sms"`
}

// SendSMS sends a code to the user's SMS factor for a flow and returns the
// masked number. Sends are limited per user and per number.
func (s *Service) SendSMS(ctx context.Context, flowID, binding string) (string, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return "", err
	}
	fs, err := s.usableFactors(ctx, fl, factor.SMS)
	if err != nil {
		return "", err
	}
	phone := fs[0].Phone
	if err := s.limitSMS(ctx, fl.UserID, phone, now); err != nil {
		return "", err
	}
	ch, code, err := sms.NewChallenge(s.Rand, phone, now)
	if err != nil {
		return "", err
	}
	fl.Challenge, _ = json.Marshal(smsChallenge{SMS: ch})
	if err := s.Store.UpdateFlow(ctx, fl); err != nil {
		return "", err
	}
	if err := s.Factors.SMS.Send(ctx, phone, "Your gatehouse code is "+code+". Do not share it; gatehouse never asks for it by phone."); err != nil {
		return "", err
	}
	return sms.MaskPhone(phone), nil
}

// smsRule limits sends: three at once, then one a minute, doubling.
var smsRule = throttle.Rule{Free: 3, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour}

func (s *Service) limitSMS(ctx context.Context, userID, phone string, now time.Time) error {
	for _, key := range []string{"sms-user:" + userID, "sms-number:" + phone} {
		var wait time.Duration
		_, ok, err := s.Store.Reserve(ctx, key, func(st throttle.State) (throttle.State, bool) {
			next, ok, d := smsRule.Reserve(st, now)
			wait = d
			return next, ok
		})
		if err != nil {
			return err
		}
		if !ok {
			return &ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
		}
	}
	return nil
}

// VerifySMS answers a flow with the code sent by SMS.
func (s *Service) VerifySMS(ctx context.Context, flowID, binding, code string) (*Result, error) {
	now := s.now()
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	fs, err := s.usableFactors(ctx, fl, factor.SMS)
	if err != nil {
		return nil, err
	}
	if err := s.reserveFactor(ctx, fl.UserID, now); err != nil {
		return nil, err
	}
	var ch smsChallenge
	if json.Unmarshal(fl.Challenge, &ch) != nil || len(ch.SMS.CodeHash) == 0 {
		return nil, s.failAnswer(ctx, fl, factor.SMS, "no_code_sent", now)
	}
	verr := ch.SMS.Verify(code, now)
	fl.Challenge, _ = json.Marshal(ch) // attempts and use count, stored by the version check
	if verr != nil {
		return nil, s.failAnswer(ctx, fl, factor.SMS, verr.Error(), now)
	}
	if err := s.Store.UpdateFlow(ctx, fl); err != nil {
		return nil, ErrFlow
	}
	return s.proven(ctx, fl, fs[0], factor.SMS, now)
}
