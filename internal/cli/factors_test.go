package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/cli"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/notify/notifytest"
)

// smsCapture is a Twilio-compatible endpoint on loopback that keeps the
// messages the real Twilio sender posts to it.
type smsCapture struct {
	mu   sync.Mutex
	msgs []url.Values
}

func (c *smsCapture) last(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 {
		t.Fatal("no SMS was sent")
	}
	code := regexp.MustCompile(`\d{6}`).FindString(c.msgs[len(c.msgs)-1].Get("Body"))
	remember(code)
	return code
}

// newSMSCapture starts the capture endpoint; twilio.URL is its base URL.
func newSMSCapture(t *testing.T) (*smsCapture, *httptest.Server) {
	capture := &smsCapture{}
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		capture.mu.Lock()
		capture.msgs = append(capture.msgs, r.PostForm)
		capture.mu.Unlock()
		w.WriteHeader(201)
		fmt.Fprint(w, `{"sid":"SM1","status":"queued"}`)
	}))
	t.Cleanup(twilio.Close)
	return capture, twilio
}

// factorServer starts gatehouse with SMS through a capture endpoint and
// mail through a real SMTP server that offers STARTTLS with a certificate
// from a test CA, which gatehouse trusts through mail.ca_file.
func factorServer(t *testing.T, flags []string) (*testServer, *smsCapture, <-chan string) {
	capture, twilio := newSMSCapture(t)
	ca := notifytest.NewCA(t)
	relay := notifytest.Start(t, notifytest.Options{TLS: ca.Server(t, "localhost"), Auth: true})
	mails := notifytest.Text(relay.Messages)
	smtpAddr := "localhost:" + strings.TrimPrefix(relay.Addr, "127.0.0.1:")
	cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`factors:
  sms: {provider: twilio, base_url: %q, account_sid: ACtest, auth_token: test-token, from: "+15550001111"}
mail: {smtp_addr: %q, ca_file: %q, from: gatehouse@example.com, username: gatehouse}
`, twilio.URL, smtpAddr, ca.PEMFile(t))), 0o600)
	const smtpPassword = "smtp-relay-password-for-tests"
	remember(smtpPassword)
	s := startServer(t, append(flags, "--config", cfg), map[string]string{"GATEHOUSE_SMTP_PASSWORD": smtpPassword})
	return s, capture, mails
}

type factorAnswer struct {
	Factor struct {
		ID string `json:"id"`
	} `json:"factor"`
	Secret        string          `json:"secret"`
	URI           string          `json:"otpauth_uri"`
	Code          string          `json:"enrolment_code"`
	Options       json.RawMessage `json:"options"`
	RecoveryCodes []string        `json:"recovery_codes"`
	OtherSessions int             `json:"other_sessions"`
}

// totpCode is the code of the step after now: never the one just used.
func totpCode(t *testing.T, secret string, offset int64) string {
	code, err := totp.Code(secret, totp.Step(time.Now())+offset, 6)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestFactorsEndToEnd(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, capture, mails := factorServer(t, b.flags(t))
			t.Run("TOTPAndRecovery", func(t *testing.T) { testTOTPAndRecovery(t, s) })
			t.Run("SMS", func(t *testing.T) { testSMS(t, s, capture) })
			t.Run("Push", func(t *testing.T) { testPush(t, s) })
			t.Run("WebAuthnClone", func(t *testing.T) { testWebAuthnClone(t, s) })
			t.Run("DeviceByEmail", func(t *testing.T) { testDeviceByEmail(t, s, mails) })
			t.Run("SignInNotice", func(t *testing.T) { testSignInNotice(t, s, mails) })
			t.Run("StepUpAndRemoval", func(t *testing.T) { testStepUpAndRemoval(t, s) })
			t.Run("FlowBinding", func(t *testing.T) { testFlowBinding(t, s) })
			t.Run("ProfessionalDesktop", func(t *testing.T) { testProfessionalDesktop(t, s) })
			t.Run("NoSecretsLogged", func(t *testing.T) { testNoSecretsLogged(t, s) })
		})
	}
}

func login(t *testing.T, s *testServer, c *http.Client, user, pw string, hdr http.Header) loginAnswer {
	t.Helper()
	var a loginAnswer
	resp := call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": user, "password": pw, "interface": "web"}, hdr, &a)
	if resp.StatusCode != 200 {
		t.Fatalf("login %s = %d %s", user, resp.StatusCode, body(resp))
	}
	return a
}

// startTOTP adds a user, signs in its first browser (home) and starts
// enrolling a TOTP factor, not yet confirmed.
func startTOTP(t *testing.T, s *testServer, name, pw string) (home *http.Client, e factorAnswer) {
	t.Helper()
	s.addUser(t, name, pw)
	remember(pw)
	home = newBrowser(t)
	login(t, s, home, name, pw, nil)
	if resp := call(t, home, "POST", s.URL+"/v1/factors/totp", nil, nil, &e); resp.StatusCode != 201 || len(e.Secret) < 32 || !strings.HasPrefix(e.URI, "otpauth://totp/") {
		t.Fatalf("enrol totp = %d %+v", resp.StatusCode, e)
	}
	remember(e.Secret)
	return home, e
}

func testTOTPAndRecovery(t *testing.T, s *testServer) {
	const pw = "totp user long passphrase"
	home, e := startTOTP(t, s, "tina", pw)
	var p problemDoc
	if resp := call(t, home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": "000000"}, nil, &p); resp.StatusCode != 401 || p.Type != "urn:gatehouse:problem:invalid-code" {
		t.Errorf("confirm with a wrong code = %d %+v", resp.StatusCode, p)
	}
	var conf factorAnswer
	if resp := call(t, home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpCode(t, e.Secret, -1)}, nil, &conf); resp.StatusCode != 200 || len(conf.RecoveryCodes) != 10 {
		t.Fatalf("confirm totp = %d %+v; want 10 recovery codes", resp.StatusCode, conf)
	}
	remember(conf.RecoveryCodes...)

	// Log in with TOTP from the same browser (a trusted device).
	a := login(t, s, home, "tina", pw, nil)
	if a.Status != "factor_required" || len(a.Factors) != 2 || a.Factors[0].Kind != "totp" || a.Factors[1].Kind != "recovery" {
		t.Fatalf("login with totp enrolled = %+v; want factor_required with totp and recovery", a)
	}
	code := totpCode(t, e.Secret, 0)
	var done loginAnswer
	if resp := call(t, home, "POST", s.URL+"/v1/login/"+a.Flow+"/totp", map[string]string{"code": code}, nil, &done); resp.StatusCode != 200 || done.Status != "authenticated" || done.Session.Assurance != "AAL2" {
		t.Fatalf("answer totp = %d %+v %s", resp.StatusCode, done, body(resp))
	}
	// The same code again, on a new login: refused (replay).
	a2 := login(t, s, home, "tina", pw, nil)
	if resp := call(t, home, "POST", s.URL+"/v1/login/"+a2.Flow+"/totp", map[string]string{"code": code}, nil, &p); resp.StatusCode != 401 {
		t.Errorf("replayed totp code = %d, want 401", resp.StatusCode)
	}
	// Malformed codes get the same answer and count.
	for _, bad := range []string{"12345", "abcdef", "1234567"} {
		if resp := call(t, home, "POST", s.URL+"/v1/login/"+a2.Flow+"/totp", map[string]string{"code": bad}, nil, nil); resp.StatusCode != 401 {
			t.Errorf("totp code %q = %d, want 401", bad, resp.StatusCode)
		}
	}
	// Guessing is bounded: the user's factor counter slows further answers.
	var throttled bool
	for range 6 {
		a3 := login(t, s, home, "tina", pw, nil)
		if resp := call(t, home, "POST", s.URL+"/v1/login/"+a3.Flow+"/totp", map[string]string{"code": "999999"}, nil, nil); resp.StatusCode == 429 {
			throttled = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
	}
	if !throttled {
		t.Error("10 wrong TOTP codes and no 429: guessing is not throttled")
	}
	// A recovery code logs in at AAL1 once, and is audited.
	b := newBrowser(t)
	s.sql(t, `DELETE FROM throttles WHERE key LIKE 'f:%'`) // as time passing would
	a4 := login(t, s, home, "tina", pw, nil)
	if resp := call(t, home, "POST", s.URL+"/v1/login/"+a4.Flow+"/recovery", map[string]string{"code": strings.ToUpper(conf.RecoveryCodes[0])}, nil, &done); resp.StatusCode != 200 || done.Session.Assurance != "AAL1" {
		t.Fatalf("recovery login = %d %+v %s", resp.StatusCode, done, body(resp))
	}
	a5 := login(t, s, b, "tina", pw, nil)
	if resp := call(t, b, "POST", s.URL+"/v1/login/"+a5.Flow+"/recovery", map[string]string{"code": conf.RecoveryCodes[0]}, nil, nil); resp.StatusCode != 401 {
		t.Errorf("recovery code used twice = %d, want 401", resp.StatusCode)
	}
	// The recovery session may enrol a new factor (the lost-phone path).
	if resp := call(t, home, "POST", s.URL+"/v1/factors/totp", nil, nil, nil); resp.StatusCode != 201 {
		t.Errorf("enrol from a recovery session = %d %s", resp.StatusCode, body(resp))
	}
	var audit struct {
		Events []struct{ Type string } `json:"events"`
	}
	call(t, home, "GET", s.URL+"/v1/audit?limit=200", nil, nil, &audit)
	seen := map[string]bool{}
	for _, ev := range audit.Events {
		seen[ev.Type] = true
	}
	for _, want := range []string{"recovery.used", "factor.failed", "factor.added", "recovery.regenerated"} {
		if !seen[want] {
			t.Errorf("audit lacks %s", want)
		}
	}
}

func testSMS(t *testing.T, s *testServer, capture *smsCapture) {
	const pw = "sms user long passphrase"
	s.addUser(t, "sam", pw)
	remember(pw)
	c := newBrowser(t)
	login(t, s, c, "sam", pw, nil)
	var e factorAnswer
	var p problemDoc
	if resp := call(t, c, "POST", s.URL+"/v1/factors/sms", map[string]string{"phone": "07700 900123"}, nil, &p); resp.StatusCode != 400 {
		t.Errorf("enrol sms with a non-E.164 number = %d %+v", resp.StatusCode, p)
	}
	if resp := call(t, c, "POST", s.URL+"/v1/factors/sms", map[string]string{"phone": "+447700900123"}, nil, &e); resp.StatusCode != 201 {
		t.Fatalf("enrol sms = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, c, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": capture.last(t)}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("confirm sms = %d %s", resp.StatusCode, body(resp))
	}
	var list struct {
		Factors []struct {
			Kind  string `json:"kind"`
			Weak  bool   `json:"weak"`
			Phone string `json:"phone"`
		} `json:"factors"`
	}
	call(t, c, "GET", s.URL+"/v1/factors", nil, nil, &list)
	if len(list.Factors) != 1 || !list.Factors[0].Weak || strings.Contains(list.Factors[0].Phone, "900123") {
		t.Errorf("factors = %+v; want one SMS factor, flagged weak, number masked", list.Factors)
	}
	a := login(t, s, c, "sam", pw, nil)
	if len(a.Factors) == 0 || a.Factors[0].Kind != "sms" {
		t.Fatalf("login offers %+v, want sms", a.Factors)
	}
	var sent struct {
		SentTo string `json:"sent_to"`
		Weak   bool   `json:"weak"`
	}
	call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/sms/send", nil, nil, &sent)
	if !sent.Weak || sent.SentTo == "" || strings.Contains(sent.SentTo, "900123") {
		t.Errorf("sms/send = %+v", sent)
	}
	var done loginAnswer
	if resp := call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/sms/verify", map[string]string{"code": capture.last(t)}, nil, &done); resp.StatusCode != 200 || done.Session.Assurance != "AAL2" {
		t.Fatalf("sms/verify = %d %+v", resp.StatusCode, done)
	}
	// Sends are rate-limited per user.
	limited := false
	for range 5 {
		a := login(t, s, c, "sam", pw, nil)
		if resp := call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/sms/send", nil, nil, nil); resp.StatusCode == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("SMS sends are not rate-limited")
	}
}

// authenticator runs `gatehouse authenticator` in-process with its own state.
func (s *testServer) authenticator(t *testing.T, state string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	args = append([]string{"authenticator", args[0], "--state", state}, args[1:]...)
	err := cli.Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out)
	return out.String(), err
}

func testPush(t *testing.T, s *testServer) {
	const pw = "push user long passphrase"
	s.addUser(t, "pat", pw)
	remember(pw)
	home := newBrowser(t)
	login(t, s, home, "pat", pw, nil)
	var e factorAnswer
	if resp := call(t, home, "POST", s.URL+"/v1/factors/push", nil, nil, &e); resp.StatusCode != 201 || e.Code == "" {
		t.Fatalf("enrol push = %d %+v", resp.StatusCode, e)
	}
	remember(e.Code)
	state := t.TempDir()
	if out, err := s.authenticator(t, state, "enrol", "--server", s.URL, "--code", e.Code, "--name", "Pixel"); err != nil {
		t.Fatalf("authenticator enrol: %v %s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(state, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("authenticator key file: %v %v; want mode 0600", fi, err)
	}
	if out, err := s.authenticator(t, t.TempDir(), "enrol", "--server", s.URL, "--code", e.Code); err == nil {
		t.Errorf("enrolment code used twice: %s", out)
	}

	// Log in by push with number matching.
	a := login(t, s, home, "pat", pw, nil)
	var n struct {
		Number int `json:"number"`
	}
	call(t, home, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, &n)
	if n.Number < 10 || n.Number > 99 {
		t.Fatalf("push number = %d", n.Number)
	}
	out, err := s.authenticator(t, state, "pending")
	if err != nil || !strings.Contains(out, "login") || !strings.Contains(out, "127.0.0.1") || strings.Contains(out, fmt.Sprint(n.Number)+" ") {
		t.Errorf("authenticator pending = %v\n%s", err, out)
	}
	var st loginAnswer
	call(t, home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.State != "pending" {
		t.Errorf("flow before the phone answers = %+v, want pending", st)
	}
	if out, err := s.authenticator(t, state, "approve", "--number", fmt.Sprint(n.Number)); err != nil || !strings.Contains(out, "approved") {
		t.Fatalf("authenticator approve: %v %s", err, out)
	}
	call(t, home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "authenticated" || st.Session.Assurance != "AAL2" {
		t.Fatalf("flow after approval = %+v", st)
	}

	// The wrong number fails the login.
	a = login(t, s, home, "pat", pw, nil)
	call(t, home, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, &n)
	wrong := n.Number + 1
	if wrong > 99 {
		wrong = 10
	}
	s.authenticator(t, state, "approve", "--number", fmt.Sprint(wrong))
	st = loginAnswer{}
	call(t, home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "denied" {
		t.Errorf("flow after a wrong number = %+v, want denied", st)
	}

	// "This was not me" denies, is audited, slows the account down and
	// freezes it, ending the session signed in above.
	signedIn := sessionCookie(t, s, home)
	a = login(t, s, home, "pat", pw, nil)
	call(t, home, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, &n)
	if out, err := s.authenticator(t, state, "deny", "--report"); err != nil || !strings.Contains(out, "reported") || !strings.Contains(out, "frozen") {
		t.Fatalf("authenticator deny --report: %v %s", err, out)
	}
	if by := s.sql(t, `SELECT frozen_by FROM users WHERE username = 'pat'`); !strings.HasPrefix(by, "phone:") {
		t.Errorf("frozen_by after the phone's report = %q, want phone:<factor>", by)
	}
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/sessions", nil, signedIn, nil); resp.StatusCode != 403 || !strings.HasSuffix(problemOf(t, resp).Type, "frozen") {
		t.Errorf("a session after the phone's report = %d, want 403 frozen", resp.StatusCode)
	}
	st = loginAnswer{}
	call(t, home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "denied" {
		t.Errorf("flow after a report = %+v, want denied", st)
	}
	if out := s.sql(t, `SELECT failures FROM throttles WHERE key = 'a:pat'`); strings.TrimSpace(out) == "" || strings.TrimSpace(out) == "0" {
		t.Errorf("account throttle after a report = %q, want raised", out)
	}
	s.sql(t, `DELETE FROM throttles WHERE key = 'a:pat'`)
	if out, err := s.gatehouse(t, "", "unfreeze", "--user=pat"); err != nil {
		t.Fatalf("gatehouse unfreeze: %v %s", err, out)
	}

	// No push bombing: at most three unanswered at once.
	codes := map[int]int{}
	for range 5 {
		c := newBrowser(t)
		a := login(t, s, c, "pat", pw, nil)
		resp := call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, nil)
		codes[resp.StatusCode]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Errorf("five pushes in a row: %v; want 3 sent, 2 refused", codes)
	}
	s.sql(t, `UPDATE push_requests SET outcome = 'expired' WHERE outcome = 'pending'`)

	// A new device of a user with a phone is approved by push.
	c := newBrowser(t)
	a = login(t, s, c, "pat", pw, nil)
	call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, &n)
	s.authenticator(t, state, "approve", "--number", fmt.Sprint(n.Number))
	st = loginAnswer{}
	call(t, c, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "device_approval_required" || st.Number == 0 {
		t.Fatalf("login from a new device = %+v, want device_approval_required with a number", st)
	}
	out, _ = s.authenticator(t, state, "pending")
	if !strings.Contains(out, "device") {
		t.Errorf("pending after a new device:\n%s", out)
	}
	if out, err := s.authenticator(t, state, "approve", "--number", fmt.Sprint(st.Number)); err != nil {
		t.Fatalf("approve device: %v %s", err, out)
	}
	st = loginAnswer{}
	call(t, c, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "authenticated" {
		t.Errorf("flow after the device was approved = %+v", st)
	}
}

func testWebAuthnClone(t *testing.T, s *testServer) {
	tr := s.newTrader(t, "walt", "he uses a security key")
	s.signIn(t, tr, tr.home, nil, "web")
	clone := tr.key.Clone()
	clone.SetCounter(0)
	a := login(t, s, tr.home, "walt", tr.pw, nil)
	var begin struct {
		Options json.RawMessage `json:"options"`
	}
	call(t, tr.home, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/begin", nil, nil, &begin)
	assertion, err := clone.Get(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	if resp := call(t, tr.home, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/finish", map[string]any{"response": json.RawMessage(assertion)}, nil, nil); resp.StatusCode != 401 {
		t.Errorf("assertion with a counter gone backwards = %d, want 401", resp.StatusCode)
	}
	var list struct {
		Factors []struct {
			Flag string `json:"flag"`
		} `json:"factors"`
	}
	call(t, tr.home, "GET", s.URL+"/v1/factors", nil, nil, &list)
	if len(list.Factors) != 1 || list.Factors[0].Flag != "possible_clone" {
		t.Errorf("factors after a clone = %+v, want flagged possible_clone", list.Factors)
	}
	// The flagged credential no longer logs in at all.
	if resp := call(t, tr.home, "POST", s.URL+"/v1/login", map[string]any{"username": "walt", "password": tr.pw, "interface": "web"}, nil, nil); resp.StatusCode != 200 || strings.Contains(body(resp), "webauthn") {
		t.Errorf("login after the clone flag offers webauthn: %s", body(resp))
	}
}

func testDeviceByEmail(t *testing.T, s *testServer, mails <-chan string) {
	tr := s.newTrader(t, "emma", "she has no phone at all")
	c := newBrowser(t)
	a := login(t, s, c, "emma", tr.pw, nil)
	var begin struct {
		Options json.RawMessage `json:"options"`
	}
	call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/begin", nil, nil, &begin)
	assertion, _ := tr.key.Get(begin.Options)
	var st loginAnswer
	call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/finish", map[string]any{"response": json.RawMessage(assertion)}, nil, &st)
	if st.Status != "device_approval_required" {
		t.Fatalf("new device = %+v", st)
	}
	mail := awaitMail(t, mails, "/devices/approve?token=")
	m := regexp.MustCompile(`/devices/approve\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(mail)
	if m == nil || !strings.Contains(mail, "emma@example.com") {
		t.Fatalf("approval mail lacks a link or recipient:\n%s", mail)
	}
	remember(m[1])
	if resp := call(t, newBrowser(t), "POST", s.URL+"/v1/devices/approve", map[string]string{"token": m[1]}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("approve by link = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, newBrowser(t), "POST", s.URL+"/v1/devices/approve", map[string]string{"token": m[1]}, nil, nil); resp.StatusCode != 401 {
		t.Errorf("approval link used twice = %d, want 401", resp.StatusCode)
	}
	st = loginAnswer{}
	call(t, c, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "authenticated" {
		t.Fatalf("flow after link approval = %+v", st)
	}
	// Revoking the device ends its sessions.
	var devs struct {
		Devices []struct {
			ID, Status string
			Current    bool
		} `json:"devices"`
	}
	call(t, c, "GET", s.URL+"/v1/devices", nil, nil, &devs)
	var cur string
	for _, d := range devs.Devices {
		if d.Current {
			cur = d.ID
		}
	}
	if len(devs.Devices) != 2 || cur == "" {
		t.Fatalf("devices = %+v", devs)
	}
	if resp := call(t, tr.home, "DELETE", s.URL+"/v1/devices/"+cur, nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("revoke device = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, c, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("session of a revoked device = %d, want 401", resp.StatusCode)
	}
}

// awaitMail returns the next mail that contains want, skipping others
// (sign-in notices go to the same sink).
func awaitMail(t *testing.T, mails <-chan string, want string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-mails:
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no mail containing %q", want)
			return ""
		}
	}
}

// mailText returns the text/plain part of a mail as the SMTP sink gives it
// (envelope lines, then the message).
func mailText(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "From: ")
	if i < 0 {
		t.Fatalf("no message in %q", raw)
	}
	msg, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(raw[i:], "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt == "text/plain" {
		b, _ := io.ReadAll(msg.Body)
		return string(b)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

// testSignInNotice: every new sign-in is e-mailed to its user, and the
// posture report counts it.
func testSignInNotice(t *testing.T, s *testServer, mails <-chan string) {
	tr := s.newTrader(t, "nina", "she wants to hear of it")
	s.signIn(t, tr, newBrowser(t), nil, "web")
	// Nina's other notices (her factor added) go to the same sink.
	m := awaitMail(t, mails, "RCPT TO:<nina@example.com>")
	for !strings.Contains(m, "Subject: New sign-in to your gatehouse account") {
		m = awaitMail(t, mails, "RCPT TO:<nina@example.com>")
	}
	text := mailText(t, m)
	for _, want := range []string{"the web portal", "127.0.0.1", s.URL + "/freeze?token="} {
		if !strings.Contains(text, want) {
			t.Errorf("sign-in notice lacks %q:\n%s", want, text)
		}
	}
	var rep struct {
		Findings []struct{ ID string } `json:"findings"`
	}
	call(t, tr.home, "GET", s.URL+"/v1/posture", nil, nil, &rep)
	for _, f := range rep.Findings {
		if f.ID == "notifications-off" {
			t.Error("the posture report says notifications are off while sign-ins are e-mailed")
		}
	}
}

func testStepUpAndRemoval(t *testing.T, s *testServer) {
	tr := s.newTrader(t, "stan", "he steps up very often")
	// The home session was stepped up just now: adding a factor works.
	var e factorAnswer
	if resp := call(t, tr.home, "POST", s.URL+"/v1/factors/totp", nil, nil, &e); resp.StatusCode != 201 {
		t.Fatalf("enrol with a fresh AAL3 = %d %s", resp.StatusCode, body(resp))
	}
	remember(e.Secret)
	var conf factorAnswer
	if resp := call(t, tr.home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpCode(t, e.Secret, 0)}, nil, &conf); resp.StatusCode != 200 || len(conf.RecoveryCodes) != 0 {
		t.Errorf("confirm second factor = %d %+v; recovery codes only with the first", resp.StatusCode, conf)
	}
	// Age the proof past the step-up window: sensitive actions ask again.
	s.ageProof(t, "stan")
	time.Sleep(1100 * time.Millisecond) // the cache's max age
	var p problemDoc
	if resp := call(t, tr.home, "DELETE", s.URL+"/v1/factors/"+e.Factor.ID, nil, nil, &p); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" {
		t.Fatalf("remove with a stale proof = %d %+v; want 403 step-up-required", resp.StatusCode, p)
	}
	var up struct {
		Status, Assurance string
	}
	if resp := call(t, tr.home, "POST", s.URL+"/v1/stepup", map[string]string{"factor": "totp", "code": totpCode(t, e.Secret, 1)}, nil, &up); resp.StatusCode != 200 || up.Status != "raised" {
		t.Fatalf("step-up with totp = %d %+v %s", resp.StatusCode, up, body(resp))
	}
	var rm struct {
		OtherSessions int `json:"other_sessions"`
	}
	if resp := call(t, tr.home, "DELETE", s.URL+"/v1/factors/"+e.Factor.ID, nil, nil, &rm); resp.StatusCode != 200 {
		t.Fatalf("remove after step-up = %d %s", resp.StatusCode, body(resp))
	}
	// The security key is now the last strong factor.
	var list struct {
		Factors []struct{ ID string } `json:"factors"`
	}
	call(t, tr.home, "GET", s.URL+"/v1/factors", nil, nil, &list)
	if resp := call(t, tr.home, "DELETE", s.URL+"/v1/factors/"+list.Factors[0].ID, nil, nil, &p); resp.StatusCode != 409 || p.Type != "urn:gatehouse:problem:last-strong-factor" {
		t.Errorf("removing the last strong factor = %d %+v, want 409", resp.StatusCode, p)
	}
}

func testFlowBinding(t *testing.T, s *testServer) {
	tr := s.newTrader(t, "fay", "she keeps her flows")
	a := login(t, s, tr.home, "fay", tr.pw, nil)
	// Another browser, without the flow cookie, cannot answer it.
	other := newBrowser(t)
	if resp := call(t, other, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/begin", nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("answering another browser's flow = %d, want 404", resp.StatusCode)
	}
	// Another user's flow cookie does not open it either.
	s.newTrader(t, "gil", "he has his own flow")
	g := newBrowser(t)
	login(t, s, g, "gil", "he has his own flow", nil)
	u, _ := url.Parse(s.URL)
	for _, ck := range g.Jar.Cookies(u) {
		if ck.Name == "gatehouse_flow" {
			req, _ := http.NewRequest("GET", s.URL+"/v1/login/"+a.Flow, nil)
			req.AddCookie(ck)
			if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 404 {
				t.Errorf("polling fay's flow with gil's flow cookie = %d, want 404", resp.StatusCode)
			}
		}
	}
	// An expired flow cannot be answered.
	s.sql(t, `UPDATE login_flows SET expires_at = created_at WHERE user_id = (SELECT id FROM users WHERE username = 'fay')`)
	var st loginAnswer
	call(t, tr.home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.State != "expired" {
		t.Errorf("expired flow state = %+v", st)
	}
	if resp := call(t, tr.home, "POST", s.URL+"/v1/login/"+a.Flow+"/webauthn/begin", nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("answering an expired flow = %d, want 404", resp.StatusCode)
	}
}

func testProfessionalDesktop(t *testing.T, s *testServer) {
	const pw = "a trader long passphrase"
	if out, err := s.gatehouse(t, pw+"\n", "user", "add", "--username", "pro", "--email", "pro@example.com", "--profile", "professional", "--password-stdin"); err != nil {
		t.Fatal(err, out)
	}
	remember(pw)
	c := newBrowser(t)
	login(t, s, c, "pro", pw, nil)
	var p problemDoc
	if resp := call(t, c, "POST", s.URL+"/v1/factors/sms", map[string]string{"phone": "+447700900999"}, nil, &p); resp.StatusCode != 409 {
		t.Errorf("professional enrolling SMS = %d %+v, want 409 (policy forbids it)", resp.StatusCode, p)
	}
	var e factorAnswer
	call(t, c, "POST", s.URL+"/v1/factors/totp", nil, nil, &e)
	remember(e.Secret)
	call(t, c, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpCode(t, e.Secret, 0)}, nil, nil)
	// The desktop needs AAL3 for professionals: TOTP alone cannot open it.
	d := newDesktop(t, s.URL)
	resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/login", map[string]any{"username": "pro", "password": pw, "interface": "desktop"}, d.headers(t, "POST", "/v1/login"), &p)
	if resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:assurance-unreachable" {
		t.Errorf("professional desktop login with TOTP only = %d %+v, want 403 assurance-unreachable", resp.StatusCode, p)
	}
}
