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
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// reserveFactor takes one second-factor attempt from the user's budget
// and returns the try: how many answers in a row it makes, counted as
// wrong until it turns out right. With held, the reservation is held
// for settle to release when the answer turns out right or fails for
// another cause; a wrong answer lets go of the hold (see miss), so it
// counts.
func (s *Service) reserveFactor(ctx context.Context, userID string, held *[]string, now time.Time) (guess, error) {
	st, err := reserveState(ctx, s.Store, throttle.FactorKey(userID), s.Factors.Throttle, now)
	if err == nil && held != nil {
		*held = []string{throttle.FactorKey(userID)}
	}
	return guess{userID: userID, n: st.Failures}, err
}

// miss settles a wrong answer to a login flow: the try counts, the owner
// is told when a run of wrong answers reaches the notice count, and the
// flow records the failure.
func (s *Service) miss(ctx context.Context, held *[]string, g guess, fl *flow.Flow, kind factor.Kind, reason string, now time.Time) error {
	*held = nil
	s.wrong(ctx, g, fl.Door, fl.IP, now)
	return s.failAnswer(ctx, fl, kind, reason, now)
}

// guess is one reserved second-factor try: n is its place in the user's
// run of wrong answers.
type guess struct {
	userID string
	n      int
}

// wrong tells the user, once a run of wrong answers reaches the notice
// count, and again when it closes the counter: a log line and a
// factor.guessing event (the user's notice channels take it from there).
func (s *Service) wrong(ctx context.Context, g guess, iface session.Door, ip string, now time.Time) {
	limit := s.Factors.Throttle.Limit
	closed := limit > 0 && g.n >= limit
	if g.n != limit && (s.Factors.GuessNotice == 0 || g.n != s.Factors.GuessNotice) {
		return
	}
	if s.Log != nil {
		s.Log.WarnContext(ctx, "second-factor answers keep failing", "user", g.userID, "failures", g.n, "closed", closed)
	}
	s.audit(ctx, &audit.Event{Time: now, Type: audit.FactorGuessing, UserID: g.userID, Actor: g.userID, Interface: string(iface), IP: ip,
		Detail: details([]string{"failures", strconv.Itoa(g.n), "limit", strconv.Itoa(limit), "closed", strconv.FormatBool(closed)})})
}

// AnswerTOTP answers a flow with a TOTP code.
func (s *Service) AnswerTOTP(ctx context.Context, flowID, binding, code string) (_ *Result, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	in, fs, err := s.answering(ctx, flowID, binding, factor.TOTP, now)
	if err != nil {
		return nil, err
	}
	g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
	if err != nil {
		return nil, err
	}
	p, reason := s.verifyTOTP(ctx, fs, code, now)
	if p == nil {
		return nil, s.miss(ctx, &held, g, in.fl, factor.TOTP, reason, now)
	}
	return s.accept(ctx, in, p, now)
}

// AnswerRecovery answers a flow with a recovery code. It is single-use,
// gives AAL1 only (enough to enrol a new factor) and is always audited,
// in the transaction that spends it.
func (s *Service) AnswerRecovery(ctx context.Context, flowID, binding, code string) (_ *Result, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	in, _, err := s.answering(ctx, flowID, binding, factor.Recovery, now)
	if err != nil {
		return nil, err
	}
	g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
	if err != nil {
		return nil, err
	}
	codes, err := s.Store.RecoveryCodes(ctx, in.u.ID)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(codes))
	left := 0
	for i, c := range codes {
		if c.UsedAt.IsZero() {
			hashes[i] = c.Hash
			left++
		}
	}
	i, ok := recovery.Match(code, hashes)
	if !ok {
		return nil, s.miss(ctx, &held, g, in.fl, factor.Recovery, "wrong_code", now)
	}
	fl := in.fl
	return s.accept(ctx, in, &proof{kind: factor.Recovery, spend: func(ctx context.Context, tx store.Tx) error {
		if err := tx.UseRecoveryCode(ctx, fl.UserID, codes[i].Index, now); errors.Is(err, store.ErrNotFound) {
			return errSpent
		} else if err != nil {
			return err
		}
		ev := flowEvent(fl, now, audit.RecoveryUsed, "left", strconv.Itoa(left-1), "flow", fl.ID)
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		return s.Cooldown.Start(ctx, tx, ev)
	}}, now)
}

// BeginWebAuthn starts a WebAuthn assertion on a flow and returns the
// options for navigator.credentials.get.
func (s *Service) BeginWebAuthn(ctx context.Context, flowID, binding string) (_ []byte, err error) {
	now := s.now()
	defer s.settle(ctx, &err, new([]string), now)
	in, fs, err := s.answering(ctx, flowID, binding, factor.WebAuthn, now)
	if err != nil {
		return nil, err
	}
	opts, ch, err := s.beginAssertion(in.u, fs)
	if err != nil {
		return nil, err
	}
	in.fl.Challenge = ch
	if err := s.Store.UpdateFlow(ctx, in.fl); err != nil {
		return nil, err
	}
	return opts, nil
}

// beginAssertion starts a WebAuthn assertion for the credentials among
// fs: the options for the client, and the challenge for the flow.
func (s *Service) beginAssertion(u *user.User, fs []*factor.Factor) (opts, challenge []byte, err error) {
	wu, _ := webauthnUser(u, fs)
	opts, sess, err := s.Factors.WebAuthn.BeginLogin(wu)
	if err != nil {
		return nil, nil, ErrFactorUnavailable
	}
	challenge, _ = json.Marshal(webauthnChallenge{Session: sess})
	return opts, challenge, nil
}

// FinishWebAuthn answers a flow with a WebAuthn assertion.
func (s *Service) FinishWebAuthn(ctx context.Context, flowID, binding string, response []byte) (_ *Result, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	fl, err := s.pendingFlow(ctx, flowID, binding, now)
	if err != nil {
		return nil, err
	}
	var ch webauthnChallenge
	if json.Unmarshal(fl.Challenge, &ch) != nil || len(ch.Session) == 0 {
		return nil, s.failAnswer(ctx, fl, factor.WebAuthn, "no_ceremony", now)
	}
	in, fs, err := s.loadFor(ctx, fl, factor.WebAuthn)
	if err != nil {
		return nil, err
	}
	g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
	if err != nil {
		return nil, err
	}
	fl.Challenge = nil // one ceremony, one answer
	p, reason, err := s.verifyAssertion(ctx, in.u, fs, ch.Session, response, fl.Door, fl.IP, now)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, s.miss(ctx, &held, g, fl, factor.WebAuthn, reason, now)
	}
	return s.accept(ctx, in, p, now)
}

type pushChallenge struct {
	PushID string `json:"push_id"`
}

// StartPush sends a push to the user's phone for a flow and returns the
// number the login screen shows; the user types it into the phone.
func (s *Service) StartPush(ctx context.Context, flowID, binding string) (_ int, err error) {
	now := s.now()
	defer s.settle(ctx, &err, new([]string), now)
	in, _, err := s.answering(ctx, flowID, binding, factor.Push, now)
	if err != nil {
		return 0, err
	}
	number, ch, err := s.pushFor(ctx, in.fl, now)
	if err != nil || ch == nil {
		return number, err
	}
	in.fl.Challenge = ch
	if err := s.Store.UpdateFlow(ctx, in.fl); err != nil {
		return 0, err
	}
	return number, nil
}

// pushFor sends a push for fl and returns its number and the flow's new
// challenge; while the flow's push is unanswered it returns that push's
// number and no challenge: the same push, not a new one, so reloading is
// no way to bomb the phone.
func (s *Service) pushFor(ctx context.Context, fl *flow.Flow, now time.Time) (int, []byte, error) {
	var old pushChallenge
	if json.Unmarshal(fl.Challenge, &old) == nil && old.PushID != "" {
		if p, err := s.Store.PushRequestByID(ctx, old.PushID); err == nil && p.Outcome == push.RequestPending && now.Before(p.ExpiresAt) {
			return p.Number, nil, nil
		}
	}
	p, err := s.newPush(ctx, fl.UserID, push.PurposeLogin, fl, "", now)
	if err != nil {
		return 0, nil, err
	}
	ch, _ := json.Marshal(pushChallenge{PushID: p.ID})
	return p.Number, ch, nil
}

// newPush stores a push request for the user's phone, refusing when too
// many are unanswered.
func (s *Service) newPush(ctx context.Context, userID, purpose string, fl *flow.Flow, deviceID string, now time.Time) (*push.Request, error) {
	pending, err := s.Store.PendingPushRequests(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	if max := s.Factors.MaxPendingPush; max > 0 && len(pending) >= max {
		return nil, ErrTooManyPushes
	}
	ch, err := push.NewChallenge(s.Rand, push.Login{UserID: userID, Interface: string(fl.Door), IP: fl.IP, DeviceName: fl.DeviceName}, s.Factors.PushLifetime, now)
	if err != nil {
		return nil, err
	}
	p := &push.Request{Challenge: ch, FlowID: fl.ID, Purpose: purpose, DeviceID: deviceID, Outcome: push.RequestPending}
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
func (s *Service) SendSMS(ctx context.Context, flowID, binding string) (_ string, err error) {
	now := s.now()
	defer s.settle(ctx, &err, new([]string), now)
	in, fs, err := s.answering(ctx, flowID, binding, factor.SMS, now)
	if err != nil {
		return "", err
	}
	phone := fs[0].Phone
	if err := s.limitSMS(ctx, in.u.ID, phone, now); err != nil {
		return "", err
	}
	ch, code, err := sms.NewChallenge(s.Rand, phone, now)
	if err != nil {
		return "", err
	}
	in.fl.Challenge, _ = json.Marshal(smsChallenge{SMS: ch})
	if err := s.Store.UpdateFlow(ctx, in.fl); err != nil {
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
		if err := reserve(ctx, s.Store, key, smsRule, now); err != nil {
			return err
		}
	}
	return nil
}

// smsRetries bounds how often one answer is tried again after losing the
// race for its flow to another answer.
const smsRetries = 10

// VerifySMS answers a flow with the code sent by SMS.
//
// The try is counted before its outcome is acted on: the challenge's
// attempt count is stored with the outcome, compare-and-swap on the
// flow's version, and an answer that loses that race to another is
// checked again on the flow as the other left it. So parallel answers get
// no more tries than [sms.MaxAttempts] between them.
func (s *Service) VerifySMS(ctx context.Context, flowID, binding, code string) (_ *Result, err error) {
	now := s.now()
	var held []string
	defer s.settle(ctx, &err, &held, now)
	in, fs, err := s.answering(ctx, flowID, binding, factor.SMS, now)
	if err != nil {
		return nil, err
	}
	g, err := s.reserveFactor(ctx, in.u.ID, &held, now)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		res, err := s.verifySMS(ctx, in, fs[0], code, now)
		if errors.Is(err, ErrInvalidCode) {
			s.wrong(ctx, g, in.fl.Door, in.fl.IP, now)
		}
		if !errors.Is(err, errRaced) || try == smsRetries {
			return res, err
		}
		if in.fl, err = s.pendingFlow(ctx, flowID, binding, now); err != nil {
			return nil, err
		}
	}
}

// verifySMS is one try of VerifySMS on the flow as read; errRaced when
// another answer changed the flow first, with nothing stored.
func (s *Service) verifySMS(ctx context.Context, in *signIn, f *factor.Factor, code string, now time.Time) (*Result, error) {
	var ch smsChallenge
	if json.Unmarshal(in.fl.Challenge, &ch) != nil || len(ch.SMS.CodeHash) == 0 {
		return nil, s.failAnswer(ctx, in.fl, factor.SMS, "no_code_sent", now)
	}
	verr := ch.SMS.Verify(code, now)
	next := *in.fl
	next.Challenge, _ = json.Marshal(ch) // the try counted, stored with its outcome
	if verr != nil {
		if err := s.recordFailure(ctx, &next, factor.SMS, verr.Error(), now); err != nil {
			return nil, err
		}
		*in.fl = next
		return nil, ErrInvalidCode
	}
	*in.fl = next
	return s.accept(ctx, in, &proof{kind: factor.SMS, f: f}, now)
}
