package login_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// TestLoginPerDoor: a user with no second factor signs in through each
// door with an AAL1 session for enrolment, on a first device trusted on
// first use; a key-bound door needs its key.
func TestLoginPerDoor(t *testing.T) {
	tests := []struct {
		name    string
		req     login.Request
		wantErr error
	}{
		{"Web", webLogin("maya", pw, ""), nil},
		{"Desktop", keyLogin("maya", pw, session.Desktop, "jkt-desk"), nil},
		{"Mobile", keyLogin("maya", pw, session.Mobile, "jkt-phone"), nil},
		{"DesktopWithoutKey", keyLogin("maya", pw, session.Desktop, ""), login.ErrKeyRequired},
		{"UsernameNormalised", webLogin("  MAYA ", pw, ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "maya", user.Occasional)
			r, err := f.svc.Login(ctx, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Login = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.Status != "authenticated" || !r.EnrolmentRequired {
				t.Fatalf("status %q, enrolment required %v; want authenticated, true", r.Status, r.EnrolmentRequired)
			}
			s := r.Session
			if s.UserID != u.ID || s.Door != tt.req.Door || s.Assurance != session.AAL1 || s.AMR != "pwd" {
				t.Errorf("session %s %s %v %q, want %s %s AAL1 \"pwd\"", s.UserID, s.Door, s.Assurance, s.AMR, u.ID, tt.req.Door)
			}
			if got, want := s.JKT, tt.req.JKT; got != want {
				t.Errorf("session key %q, want %q", got, want)
			}
			if got, want := r.DeviceCookie != "", tt.req.Door == session.Web; got != want {
				t.Errorf("device cookie given: %v, want %v", got, want)
			}
			if r.Token == "" {
				t.Error("no session token")
			}
			want := []string{audit.DeviceTrusted, audit.SessionStarted, audit.LoginSucceeded}
			if got := f.events(t, u.ID); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
		})
	}
}

// TestLoginRefusesBadCredentials: a wrong password and an unknown user get
// the same error; the audit trail keeps the reason.
func TestLoginRefusesBadCredentials(t *testing.T) {
	tests := []struct {
		name, username, password, reason string
	}{
		{"WrongPassword", "maya", "not the password", "bad_password"},
		{"UnknownUser", "nobody", pw, "unknown_user"},
		{"EmptyPassword", "maya", "", "bad_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "maya", user.Occasional)
			_, err := f.svc.Login(ctx, webLogin(tt.username, tt.password, ""))
			if !errors.Is(err, login.ErrInvalidCredentials) {
				t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
			}
			if tt.username == "maya" {
				e := f.lastEvent(t, u.ID, audit.LoginFailed)
				if e == nil || e.Detail["reason"] != tt.reason {
					t.Errorf("login.failed event %+v, want reason %q", e, tt.reason)
				}
			}
		})
	}
}

// TestLoginThrottled: past the per-account-and-source allowance a login
// is refused before the password is checked, even a right one, until the
// delay has passed.
func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	free := throttle.DefaultPolicy().AccountSource.Free
	for i := 0; i <= free; i++ {
		if _, err := f.svc.Login(ctx, webLogin("maya", "wrong", "")); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	_, err := f.svc.Login(ctx, webLogin("maya", pw, ""))
	var te *login.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("right password after %d failures = %v, want ThrottledError", free+1, err)
	}
	if f.lastEvent(t, u.ID, audit.LoginThrottled) == nil {
		t.Error("no login.throttled event")
	}
	f.clock.Add(te.RetryAfter)
	if r := f.mustLogin(t, webLogin("maya", pw, "")); r.Status != "authenticated" {
		t.Errorf("after the delay: status %q, want authenticated", r.Status)
	}
}

// TestLoginFactorRequired: a user with TOTP gets a flow offering TOTP and
// a recovery code, and no session yet.
func TestLoginFactorRequired(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, _, _ := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	if r.Status != "factor_required" || r.Session != nil || r.Token != "" {
		t.Fatalf("status %q, session %v; want factor_required and no session", r.Status, r.Session)
	}
	var kinds []factor.Kind
	for _, o := range r.Offers {
		kinds = append(kinds, o.Kind)
	}
	if want := []factor.Kind{factor.TOTP, factor.Recovery}; !slices.Equal(kinds, want) {
		t.Errorf("offers %v, want %v", kinds, want)
	}
	if r.FlowSecret == "" || r.Flow.Binding != login.BindingForSecret(r.FlowSecret) {
		t.Errorf("flow binding %q does not bind the flow secret", r.Flow.Binding)
	}
	st, state, err := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding)
	if err != nil || state != "pending" || st.Status != "factor_required" {
		t.Errorf("Poll = %v, %q, %v; want factor_required, pending", st, state, err)
	}
}

// TestAnswerTOTP: the right code completes the flow at AAL2; a wrong or
// replayed code is refused alike, the reason kept in the audit trail.
func TestAnswerTOTP(t *testing.T) {
	tests := []struct {
		name   string
		code   func(f *fixture, seed string) string
		reason string // "" for success
	}{
		{"Right", func(f *fixture, seed string) string { return f.code(t, seed) }, ""},
		{"Wrong", func(f *fixture, seed string) string { return wrongCode(f.code(t, seed)) }, "wrong_code"},
		{"Malformed", func(*fixture, string) string { return "12ab56" }, "malformed_code"},
		{"Replayed", func(f *fixture, seed string) string {
			// The code was spent by an earlier login in the same step.
			other := f.mustLogin(t, webLogin("maya", pw, f.cookie))
			code := f.code(t, seed)
			if _, err := f.svc.AnswerTOTP(ctx, other.Flow.ID, other.Flow.Binding, code); err != nil {
				t.Fatalf("first use of the code: %v", err)
			}
			return code
		}, "replayed_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "maya", user.Occasional)
			cookie, seed, _ := f.withTOTP(t, u)
			f.cookie = cookie
			code := tt.code(f, seed)
			r := f.mustLogin(t, webLogin("maya", pw, cookie))
			got, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, login.BindingForSecret(r.FlowSecret), code)
			if tt.reason == "" {
				if err != nil || got.Status != "authenticated" {
					t.Fatalf("AnswerTOTP = %v, %v; want authenticated", got, err)
				}
				if s := got.Session; s.Assurance != session.AAL2 || s.AMR != "pwd otp" {
					t.Errorf("session %v %q, want AAL2 \"pwd otp\"", s.Assurance, s.AMR)
				}
				if f.lastEvent(t, u.ID, audit.FactorVerified) == nil {
					t.Error("no factor.verified event")
				}
				return
			}
			if !errors.Is(err, login.ErrInvalidCode) {
				t.Fatalf("AnswerTOTP = %v, want ErrInvalidCode", err)
			}
			if e := f.lastEvent(t, u.ID, audit.FactorFailed); e == nil || e.Detail["reason"] != tt.reason {
				t.Errorf("factor.failed event %+v, want reason %q", e, tt.reason)
			}
			// The flow still takes the right answer (next step's code: the
			// replayed one is spent).
			f.clock.Add(30 * time.Second)
			if got, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed)); err != nil || got.Status != "authenticated" {
				t.Errorf("right code after a wrong one = %v, %v; want authenticated", got, err)
			}
		})
	}
}

// wrongCode is a well-formed code other than c.
func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestFlowDeniedAfterTooManyWrongAnswers: a flow takes five wrong answers,
// then is denied even for the right one.
func TestFlowDeniedAfterTooManyWrongAnswers(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	for i := range 5 {
		if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, wrongCode(f.code(t, seed))); !errors.Is(err, login.ErrInvalidCode) {
			t.Fatalf("wrong answer %d: %v, want ErrInvalidCode", i+1, err)
		}
		f.clock.Add(time.Minute) // past the factor throttle's delay
	}
	if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed)); !errors.Is(err, login.ErrFlow) {
		t.Errorf("right answer after five wrong ones = %v, want ErrFlow", err)
	}
	if _, state, _ := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding); state != "denied" {
		t.Errorf("Poll state %q, want denied", state)
	}
}

// TestAnswerRecovery: a recovery code completes the flow at AAL1, once.
func TestAnswerRecovery(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, _, codes := f.withTOTP(t, u)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes issued with the first strong factor, want 10", len(codes))
	}
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	got, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[3])
	if err != nil || got.Status != "authenticated" {
		t.Fatalf("AnswerRecovery = %v, %v; want authenticated", got, err)
	}
	if s := got.Session; s.Assurance != session.AAL1 || !strings.Contains(s.AMR, "rec") {
		t.Errorf("session %v %q, want AAL1 with rec", s.Assurance, s.AMR)
	}
	if e := f.lastEvent(t, u.ID, audit.RecoveryUsed); e == nil || e.Detail["left"] != "9" {
		t.Errorf("recovery.used event %+v, want 9 left", e)
	}
	r = f.mustLogin(t, webLogin("maya", pw, cookie))
	if _, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[3]); !errors.Is(err, login.ErrInvalidCode) {
		t.Errorf("the same code again = %v, want ErrInvalidCode", err)
	}
}

// TestFlowRefused: a flow that expired, or asked by another client than
// the one it is bound to, is ErrFlow, all alike.
func TestFlowRefused(t *testing.T) {
	tests := []struct {
		name    string
		binding func(r *login.Result) string
		wait    time.Duration
	}{
		{"Expired", func(r *login.Result) string { return r.Flow.Binding }, 6 * time.Minute},
		{"OtherBrowser", func(*login.Result) string { return login.BindingForSecret("another browser's flow cookie") }, 0},
		{"KeyForCookie", func(*login.Result) string { return login.BindingForKey("jkt-desk") }, 0},
		{"Unknown", func(*login.Result) string { return "" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "maya", user.Occasional)
			cookie, seed, _ := f.withTOTP(t, u)
			r := f.mustLogin(t, webLogin("maya", pw, cookie))
			f.clock.Add(tt.wait)
			if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, tt.binding(r), f.code(t, seed)); !errors.Is(err, login.ErrFlow) {
				t.Errorf("AnswerTOTP = %v, want ErrFlow", err)
			}
			_, state, err := f.svc.Poll(ctx, r.Flow.ID, tt.binding(r))
			if tt.wait > 0 {
				if err != nil || state != "expired" {
					t.Errorf("Poll = %q, %v; want expired", state, err)
				}
			} else if !errors.Is(err, login.ErrFlow) {
				t.Errorf("Poll = %q, %v; want ErrFlow", state, err)
			}
		})
	}
}

// TestNewDeviceNeedsApproval: a right password and TOTP from a browser the
// user has not used before wait for the device's approval from a trusted
// session; the next poll then mints the session.
func TestNewDeviceNeedsApproval(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	trusted := f.mustLogin(t, webLogin("maya", pw, cookie))
	trusted, err := f.svc.AnswerTOTP(ctx, trusted.Flow.ID, trusted.Flow.Binding, f.code(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)

	r := f.mustLogin(t, webLogin("maya", pw, ""))
	r, err = f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed))
	if err != nil || r.Status != "device_approval_required" || r.Device == nil || r.Session != nil {
		t.Fatalf("AnswerTOTP from a new browser = %+v, %v; want device_approval_required", r, err)
	}
	if _, state, err := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding); err != nil || state != "pending" {
		t.Fatalf("Poll before approval = %q, %v; want pending", state, err)
	}
	if _, err := f.svc.ApproveDevice(ctx, trusted.Session, r.Device.ID); err != nil {
		t.Fatalf("ApproveDevice = %v", err)
	}
	got, state, err := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding)
	if err != nil || state != "authenticated" || got.Session == nil || got.Session.DeviceID != r.Device.ID {
		t.Fatalf("Poll after approval = %+v, %q, %v; want a session on the new device", got, state, err)
	}
	for _, typ := range []string{audit.DeviceNew, audit.DeviceTrusted} {
		if f.lastEvent(t, u.ID, typ) == nil {
			t.Errorf("no %s event", typ)
		}
	}
}

// TestStepUpTOTP: a fresh TOTP code raises a session and replaces its
// token; a wrong one is refused and leaves the session as it was.
func TestStepUpTOTP(t *testing.T) {
	tests := []struct {
		name  string
		right bool
	}{{"Right", true}, {"Wrong", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "maya", user.Occasional)
			cookie, seed, codes := f.withTOTP(t, u)
			r := f.mustLogin(t, webLogin("maya", pw, cookie))
			r, err := f.svc.AnswerRecovery(ctx, r.Flow.ID, r.Flow.Binding, codes[0])
			if err != nil {
				t.Fatal(err)
			}
			code := f.code(t, seed)
			if !tt.right {
				code = wrongCode(code)
			}
			got, err := f.svc.Step(ctx, r.Session, login.StepUp{Factor: factor.TOTP, Code: code})
			if !tt.right {
				if !errors.Is(err, login.ErrInvalidCode) {
					t.Fatalf("Step = %v, want ErrInvalidCode", err)
				}
				if s, _ := f.st.SessionByID(ctx, r.Session.ID); s.Assurance != session.AAL1 {
					t.Errorf("session after a wrong step-up holds %v, want AAL1", s.Assurance)
				}
				return
			}
			if err != nil || got.Status != "raised" || got.Session.Assurance != session.AAL2 || got.Token == "" || got.Token == r.Token {
				t.Fatalf("Step = %+v, %v; want raised to AAL2 with a new token", got, err)
			}
			s, err := f.st.SessionByID(ctx, r.Session.ID)
			if err != nil || s.Assurance != session.AAL2 || !s.AuthTime.Equal(f.clock.Now()) {
				t.Errorf("stored session %+v, %v; want AAL2 proven now", s, err)
			}
			if f.lastEvent(t, u.ID, audit.StepUp) == nil {
				t.Error("no session.step_up event")
			}
		})
	}
}

// smsCode is the code in an SMS text.
func smsCode(t testing.TB, text string) string {
	t.Helper()
	i := strings.IndexAny(text, "0123456789")
	if i < 0 || i+6 > len(text) {
		t.Fatalf("no code in %q", text)
	}
	return text[i : i+6]
}

// TestParallelWrongSMSAnswersStayWithinTheLimit: wrong SMS codes sent all
// at once are evaluated no more often than one challenge allows; the
// per-user factor counter is opened wide so the per-flow limit alone is
// tested.
func TestParallelWrongSMSAnswersStayWithinTheLimit(t *testing.T) {
	f := newFixture(t)
	f.svc.Factors.Throttle = throttle.Rule{}
	u := f.addUser(t, "maya", user.Occasional)
	first := f.mustLogin(t, webLogin("maya", pw, ""))
	e, err := f.svc.Enrol(ctx, first.Session, factor.SMS, "", "+441234567890")
	if err != nil {
		t.Fatalf("Enrol(sms) = %v", err)
	}
	if _, err := f.svc.Confirm(ctx, first.Session, e.Factor.ID, smsCode(t, f.texts.last()), nil); err != nil {
		t.Fatalf("Confirm(sms) = %v", err)
	}
	r := f.mustLogin(t, webLogin("maya", pw, first.DeviceCookie))
	if _, err := f.svc.SendSMS(ctx, r.Flow.ID, r.Flow.Binding); err != nil {
		t.Fatalf("SendSMS = %v", err)
	}
	wrong := wrongCode(smsCode(t, f.texts.last()))

	const answers = 20
	var wg sync.WaitGroup
	for range answers {
		wg.Go(func() {
			if _, err := f.svc.VerifySMS(ctx, r.Flow.ID, r.Flow.Binding, wrong); !errors.Is(err, login.ErrInvalidCode) && !errors.Is(err, login.ErrFlow) {
				t.Errorf("VerifySMS(wrong) = %v, want ErrInvalidCode or ErrFlow", err)
			}
		})
	}
	wg.Wait()
	evaluated := 0
	es, err := f.st.AuditOfUser(ctx, u.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Type == audit.FactorFailed && e.Detail["reason"] == sms.ErrInvalid.Error() {
			evaluated++
		}
	}
	if evaluated > sms.MaxAttempts {
		t.Errorf("%d parallel wrong codes: %d evaluated, want at most %d", answers, evaluated, sms.MaxAttempts)
	}
}
