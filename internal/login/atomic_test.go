package login_test

import (
	"crypto/ecdsa"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/flow"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// Every change and its audit event commit in one transaction: when the
// event cannot be written, the change is not made either. Each test makes
// the store fail the one event and checks that the change did not happen,
// then that with the store healthy the change and its event are both there.

// TestStepUpCommitsWithItsEvent: a step-up whose event fails leaves the
// session as it was, and the TOTP code unspent.
func TestStepUpCommitsWithItsEvent(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, codes := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	r, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[0])
	if err != nil {
		t.Fatal(err)
	}
	code := f.code(t, seed)
	f.count.failAudit(audit.StepUp)
	if _, err := f.svc.Step(ctx, r.Session, login.StepUp{Factor: factor.TOTP, Code: code}); !errors.Is(err, errAuditDown) {
		t.Fatalf("Step with the event failing = %v, want the store's error", err)
	}
	if s, _ := f.st.SessionByID(ctx, r.Session.ID); s.Assurance != session.AAL1 {
		t.Errorf("session raised to %v without its event, want AAL1", s.Assurance)
	}
	f.count.failAudit("")
	got, err := f.svc.Step(ctx, r.Session, login.StepUp{Factor: factor.TOTP, Code: code})
	if err != nil || got.Status != "raised" {
		t.Fatalf("Step with the same code, store healthy = %v, %v; want raised (the code was not spent)", got, err)
	}
	if e := f.lastEvent(t, u.ID, audit.StepUp); e == nil || e.Detail["session"] != r.Session.ID {
		t.Errorf("session.step_up event %+v, want one for %s", e, r.Session.ID)
	}
}

// TestRecoveryUseCommitsWithItsEvent: a recovery code whose event fails
// stays unused.
func TestRecoveryUseCommitsWithItsEvent(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, _, codes := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	f.count.failAudit(audit.RecoveryUsed)
	if _, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[0]); !errors.Is(err, errAuditDown) {
		t.Fatalf("AnswerRecovery with the event failing = %v, want the store's error", err)
	}
	stored, err := f.st.RecoveryCodes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range stored {
		if !c.UsedAt.IsZero() {
			t.Errorf("code %d used without its event", c.Index)
		}
	}
	f.count.failAudit("")
	if got, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[0]); err != nil || got.Status != "authenticated" {
		t.Fatalf("AnswerRecovery, store healthy = %v, %v; want authenticated", got, err)
	}
	if f.lastEvent(t, u.ID, audit.RecoveryUsed) == nil {
		t.Error("no recovery.used event")
	}
}

// TestFactorVerifiedCommitsWithItsEvent: a TOTP answer whose
// factor.verified event fails leaves the flow waiting and the code unspent.
func TestFactorVerifiedCommitsWithItsEvent(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	code := f.code(t, seed)
	f.count.failAudit(audit.FactorVerified)
	if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, code); !errors.Is(err, errAuditDown) {
		t.Fatalf("AnswerTOTP with the event failing = %v, want the store's error", err)
	}
	fl, err := f.st.FlowByID(ctx, r.Flow.ID)
	if err != nil || fl.State != flow.Factor || fl.Assurance != session.AAL1 {
		t.Fatalf("flow after the failed event = %+v, %v; want still waiting at AAL1", fl, err)
	}
	f.count.failAudit("")
	if got, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, code); err != nil || got.Status != "authenticated" {
		t.Fatalf("AnswerTOTP with the same code, store healthy = %v, %v; want authenticated", got, err)
	}
	if e := f.lastEvent(t, u.ID, audit.FactorVerified); e == nil || e.Detail["flow"] != r.Flow.ID {
		t.Errorf("factor.verified event %+v, want one for the flow", e)
	}
}

// phone is a user's enrolled push authenticator: its key.
type phone struct {
	f   *fixture
	key *ecdsa.PrivateKey
	jkt string
}

// enrolPhone enrols a phone from sess, as the app registers with the code
// the portal shows.
func (f *fixture) enrolPhone(t testing.TB, sess *session.Session) *phone {
	t.Helper()
	e, err := f.svc.Enrol(ctx, sess, factor.Push, "", "")
	if err != nil {
		t.Fatalf("Enrol(push) = %v", err)
	}
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalRegistration(key, e.Code, "Pixel")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterPhone(ctx, body); err != nil {
		t.Fatalf("RegisterPhone = %v", err)
	}
	jkt, err := dpop.Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{f: f, key: key, jkt: jkt}
}

// signed returns the body of resp signed by the phone's key.
func (p *phone) signed(t testing.TB, resp push.Response) []byte {
	t.Helper()
	sig, err := push.Sign(p.key, resp)
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalResponse(resp, sig)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// answer answers the phone's one pending prompt with d.
func (p *phone) answer(t testing.TB, d push.Decision, number int) string {
	t.Helper()
	prompts, err := p.f.svc.PhonePending(ctx, p.jkt)
	if err != nil || len(prompts) != 1 {
		t.Fatalf("phone's prompts = %+v, %v; want one", prompts, err)
	}
	body := p.signed(t, push.Response{ChallengeID: prompts[0].ChallengeID, Decision: d, Number: number, SignedAt: p.f.clock.Now().Truncate(time.Second)})
	out, err := p.f.svc.PhoneAnswer(ctx, p.jkt, body)
	if err != nil {
		t.Fatalf("PhoneAnswer = %v", err)
	}
	return out
}

// TestDeniedDevicePushRevokesWithEvent: a new device the phone refuses is
// revoked with a device.revoked event, and its flow denied.
func TestDeniedDevicePushRevokesWithEvent(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	first := f.mustLogin(t, webLogin("maya", pw, ""))
	ph := f.enrolPhone(t, first.Session)

	r := f.mustLogin(t, webLogin("maya", pw, ""))
	number, err := f.svc.StartPush(ctx, r.Flow.ID, r.Flow.Binding)
	if err != nil {
		t.Fatal(err)
	}
	ph.answer(t, push.Approve, number)
	r, _, err = f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding)
	if err != nil || r.Status != "device_approval_required" {
		t.Fatalf("Poll after the login push = %+v, %v; want device_approval_required", r, err)
	}
	if out := ph.answer(t, push.Deny, 0); out != push.RequestDenied {
		t.Fatalf("device push answered %q, want %q", out, push.RequestDenied)
	}
	d, err := f.st.DeviceByID(ctx, r.Device.ID)
	if err != nil || d.Status != device.Revoked {
		t.Fatalf("refused device = %+v, %v; want revoked", d, err)
	}
	if e := f.lastEvent(t, u.ID, audit.DeviceRevoked); e == nil || e.Detail["device"] != d.ID {
		t.Errorf("device.revoked event %+v, want one for %s", e, d.ID)
	}
	if _, state, _ := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding); state != "denied" {
		t.Errorf("flow state %q after the refusal, want denied", state)
	}
}

// TestPhoneAsFirstFactorShowsRecoveryCodes: a phone enrolled as the first
// strong factor registers on its own, so the session that starts the
// enrolment is shown the recovery codes; they work once the phone is in,
// and registering issues no second set that nobody sees.
func TestPhoneAsFirstFactorShowsRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	first := f.mustLogin(t, webLogin("maya", pw, ""))
	e, err := f.svc.Enrol(ctx, first.Session, factor.Push, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.RecoveryCodes) != 10 {
		t.Fatalf("Enrol(push) as the first strong factor shows %d recovery codes, want 10", len(e.RecoveryCodes))
	}
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalRegistration(key, e.Code, "Pixel")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterPhone(ctx, body); err != nil {
		t.Fatalf("RegisterPhone = %v", err)
	}
	r := f.mustLogin(t, webLogin("maya", pw, first.DeviceCookie))
	got, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, e.RecoveryCodes[0])
	if err != nil || got.Status != "authenticated" {
		t.Fatalf("AnswerRecovery with a code shown at enrolment = %+v, %v; want authenticated", got, err)
	}
	if e := f.lastEvent(t, u.ID, audit.RecoveryUsed); e == nil || e.Detail["left"] != "9" {
		t.Errorf("recovery.used event %+v, want 9 left (one set, not two)", e)
	}

	// With a strong factor in place, a second phone brings no new codes.
	again, err := f.svc.Enrol(ctx, got.Session, factor.Push, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.RecoveryCodes) != 0 {
		t.Errorf("a second phone's enrolment shows %d recovery codes, want none", len(again.RecoveryCodes))
	}
}
