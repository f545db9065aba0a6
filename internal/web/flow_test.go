package web_test

import (
	"crypto/ecdsa"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/device"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

var (
	totpSecretRe = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`)
	flowPathRe   = regexp.MustCompile(`^/login/(flw_[A-Za-z0-9_-]+)(/device)?(\?.*)?$`)
	numberRe     = regexp.MustCompile(`<p class="number"><span class="sr-only">The number is </span>(\d+)</p>`)
	codesRe      = regexp.MustCompile(`<li><code>([0-9a-z-]+)</code></li>`)
)

// enrolTOTP adds an authenticator app through the portal's pages and
// returns its secret, and the recovery codes when they came with it.
func enrolTOTP(t *testing.T, b *browser, name string) (string, []string) {
	t.Helper()
	tok := csrf(t, b.get(t, "/factors"))
	page := b.post(t, "/factors/totp", url.Values{"csrf": {tok}, "name": {name}})
	m := totpSecretRe.FindStringSubmatch(page.Body)
	if page.Code != http.StatusOK || m == nil {
		t.Fatalf("enrol totp = %d, no secret on the page:\n%s", page.Code, page.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	id := regexp.MustCompile(`action="/factors/(fac_[^/"]+)/confirm"`).FindStringSubmatch(page.Body)
	if id == nil {
		t.Fatal("no confirm form on the enrolment page")
	}
	done := b.post(t, "/factors/"+id[1]+"/confirm", url.Values{"csrf": {tok}, "code": {code(t, b.e, secret)}})
	switch done.Code {
	case http.StatusOK: // the recovery codes page
		var codes []string
		for _, c := range codesRe.FindAllStringSubmatch(done.Body, -1) {
			codes = append(codes, c[1])
		}
		return secret, codes
	case http.StatusSeeOther:
		return secret, nil
	}
	t.Fatalf("confirm totp = %d\n%s", done.Code, done.Body)
	return "", nil
}

// code is the TOTP code of secret now. Codes are accepted once: move the
// clock 30 seconds on before asking for another.
func code(t *testing.T, e *env, secret string) string {
	t.Helper()
	c, err := totp.Code(secret, totp.Step(e.clock.Now()), 6)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// flowOf checks that a sign-in answer sends the browser into a flow and
// returns the flow's id and the path it was sent to.
func flowOf(t *testing.T, a answer) (string, string) {
	t.Helper()
	m := flowPathRe.FindStringSubmatch(a.Location())
	if a.Code != http.StatusSeeOther || m == nil {
		t.Fatalf("answer %d → %q, want 303 to a sign-in in progress\n%s", a.Code, a.Location(), a.Body)
	}
	return m[1], a.Location()
}

// signedInAs checks that b holds a session of the given assurance.
func signedInAs(t *testing.T, e *env, b *browser, want session.Assurance) {
	t.Helper()
	tok := b.cookie("gatehouse_session")
	if tok == "" {
		t.Fatal("no session cookie")
	}
	s, err := e.sessions.Resolve(ctx, tok)
	if err != nil || s.Assurance != want {
		t.Fatalf("session = %+v, %v; want %v", s, err, want)
	}
	if b.cookie("gatehouse_flow") != "" {
		t.Error("the flow cookie outlived the sign-in")
	}
}

// totpUser is alice with an authenticator app, enrolled from her first
// browser, and that browser signed out again.
func totpUser(t *testing.T, e *env) (home *browser, secret string, codes []string) {
	t.Helper()
	e.addUser(t, "alice", alicePW, user.Occasional)
	home = e.browser(firefoxUA)
	home.mustLogin(t, "alice", alicePW)
	secret, codes = enrolTOTP(t, home, "Phone")
	if len(codes) != 10 {
		t.Fatalf("first strong factor came with %d recovery codes, want 10", len(codes))
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	return home, secret, codes
}

func TestLoginTOTP(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	b := home.sameDevice()
	flow, path := flowOf(t, b.login(t, "alice", alicePW))
	if b.cookie("gatehouse_flow") == "" || b.cookie("gatehouse_session") != "" {
		t.Fatal("after the password: want a flow cookie and no session")
	}
	page := b.get(t, path)
	golden(t, "login-totp", page, http.StatusOK)
	tok := csrf(t, page)

	wrong := b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {"000000"}})
	golden(t, "login-totp-wrong", wrong, http.StatusUnprocessableEntity)
	right := code(t, e, secret)
	a := b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {right[:3] + " " + right[3:]}})
	if a.Code != http.StatusSeeOther || a.Location() != "/" {
		t.Fatalf("right code = %d → %q\n%s", a.Code, a.Location(), a.Body)
	}
	signedInAs(t, e, b, session.AAL2)

	// The same code, in a new sign-in: refused with the same words.
	c := home.sameDevice()
	flow2, _ := flowOf(t, c.login(t, "alice", alicePW))
	replay := c.post(t, "/login/"+flow2+"/totp", url.Values{"csrf": {csrf(t, c.get(t, "/login/"+flow2))}, "code": {right}})
	if replay.Code != http.StatusUnprocessableEntity || !strings.Contains(replay.Body, "That did not work: the code or key was wrong, used already or expired.") {
		t.Errorf("replayed code = %d; want 422 with the one wording", replay.Code)
	}
}

// TestOneWordingForFactors: a wrong code, a malformed one, a replayed one
// and a wrong recovery code read alike.
func TestOneWordingForFactors(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	used := code(t, e, secret)
	b := home.sameDevice()
	flow, _ := flowOf(t, b.login(t, "alice", alicePW))
	tok := csrf(t, b.get(t, "/login/"+flow))
	if a := b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {used}}); a.Code != http.StatusSeeOther {
		t.Fatalf("first use of the code = %d", a.Code)
	}
	msg := regexp.MustCompile(`<p class="error" role="alert" id="form-error">([^<]*)</p>`)
	var seen []string
	for _, tt := range []struct{ path, code string }{{"totp", "123456"}, {"totp", "12ab56"}, {"totp", used}, {"recovery", "aaaa-bbbb-cccc-dddd-eeee"}} {
		c := home.sameDevice()
		flow, _ := flowOf(t, c.login(t, "alice", alicePW))
		a := c.post(t, "/login/"+flow+"/"+tt.path, url.Values{"csrf": {csrf(t, c.get(t, "/login/"+flow))}, "code": {tt.code}})
		m := msg.FindStringSubmatch(a.Body)
		if a.Code != http.StatusUnprocessableEntity || m == nil {
			t.Fatalf("%s %q = %d, no error", tt.path, tt.code, a.Code)
		}
		seen = append(seen, m[1])
	}
	for _, s := range seen[1:] {
		if s != seen[0] {
			t.Errorf("failed factors say %q, want one wording", seen)
			break
		}
	}
}

// TestLoginFactorThrottled: wrong answers across flows are slowed down,
// and the wait is shown in seconds, the same as Retry-After.
func TestLoginFactorThrottled(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	var a answer
	for i := range 4 {
		b := home.sameDevice()
		flow, _ := flowOf(t, b.login(t, "alice", alicePW))
		tok := csrf(t, b.get(t, "/login/"+flow))
		for range 2 {
			if a = b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {"999999"}}); a.Code == http.StatusTooManyRequests {
				break
			}
		}
		if a.Code == http.StatusTooManyRequests {
			break
		}
		if i == 3 {
			t.Fatal("8 wrong codes and no wait")
		}
	}
	secs := a.Header.Get("Retry-After")
	if secs == "" || !strings.Contains(a.Body, "Wait "+secs+" seconds") {
		t.Errorf("Retry-After %q; the page does not say the same wait:\n%s", secs, a.Body)
	}
	golden(t, "login-throttled-factor", a, http.StatusTooManyRequests)
	// The right code does not get through the wait either.
	b := home.sameDevice()
	flow, _ := flowOf(t, b.login(t, "alice", alicePW))
	if a := b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {csrf(t, b.get(t, "/login/"+flow))}, "code": {code(t, e, secret)}}); a.Code != http.StatusTooManyRequests {
		t.Errorf("right code during the wait = %d, want 429", a.Code)
	}
}

// TestLoginDenied: five wrong answers end the flow; the visitor starts
// again, told so.
func TestLoginDenied(t *testing.T) {
	e := newEnv(t)
	home, _, _ := totpUser(t, e)
	b := home.sameDevice()
	flow, _ := flowOf(t, b.login(t, "alice", alicePW))
	tok := csrf(t, b.get(t, "/login/"+flow))
	var a answer
	for range 6 {
		a = b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {"111111"}})
		if a.Code == http.StatusSeeOther {
			break
		}
	}
	if a.Location() != "/login?failed=denied" {
		t.Fatalf("after five wrong codes: %d → %q, want back to /login?failed=denied", a.Code, a.Location())
	}
	if b.cookie("gatehouse_flow") != "" {
		t.Error("the flow cookie of a denied flow was kept")
	}
	page := b.get(t, "/login?failed=denied")
	if !strings.Contains(page.Body, "Your sign-in was refused") {
		t.Error("the sign-in page does not say the flow was refused")
	}
	if a := b.get(t, "/login/"+flow); a.Code != http.StatusSeeOther || a.Location() != "/login?failed=expired" {
		t.Errorf("the denied flow's page without its cookie = %d → %q", a.Code, a.Location())
	}
}

func TestLoginRecovery(t *testing.T) {
	e := newEnv(t)
	home, _, codes := totpUser(t, e)
	b := home.sameDevice()
	flow, _ := flowOf(t, b.login(t, "alice", alicePW))
	page := b.get(t, "/login/"+flow+"?with=recovery")
	golden(t, "login-recovery", page, http.StatusOK)
	a := b.post(t, "/login/"+flow+"/recovery", url.Values{"csrf": {csrf(t, page)}, "code": {strings.ToUpper(codes[3])}})
	if a.Code != http.StatusSeeOther || a.Location() != "/" {
		t.Fatalf("recovery code = %d → %q\n%s", a.Code, a.Location(), a.Body)
	}
	signedInAs(t, e, b, session.AAL1)
	c := home.sameDevice()
	flow2, _ := flowOf(t, c.login(t, "alice", alicePW))
	if a := c.post(t, "/login/"+flow2+"/recovery", url.Values{"csrf": {csrf(t, c.get(t, "/login/"+flow2))}, "code": {codes[3]}}); a.Code != http.StatusUnprocessableEntity {
		t.Errorf("a recovery code used twice = %d, want 422", a.Code)
	}
}

func TestLoginSMS(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "sam", alicePW, user.Occasional)
	home := e.browser(firefoxUA)
	home.mustLogin(t, "sam", alicePW)
	tok := csrf(t, home.get(t, "/factors"))
	if a := home.post(t, "/factors/sms", url.Values{"csrf": {tok}, "phone": {"07700 900123"}}); a.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(a.Body, "international form") {
		t.Errorf("a national number = %d, want 422 asking for the international form", a.Code)
	}
	enrol := home.post(t, "/factors/sms", url.Values{"csrf": {tok}, "phone": {"+44 7700 900123"}})
	golden(t, "factor-sms", enrol, http.StatusOK)
	id := regexp.MustCompile(`action="/factors/(fac_[^/"]+)/confirm"`).FindStringSubmatch(enrol.Body)
	if a := home.post(t, "/factors/"+id[1]+"/confirm", url.Values{"csrf": {tok}, "code": {e.texts.code(t)}}); a.Code != http.StatusSeeOther {
		t.Fatalf("confirm sms = %d\n%s", a.Code, a.Body)
	}
	// SMS alone is weak: no recovery codes, and the banner says so.
	if page := home.get(t, "/factors"); !strings.Contains(page.Body, "Your only second factor is SMS.") {
		t.Error("SMS alone does not bring the weak-factor banner")
	}

	b := home.sameDevice()
	flow, path := flowOf(t, b.login(t, "sam", alicePW))
	page := b.get(t, path)
	golden(t, "login-sms", page, http.StatusOK)
	sent := b.post(t, "/login/"+flow+"/sms/send", url.Values{"csrf": {csrf(t, page)}})
	if sent.Code != http.StatusSeeOther || !strings.Contains(sent.Location(), "with=sms") {
		t.Fatalf("send = %d → %q", sent.Code, sent.Location())
	}
	form := b.get(t, sent.Location())
	golden(t, "login-sms-sent", form, http.StatusOK)
	if strings.Contains(form.Body, "900123") {
		t.Error("the page shows the whole phone number")
	}
	a := b.post(t, "/login/"+flow+"/sms/verify", url.Values{"csrf": {csrf(t, form)}, "code": {e.texts.code(t)}})
	if a.Code != http.StatusSeeOther || a.Location() != "/" {
		t.Fatalf("sms code = %d → %q\n%s", a.Code, a.Location(), a.Body)
	}
	signedInAs(t, e, b, session.AAL2)
}

// phone is the gatehouse authenticator of a test user: its key, enrolled.
type phone struct {
	key *ecdsa.PrivateKey
	jkt string
}

// enrolPhone adds the phone authenticator through the portal's page, and
// registers a phone with the code it shows, as the app would.
func enrolPhone(t *testing.T, e *env, b *browser) *phone {
	t.Helper()
	page := b.post(t, "/factors/push", url.Values{"csrf": {csrf(t, b.get(t, "/factors"))}})
	m := regexp.MustCompile(`enrolment code: <code class="secret">([^<]+)</code>`).FindStringSubmatch(page.Body)
	if page.Code != http.StatusOK || m == nil {
		t.Fatalf("enrol push = %d, no code on the page\n%s", page.Code, page.Body)
	}
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalRegistration(key, m[1], "Pixel")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterPhone(ctx, body); err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{key: key, jkt: jkt}
}

// answer answers the phone's one pending prompt.
func (p *phone) answer(t *testing.T, e *env, d push.Decision, number int) string {
	t.Helper()
	prompts, err := e.svc.PhonePending(ctx, p.jkt)
	if err != nil || len(prompts) != 1 {
		t.Fatalf("phone's prompts = %+v, %v; want one", prompts, err)
	}
	resp := push.Response{ChallengeID: prompts[0].ChallengeID, Decision: d, Number: number, SignedAt: e.clock.Now().Truncate(time.Second)}
	sig, err := push.Sign(p.key, resp)
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalResponse(resp, sig)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.svc.PhoneAnswer(ctx, p.jkt, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoginPush(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "pat", alicePW, user.Mobile)
	home := e.browser(safariUA)
	home.mustLogin(t, "pat", alicePW)
	ph := enrolPhone(t, e, home)

	b := home.sameDevice()
	flow, path := flowOf(t, b.login(t, "pat", alicePW))
	page := b.get(t, path)
	golden(t, "login-push", page, http.StatusOK)
	a := b.post(t, "/login/"+flow+"/push", url.Values{"csrf": {csrf(t, page)}})
	if a.Code != http.StatusSeeOther {
		t.Fatalf("send push = %d\n%s", a.Code, a.Body)
	}
	waiting := b.get(t, a.Location())
	golden(t, "login-push-number", waiting, http.StatusOK)
	m := numberRe.FindStringSubmatch(waiting.Body)
	if m == nil {
		t.Fatal("no number on the page")
	}
	n, _ := strconv.Atoi(m[1])
	if !strings.Contains(waiting.Body, `<script src="/static/poll.js" defer></script>`) || !strings.Contains(waiting.Body, `data-poll-flow="`+flow+`"`) {
		t.Error("the waiting page does not poll by script")
	}
	// Reloading shows the same number and sends no second push.
	if again := b.post(t, "/login/"+flow+"/push", url.Values{"csrf": {csrf(t, page)}}); again.Location() != a.Location() {
		t.Errorf("a second send = %q, want the same push %q", again.Location(), a.Location())
	}
	// Without script: "check again" before the phone answers comes back.
	tok := csrf(t, waiting)
	check := b.post(t, "/login/"+flow+"/check", url.Values{"csrf": {tok}, "number": {m[1]}, "wait": {"push"}})
	if check.Code != http.StatusSeeOther || !strings.Contains(check.Location(), "checked=1") {
		t.Fatalf("check before the answer = %d → %q", check.Code, check.Location())
	}
	if page := b.get(t, check.Location()); !strings.Contains(page.Body, "No answer from your phone yet.") {
		t.Error("the page after checking does not say there is no answer yet")
	}
	if out := ph.answer(t, e, push.Approve, n); out != "approved" {
		t.Fatalf("phone answer = %q", out)
	}
	done := b.post(t, "/login/"+flow+"/check", url.Values{"csrf": {tok}, "number": {m[1]}, "wait": {"push"}})
	if done.Code != http.StatusSeeOther || done.Location() != "/" {
		t.Fatalf("check after approval = %d → %q", done.Code, done.Location())
	}
	signedInAs(t, e, b, session.AAL2)

	// A wrong number denies the sign-in.
	c := home.sameDevice()
	flow2, _ := flowOf(t, c.login(t, "pat", alicePW))
	tok2 := csrf(t, c.get(t, "/login/"+flow2))
	c.post(t, "/login/"+flow2+"/push", url.Values{"csrf": {tok2}})
	ph.answer(t, e, push.Approve, n%90+10)
	if a := c.post(t, "/login/"+flow2+"/check", url.Values{"csrf": {tok2}, "wait": {"push"}}); a.Location() != "/login?failed=denied" {
		t.Errorf("check after a wrong number → %q, want /login?failed=denied", a.Location())
	}
}

// TestDeviceApproval: a sign-in from a new browser waits for a trusted
// device; the trusted session approves it after a step-up, and the
// waiting browser signs in when it checks again.
func TestDeviceApproval(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	// The home browser signs in again with its factor, so its session
	// holds AAL2; its proof then grows old.
	hb := home.sameDevice()
	flow, _ := flowOf(t, hb.login(t, "alice", alicePW))
	hb.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {csrf(t, hb.get(t, "/login/"+flow))}, "code": {code(t, e, secret)}})
	signedInAs(t, e, hb, session.AAL2)
	e.clock.Set(e.clock.Now().Add(10 * time.Minute))

	nb := e.browser(safariUA)
	flow, _ = flowOf(t, nb.login(t, "alice", alicePW))
	tok := csrf(t, nb.get(t, "/login/"+flow))
	a := nb.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {code(t, e, secret)}})
	_, path := flowOf(t, a)
	if !strings.HasSuffix(path, "/device") {
		t.Fatalf("a new browser's right code → %q, want the device page", path)
	}
	waiting := nb.get(t, path)
	golden(t, "login-device", waiting, http.StatusOK)
	if nb.cookie("gatehouse_session") != "" || nb.cookie("gatehouse_device") == "" {
		t.Error("the waiting browser has a session, or no device cookie")
	}
	if m := e.mails.last(t); !strings.Contains(m.Body, "/devices/approve?token=") || m.To != "alice@example.com" {
		t.Errorf("approval mail = %+v", m)
	}

	devices := hb.get(t, "/devices")
	golden(t, "devices", devices, http.StatusOK)
	pending := regexp.MustCompile(`action="/devices/(dev_[^/"]+)/approve"`).FindStringSubmatch(devices.Body)
	if pending == nil {
		t.Fatal("the waiting device has no approve button")
	}
	// Ten minutes after its last proof, the session must step up first.
	step := hb.post(t, "/devices/"+pending[1]+"/approve", url.Values{"csrf": {csrf(t, devices)}})
	golden(t, "stepup", step, http.StatusForbidden)
	e.clock.Set(e.clock.Now().Add(time.Minute))
	up := hb.post(t, "/stepup", url.Values{"csrf": {csrf(t, step)}, "back": {"/devices"}, "code": {code(t, e, secret)}})
	if up.Code != http.StatusSeeOther || up.Location() != "/devices?done=confirmed" {
		t.Fatalf("step-up = %d → %q\n%s", up.Code, up.Location(), up.Body)
	}
	devices = hb.get(t, "/devices?done=confirmed")
	if ok := hb.post(t, "/devices/"+pending[1]+"/approve", url.Values{"csrf": {csrf(t, devices)}}); ok.Code != http.StatusSeeOther || ok.Location() != "/devices?done=device-approved" {
		t.Fatalf("approve after step-up = %d → %q\n%s", ok.Code, ok.Location(), ok.Body)
	}
	done := nb.post(t, "/login/"+flow+"/check", url.Values{"csrf": {tok}, "wait": {"device"}})
	if done.Code != http.StatusSeeOther || done.Location() != "/" {
		t.Fatalf("the waiting browser's check = %d → %q", done.Code, done.Location())
	}
	signedInAs(t, e, nb, session.AAL2)
}

// TestDeviceApprovalByLink: the e-mailed link shows a button; opening it
// approves nothing, pressing the button does, once.
func TestDeviceApprovalByLink(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	_ = home
	nb := e.browser(safariUA)
	flow, _ := flowOf(t, nb.login(t, "alice", alicePW))
	tok := csrf(t, nb.get(t, "/login/"+flow))
	flowOf(t, nb.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {code(t, e, secret)}}))
	m := regexp.MustCompile(`/devices/approve\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(e.mails.last(t).Body)
	if m == nil {
		t.Fatal("no link in the mail")
	}
	mail := e.browser(firefoxUA) // the mail reader, signed out
	for range 2 {                // a link scanner, then the owner
		page := mail.get(t, "/devices/approve?token="+m[1])
		if page.Code != http.StatusOK {
			t.Fatalf("GET the link = %d", page.Code)
		}
	}
	if devs, _ := e.st.DevicesOfUser(ctx, "usr_alice"); pendingCount(devs) != 1 {
		t.Fatal("opening the link approved the device")
	}
	page := mail.get(t, "/devices/approve?token="+m[1])
	golden(t, "device-link", normaliseToken(page, m[1]), http.StatusOK)
	// Without the page's form token: refused.
	if a := mail.post(t, "/devices/approve", url.Values{"token": {m[1]}}); a.Code != http.StatusForbidden {
		t.Errorf("POST without the form token = %d, want 403", a.Code)
	}
	ok := mail.post(t, "/devices/approve", url.Values{"csrf": {csrf(t, page)}, "token": {m[1]}})
	golden(t, "device-link-done", ok, http.StatusOK)
	if again := mail.post(t, "/devices/approve", url.Values{"csrf": {csrf(t, page)}, "token": {m[1]}}); again.Code != http.StatusBadRequest ||
		!strings.Contains(again.Body, "This approval link does not work") {
		t.Errorf("the link used twice = %d", again.Code)
	}
	done := nb.post(t, "/login/"+flow+"/check", url.Values{"csrf": {tok}, "wait": {"device"}})
	if done.Location() != "/" {
		t.Fatalf("the waiting browser's check → %q, want /", done.Location())
	}
	signedInAs(t, e, nb, session.AAL2)
}

func pendingCount(ds []*device.Device) int {
	n := 0
	for _, d := range ds {
		if d.Status == device.Pending {
			n++
		}
	}
	return n
}

// normaliseToken hides a link's token in a page bound for a golden file.
func normaliseToken(a answer, tok string) answer {
	a.Body = strings.ReplaceAll(a.Body, tok, "LINK-TOKEN")
	return a
}

// TestFlowBinding: a flow's pages answer only the browser holding its
// cookie, and its forms only with its token.
func TestFlowBinding(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	b := home.sameDevice()
	flow, _ := flowOf(t, b.login(t, "alice", alicePW))
	tok := csrf(t, b.get(t, "/login/"+flow))

	stranger := e.browser(firefoxUA)
	if a := stranger.get(t, "/login/"+flow); a.Code != http.StatusSeeOther || a.Location() != "/login?failed=expired" {
		t.Errorf("another browser opening the flow = %d → %q", a.Code, a.Location())
	}
	// Its own flow cookie does not open this flow.
	other := home.sameDevice()
	flowOf(t, other.login(t, "alice", alicePW))
	if a := other.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {code(t, e, secret)}}); a.Code != http.StatusForbidden {
		t.Errorf("another flow's browser with this flow's form token = %d, want 403", a.Code)
	}
	if a := other.get(t, "/login/"+flow); a.Location() != "/login?failed=expired" {
		t.Errorf("another flow's browser opening this flow → %q", a.Location())
	}
	for name, f := range map[string]url.Values{"NoToken": {"code": {"123456"}}, "Garbage": {"csrf": {"x"}, "code": {"123456"}}} {
		if a := b.post(t, "/login/"+flow+"/totp", f); a.Code != http.StatusForbidden {
			t.Errorf("%s: = %d, want 403", name, a.Code)
		}
	}
	if a := b.post(t, "/login/"+flow+"/totp", url.Values{"csrf": {tok}, "code": {code(t, e, secret)}}, "Sec-Fetch-Site", "cross-site"); a.Code != http.StatusForbidden {
		t.Errorf("cross-site answer = %d, want 403", a.Code)
	}
	// An expired flow sends the browser back to start.
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if a := b.get(t, "/login/"+flow); a.Location() != "/login?failed=expired" {
		t.Errorf("an expired flow → %q", a.Location())
	}
}

// TestLoginWebAuthnPage: an account with a security key is offered it
// first; the page loads the WebAuthn script and says what to do without it.
func TestLoginWebAuthnPage(t *testing.T) {
	e := newEnv(t)
	home, _, _ := totpUser(t, e)
	alice, _ := e.st.UserByUsername(ctx, "alice")
	addFactor(t, e, alice, &factor.Factor{ID: "fac_key", Kind: factor.WebAuthn, Name: "YubiKey", DeviceBound: true})
	b := home.sameDevice()
	_, path := flowOf(t, b.login(t, "alice", alicePW))
	page := b.get(t, path)
	golden(t, "login-webauthn", page, http.StatusOK)
	for _, want := range []string{`<script src="/static/webauthn.js" defer></script>`, `data-webauthn="login"`, "<noscript>", `?with=totp">Authenticator app code</a>`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the security key page lacks %s", want)
		}
	}
}
