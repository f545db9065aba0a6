package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/factor/totp"
)

// The portal proven in a real browser: Debian's Chromium, headless,
// driven over the DevTools protocol.

const chromiumPath = "/usr/bin/chromium"

// artifacts is the folder that keeps the tests' screenshots:
// $GATEHOUSE_ARTIFACTS (the Makefile sets ./artifacts), else a temporary one.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chrome is a headless Chromium with a fresh profile, one tab open.
type chrome struct {
	ctx  context.Context // the tab; steps take their own timeouts from it
	base string          // the server's URL
	dir  string          // the artifacts folder

	mu       sync.Mutex
	problems []string // script exceptions and policy violations seen
}

// newChrome starts Chromium for the test, skipping it when Chromium is
// missing, unless under CI, where a missing browser fails. When the test
// ends, a PNG of the last page goes to the artifacts folder, whether the
// test passed or not.
func newChrome(t *testing.T, base string) *chrome {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (scripts/test-deps.sh installs it)", chromiumPath, err)
		}
		t.Skipf("%s missing; install Debian's chromium (scripts/test-deps.sh) to run the browser tests", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), // a fresh profile: no cookies from another test
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	c := &chrome{ctx: ctx, base: base, dir: artifacts(t)}
	// A script that throws, or anything the Content-Security-Policy
	// blocks, fails the test: the portal must need neither.
	if err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "script exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				p = "policy violation: " + ev.Entry.Text
			}
		}
		if p != "" {
			c.mu.Lock()
			c.problems = append(c.problems, p)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.screenshot(t, "") // runs before the browser stops
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("in the browser: %s", p)
		}
	})
	return c
}

// screenshot saves the page as portal-<test>.png, or, for a step of the
// test, portal-<test>-<step>.png.
func (c *chrome) screenshot(t *testing.T, step string) {
	ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	name := "portal-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	if step != "" {
		name += "-" + step
	}
	name += ".png"
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// do runs steps on the tab within 20 seconds.
func (c *chrome) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// text returns the visible text of the first element sel matches.
func (c *chrome) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// open navigates to path and returns the answer of the page's document.
func (c *chrome) open(t *testing.T, path string) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(c.base+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return resp
}

// submit clicks the button sel and waits for the page it loads.
func (c *chrome) submit(t *testing.T, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		t.Fatalf("submit %s: %v", sel, err)
	}
}

// signIn fills in the sign-in form with the keyboard and sends it.
func (c *chrome) signIn(t *testing.T, user, pw string) {
	t.Helper()
	c.open(t, "/login")
	c.do(t, chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), pw))
	c.submit(t, `form[action="/login"] button[type=submit]`)
}

// cookie returns the browser's cookie name for the server, HttpOnly included.
func (c *chrome) cookie(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{c.base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range res.Cookies {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// location is the path of the page the tab shows.
func (c *chrome) location(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}

const portalPW = "a portal passphrase of some length"

// portalServer starts gatehouse on SQLite with one password-only user.
func portalServer(t *testing.T) *testServer {
	t.Helper()
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	s.addUser(t, "alice", portalPW)
	remember(portalPW)
	return s
}

// TestPortalSignIn signs in with a password and reads the overview and the
// sessions page, styled by the stylesheet the policy lets through.
func TestPortalSignIn(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	resp := c.open(t, "/login")
	if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	c.signIn(t, "alice", portalPW)
	if loc := c.location(t); loc != "/" {
		t.Fatalf("after sign-in the browser is at %s, want /", loc)
	}
	// The overview opens with the posture report: its login map (an SVG,
	// styled by attributes alone) and its findings.
	if h := c.text(t, "h1"); h != "Security posture of alice" {
		t.Errorf("h1 = %q", h)
	}
	if f := c.text(t, ".gh-findings"); !strings.Contains(f, "Password only") {
		t.Errorf("findings = %q, want the password-only finding", f)
	}
	c.screenshot(t, "overview")
	if b := c.text(t, ".banner"); !strings.Contains(b, "no second factor yet") {
		t.Errorf("banner = %q, want the no-second-factor warning", b)
	}
	if a := c.text(t, "#h-factors + dl"); !strings.Contains(a, "Password only (AAL1)") {
		t.Errorf("factors summary = %q", a)
	}
	// The stylesheet applies: the CSP let /static/portal.css through.
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if err != nil || bg != "rgb(23, 32, 51)" {
		t.Errorf("header background = %q, %v; the stylesheet did not apply", bg, err)
	}

	c.open(t, "/sessions")
	row := c.text(t, "tr.current")
	for _, want := range []string{"This session", "Chrome on Linux", "Browser", "127.0.0.1", "HeadlessChrome"} {
		if !strings.Contains(row, want) {
			t.Errorf("current session row %q lacks %q", row, want)
		}
	}
	// Keyboard: the skip link is the first stop and leads to the content.
	c.do(t, chromedp.KeyEvent("\t"))
	ctx2, cancel2 := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel2()
	focused, err := chromedp.Run(ctx2, chromedp.Evaluate[string](`document.activeElement.textContent`))
	if err != nil || focused != "Skip to content" {
		t.Errorf("first tab stop = %q, %v; want the skip link", focused, err)
	}

	// A phone-sized viewport: the table turns into cards, nothing overflows.
	c.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	c.open(t, "/sessions")
	ctx3, cancel3 := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel3()
	wide, err := chromedp.Run(ctx3, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("sessions page on a phone scrolls sideways (%v, %v)", wide, err)
	}
}

// TestPortalKillSession ends a session of another client from the
// sessions page; the API refuses that client from its next request on.
func TestPortalKillSession(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)

	// A second client on the same computer (it holds the browser's device
	// cookie, so no device approval is due) signs in through the API.
	jar := newBrowser(t)
	u, _ := url.Parse(s.URL)
	jar.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_device", Value: c.cookie(t, "gatehouse_device")}})
	var in struct {
		Status  string `json:"status"`
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if resp := call(t, jar, "POST", s.URL+"/v1/login", map[string]any{"username": "alice", "password": portalPW, "interface": "web"}, nil, &in); resp.StatusCode != 200 || in.Status != "authenticated" {
		t.Fatalf("API login of the second client = %d %+v", resp.StatusCode, in)
	}
	if resp := call(t, jar, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("second client: GET /v1/me = %d", resp.StatusCode)
	}

	c.open(t, "/sessions")
	sel := `form[action="/sessions/` + in.Session.ID + `/end"] button`
	if got := c.text(t, sel); got != "End session" {
		t.Fatalf("the other session's button says %q", got)
	}
	c.submit(t, sel)
	if loc := c.location(t); loc != "/sessions?done=ended" {
		t.Errorf("after ending it the browser is at %s", loc)
	}
	if n := c.text(t, ".notice"); !strings.Contains(n, "The session was ended.") {
		t.Errorf("notice = %q", n)
	}
	if resp := call(t, jar, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("the ended client: GET /v1/me = %d, want 401", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.list tbody tr").length`))
	if err != nil || rows != 1 {
		t.Errorf("sessions listed after ending the other: %d, %v; want 1", rows, err)
	}
}

// TestPortalWrongPassword shows the one message for any bad credential.
func TestPortalWrongPassword(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "mallory", "not a user here")
	unknown := c.text(t, "#form-error")
	c.signIn(t, "alice", "not her password")
	wrong := c.text(t, "#form-error")
	if wrong != "The username or password is wrong." || unknown != wrong {
		t.Errorf("wrong password says %q, unknown user %q; want one message", wrong, unknown)
	}
	if loc := c.location(t); loc != "/login" {
		t.Errorf("after a wrong password the browser is at %s", loc)
	}
	if c.cookie(t, "gatehouse_session") != "" {
		t.Error("a wrong password left a session cookie")
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	val, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("password")))
	if err != nil || val != "" {
		t.Errorf("the password field kept %d characters (%v); want it empty", len(val), err)
	}
}

// TestPortalSignOut signs out; the session is gone for the API too.
func TestPortalSignOut(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)
	tok := c.cookie(t, "gatehouse_session")
	if tok == "" {
		t.Fatal("no session cookie after sign-in")
	}
	remember(tok)
	c.submit(t, `form[action="/logout"] button`)
	if loc := c.location(t); loc != "/login?done=signed-out" {
		t.Errorf("after signing out the browser is at %s", loc)
	}
	if n := c.text(t, ".notice"); n != "You have signed out." {
		t.Errorf("notice = %q", n)
	}
	if c.cookie(t, "gatehouse_session") != "" {
		t.Error("the session cookie survived signing out")
	}
	req, _ := http.NewRequest("GET", s.URL+"/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: tok})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the old cookie after signing out: GET /v1/me = %d, want 401", resp.StatusCode)
	}
	// Back to a page: the portal asks to sign in again.
	c.open(t, "/sessions")
	if loc := c.location(t); loc != "/login" {
		t.Errorf("signed out, /sessions led to %s, want /login", loc)
	}
}

// waitPath waits until the tab shows path, loaded: a script navigates
// there by itself. A navigation under way makes an evaluation fail; the
// loop asks again.
func (c *chrome) waitPath(t *testing.T, path string) {
	t.Helper()
	expr := fmt.Sprintf("location.pathname + location.search === %q && document.readyState === 'complete'", path)
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: the tab is at %s", path, c.location(t))
}

// typeInto types text into the input with the given id.
func (c *chrome) typeInto(t *testing.T, id, text string) {
	t.Helper()
	c.do(t, chromedp.SendKeys(chromedp.ID(id), text))
}

// securityKey gives the browser a virtual authenticator, as the DevTools
// WebAuthn domain makes it: a USB CTAP2 key with resident keys and user
// verification, which answers by itself.
func (c *chrome) securityKey(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb, HasResidentKey: true,
		HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// totpNow is the TOTP code of secret for the step after now's: a code
// just used to confirm the factor is refused as a replay, and the next
// one is accepted within the allowed drift.
func totpNow(t *testing.T, secret string, offset int64) string {
	t.Helper()
	code, err := totp.Code(secret, totp.Step(time.Now())+offset, 6)
	if err != nil {
		t.Fatal(err)
	}
	remember(code)
	return code
}

// enrolTOTPInPortal adds an authenticator app from the factors page and
// returns its secret, leaving the browser on the recovery codes page.
func (c *chrome) enrolTOTPInPortal(t *testing.T) string {
	t.Helper()
	c.open(t, "/factors")
	c.typeInto(t, "totp-name", "Work phone")
	c.submit(t, `form[action="/factors/totp"] button`)
	c.screenshot(t, "totp-enrol")
	secret := strings.ReplaceAll(c.text(t, "#totp-secret"), " ", "")
	remember(secret)
	c.typeInto(t, "code", totpNow(t, secret, 0))
	c.submit(t, `form[action$="/confirm"] button`)
	if h := c.text(t, "h1"); h != "Your recovery codes" {
		t.Fatalf("after confirming the app: %q, want the recovery codes", h)
	}
	return secret
}

// TestPortalTOTP enrols an authenticator app in the portal, then signs in
// with the password and a code.
func TestPortalTOTP(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)
	secret := c.enrolTOTPInPortal(t)
	if n := strings.Count(c.text(t, "#codes"), "-"); n != 40 {
		t.Errorf("the recovery page shows %d dashes, want ten codes of five groups", n)
	}
	c.screenshot(t, "recovery-codes")
	c.submit(t, `form[action="/logout"] button`)

	c.signIn(t, "alice", portalPW)
	if loc := c.location(t); !strings.HasPrefix(loc, "/login/flw_") {
		t.Fatalf("after the password the browser is at %s, want the second step", loc)
	}
	if h := c.text(t, "main h2"); h != "Authenticator app" {
		t.Errorf("second step offers %q first, want the authenticator app", h)
	}
	c.typeInto(t, "code", "000000")
	c.submit(t, `form[action$="/totp"] button`)
	if e := c.text(t, "#form-error"); e != "That did not work: the code or key was wrong, used already or expired. Try again." {
		t.Errorf("a wrong code says %q", e)
	}
	// A phone-sized screen: the second step fits without scrolling sideways.
	c.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	c.screenshot(t, "second-step-phone")
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Errorf("the second step on a phone scrolls sideways (%v, %v)", wide, err)
	}
	c.do(t, chromedp.EmulateViewport(1280, 900))
	c.typeInto(t, "code", totpNow(t, secret, 1))
	c.submit(t, `form[action$="/totp"] button`)
	if loc := c.location(t); loc != "/" {
		t.Fatalf("after the code the browser is at %s, want /", loc)
	}
	if a := c.text(t, "#h-factors + dl"); !strings.Contains(a, "Password and a second factor (AAL2)") {
		t.Errorf("factors summary = %q, want AAL2", a)
	}
	if c.cookie(t, "gatehouse_flow") != "" {
		t.Error("the flow cookie outlived the sign-in")
	}
}

// enrolKeyInPortal adds the virtual security key from the factors page,
// leaving the browser showing the new recovery codes.
func (c *chrome) enrolKeyInPortal(t *testing.T) {
	t.Helper()
	c.open(t, "/factors")
	c.typeInto(t, "key-name", "Virtual key")
	c.do(t, chromedp.Click(chromedp.CSS(`[data-webauthn="enrol"] [data-webauthn-start]`), chromedp.NodeVisible))
	c.do(t, chromedp.WaitVisible(chromedp.ID("new-codes")))
}

// TestPortalSecurityKey enrols a security key in the portal, through
// Chromium's virtual authenticator, and signs in with it.
func TestPortalSecurityKey(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.securityKey(t)
	c.signIn(t, "alice", portalPW)
	c.enrolKeyInPortal(t)
	if n := strings.Count(c.text(t, "#new-codes [data-codes]"), "-"); n != 40 {
		t.Errorf("the script shows %d dashes of recovery codes, want ten codes", n)
	}
	c.screenshot(t, "key-added")
	c.submit(t, `#new-codes a[href="/factors?done=key-added"]`)
	if row := c.text(t, "table.list tbody"); !strings.Contains(row, "Virtual key") || !strings.Contains(row, "security key") {
		t.Errorf("factors after enrolling = %q", row)
	}
	c.submit(t, `form[action="/logout"] button`)

	c.signIn(t, "alice", portalPW)
	if h := c.text(t, "main h2"); h != "Security key or passkey" {
		t.Fatalf("second step offers %q first, want the security key", h)
	}
	c.screenshot(t, "second-step")
	c.submit(t, `[data-webauthn="login"] [data-webauthn-start]`)
	c.waitPath(t, "/")
	if a := c.text(t, "#h-factors + dl"); !strings.Contains(a, "Phishing-resistant security key (AAL3)") {
		t.Errorf("factors summary = %q, want AAL3", a)
	}

	// An hour later, removing the key asks for a fresh proof: the step-up
	// page's button uses the key again, through POST /v1/stepup.
	s.ageProof(t, "alice")
	time.Sleep(1100 * time.Millisecond) // the session cache's bound
	c.open(t, "/factors")
	c.submit(t, `form[action$="/remove"] button`)
	if h := c.text(t, "h1"); h != "Confirm it is you" {
		t.Fatalf("removing with an old proof shows %q, want the step-up page", h)
	}
	c.screenshot(t, "step-up")
	c.submit(t, `[data-webauthn="stepup"] [data-webauthn-start]`)
	c.waitPath(t, "/factors?done=confirmed")
	c.submit(t, `form[action$="/remove"] button`)
	if e := c.text(t, "#form-error"); !strings.Contains(e, "last strong sign-in method") {
		t.Errorf("removing the only key after the step-up says %q", e)
	}
}

// TestPortalPush signs in by push: the page shows the number, the phone
// authenticator (`gatehouse authenticator approve`) answers with it, and
// the page notices by itself.
func TestPortalPush(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)
	c.open(t, "/factors")
	c.submit(t, `form[action="/factors/push"] button`)
	c.screenshot(t, "enrol")
	code := c.text(t, "ol.steps li:first-child code.secret")
	remember(code)
	state := t.TempDir()
	if out, err := s.authenticator(t, state, "enrol", "--server", s.URL, "--code", code, "--name", "Pixel"); err != nil {
		t.Fatalf("authenticator enrol: %v\n%s", err, out)
	}
	c.submit(t, `form[action="/logout"] button`)

	c.signIn(t, "alice", portalPW)
	c.submit(t, `form[action$="/push"] button`)
	n := strings.TrimSpace(strings.TrimPrefix(c.text(t, "p.number"), "The number is"))
	if len(n) != 2 {
		t.Fatalf("the number on the page is %q, want two digits", n)
	}
	c.screenshot(t, "number")
	if out, err := s.authenticator(t, state, "approve", "--number", n); err != nil || !strings.Contains(out, "approved") {
		t.Fatalf("authenticator approve: %v\n%s", err, out)
	}
	c.waitPath(t, "/")
	if a := c.text(t, "#h-factors + dl"); !strings.Contains(a, "AAL2") {
		t.Errorf("factors summary = %q, want AAL2", a)
	}
}

// TestPortalNewDevice signs a trader in from a browser the account has
// never used: after the second factor it waits on the device page until
// the trader's trusted browser approves it through the API, then goes on
// by itself.
func TestPortalNewDevice(t *testing.T) {
	s := portalServer(t)
	tr := s.newTrader(t, "tom", "he trades from many places")
	// An authenticator app too, added from the trusted browser, which the
	// new browser (without tom's security key) can answer with.
	var e factorAnswer
	if resp := call(t, tr.home, "POST", s.URL+"/v1/factors/totp", nil, nil, &e); resp.StatusCode != 201 {
		t.Fatalf("enrol totp = %d %s", resp.StatusCode, body(resp))
	}
	remember(e.Secret)
	if resp := call(t, tr.home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpNow(t, e.Secret, 0)}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("confirm totp = %d %s", resp.StatusCode, body(resp))
	}

	c := newChrome(t, s.URL)
	c.signIn(t, tr.name, tr.pw)
	c.open(t, strings.SplitN(c.location(t), "?", 2)[0]+"?with=totp")
	c.typeInto(t, "code", totpNow(t, e.Secret, 1))
	c.submit(t, `form[action$="/totp"] button`)
	loc := c.location(t)
	if !strings.HasSuffix(loc, "/device") {
		t.Fatalf("after the code the new browser is at %s, want the device page", loc)
	}
	if h := c.text(t, "h1"); h != "Approve this device" {
		t.Errorf("device page h1 = %q", h)
	}
	c.screenshot(t, "waiting")
	if c.cookie(t, "gatehouse_session") != "" {
		t.Fatal("the waiting browser holds a session")
	}

	var devs struct {
		Devices []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"devices"`
	}
	call(t, tr.home, "GET", s.URL+"/v1/devices", nil, nil, &devs)
	var pending string
	for _, d := range devs.Devices {
		if d.Status == "pending" {
			pending = d.ID
		}
	}
	if pending == "" {
		t.Fatalf("devices = %+v, want one pending", devs)
	}
	if resp := call(t, tr.home, "POST", s.URL+"/v1/devices/"+pending+"/approve", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("approve = %d %s", resp.StatusCode, body(resp))
	}
	c.waitPath(t, "/")
	if who := c.text(t, ".who"); who != tr.name {
		t.Errorf("signed in as %q", who)
	}
	c.open(t, "/devices")
	if rows := c.text(t, "table.list tbody"); strings.Count(rows, "Trusted") != 2 {
		t.Errorf("devices after the approval = %q, want two trusted", rows)
	}
}

// TestPortalAPIKey creates an API key in the portal and uses it through
// forward-auth, as a reverse proxy in front of the trading API would.
func TestPortalAPIKey(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil, "--config", faConfig(t, "", ""))
	s.addUser(t, "alice", portalPW)
	remember(portalPW)
	faSetup(t, s)
	faMember(t, s, "alice", "ACC-P", "owner")
	c := newChrome(t, s.URL)
	// Keys are made from a session with a second factor: enrol an app and
	// sign in again with it.
	c.signIn(t, "alice", portalPW)
	secretTOTP := c.enrolTOTPInPortal(t)
	c.submit(t, `form[action="/logout"] button`)
	c.signIn(t, "alice", portalPW)
	c.typeInto(t, "code", totpNow(t, secretTOTP, 1))
	c.submit(t, `form[action$="/totp"] button`)
	c.open(t, "/keys")
	c.submit(t, `a[href="/keys/ACC-P/new"]`)
	c.typeInto(t, "key-name", "paper bot on vm-3")
	c.do(t, chromedp.Click(chromedp.CSS(`input[name="scopes"][value="orders:read"]`)))
	c.typeInto(t, "key-allow", "127.0.0.1\n::1")
	c.submit(t, `form[action="/keys/ACC-P"] button[type=submit]`)
	secret := c.text(t, "#key-secret")
	remember(secret)
	if !keyFormat.MatchString(secret) {
		t.Fatalf("the page shows %q, not a key", secret)
	}
	c.screenshot(t, "secret")

	ask := func(method, uri string) *http.Response {
		h := http.Header{"Authorization": {"Bearer " + secret}, "X-Forwarded-Method": {method}, "X-Forwarded-Proto": {"http"},
			"X-Forwarded-Host": {"paper.localhost"}, "X-Forwarded-Uri": {uri}}
		return call(t, http.DefaultClient, "GET", s.URL+"/v1/authz", nil, h, nil)
	}
	resp := ask("GET", "/api/orders")
	if resp.StatusCode != 200 || resp.Header.Get("X-Gatehouse-Account") != "ACC-P" || resp.Header.Get("X-Gatehouse-Scopes") != "orders:read" {
		t.Fatalf("forward-auth with the portal's key = %d %v %s", resp.StatusCode, resp.Header, body(resp))
	}
	if resp := ask("POST", "/api/orders"); resp.StatusCode != 403 {
		t.Errorf("placing an order with a read-only key = %d, want 403", resp.StatusCode)
	}
	// The use shows on the keys page once written (batched each second).
	time.Sleep(1500 * time.Millisecond)
	c.open(t, "/keys")
	if row := c.text(t, "table.list tbody"); !strings.Contains(row, "from 127.0.0.1") {
		t.Errorf("keys page after a use = %q, want the last use", row)
	}
	c.screenshot(t, "last-used")
	// Revoked from the page: refused on the next request.
	c.submit(t, `form[action$="/revoke"] button`)
	if n := c.text(t, ".notice"); !strings.Contains(n, "revoked") {
		t.Errorf("notice = %q", n)
	}
	if resp := ask("GET", "/api/orders"); resp.StatusCode != 401 {
		t.Errorf("forward-auth with the revoked key = %d, want 401", resp.StatusCode)
	}
}

// TestPortalFreeze opens a notice's freeze link in Chromium: the page
// changes nothing until its one button is pressed; then the API and
// forward-auth refuse the session and the key as frozen. Signing in again
// with the security key leads to the unfreeze page, whose new password
// brings the key back; the menu's Freeze button freezes again.
func TestPortalFreeze(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil, "--config", faConfig(t, "", ""))
	faSetup(t, s)
	s.addUser(t, "alice", portalPW)
	remember(portalPW)
	faMember(t, s, "alice", "ACC-P", "trader")
	c := newChrome(t, s.URL)
	c.securityKey(t)
	c.signIn(t, "alice", portalPW)
	c.enrolKeyInPortal(t)
	c.submit(t, `#new-codes a[href="/factors?done=key-added"]`)
	c.submit(t, `form[action="/logout"] button`)
	c.signIn(t, "alice", portalPW)
	c.submit(t, `[data-webauthn="login"] [data-webauthn-start]`)
	c.waitPath(t, "/")

	session := http.Header{"Cookie": {"gatehouse_session=" + c.cookie(t, "gatehouse_session")}}
	var k issuedKey
	if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/accounts/ACC-P/keys", map[string]any{"name": "bot", "scopes": []string{"orders:read"}}, session, &k); resp.StatusCode != 201 {
		t.Fatalf("create key = %d %s", resp.StatusCode, body(resp))
	}
	remember(k.Secret)
	ask := func(what string, h http.Header, want int) {
		t.Helper()
		resp := faAsk(t, s, "GET", paperOrders, h)
		if resp.StatusCode != want {
			t.Errorf("%s: forward-auth = %d %s, want %d", what, resp.StatusCode, body(resp), want)
		}
		if want == 403 && !strings.HasSuffix(problemOf(t, resp).Type, "frozen") {
			t.Errorf("%s: forward-auth refused without the frozen problem", what)
		}
	}
	ask("session before the freeze", session, 200)

	tok := s.freezeLink(t, "alice", "PORTAL-freeze-link-token-0123456789abcdefgh", false)
	if resp := c.open(t, "/freeze?token="+tok); resp.Status != 200 {
		t.Fatalf("GET /freeze?token= = %d", resp.Status)
	}
	c.screenshot(t, "freeze-link")
	ask("session after opening the link", session, 200)
	ask("key after opening the link", bearer(k.Secret), 200)
	c.submit(t, "#freeze")
	if h := c.text(t, "h1"); h != "Your account is frozen" {
		t.Fatalf("after pressing Freeze the page says %q", h)
	}
	c.screenshot(t, "frozen")
	ask("session after the freeze", session, 403)
	ask("key after the freeze", bearer(k.Secret), 403)
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/sessions", nil, session, nil); resp.StatusCode != 403 || !strings.HasSuffix(problemOf(t, resp).Type, "frozen") {
		t.Errorf("the API with the frozen session = %d, want 403 frozen", resp.StatusCode)
	}
	if resp := c.open(t, "/freeze?token="+tok); resp.Status != 200 {
		t.Fatalf("GET /freeze?token= again = %d", resp.Status)
	}
	c.submit(t, "#freeze")
	if e := c.text(t, "p.error"); !strings.Contains(e, "used already") {
		t.Errorf("pressing a used link's button says %q", e)
	}

	// Signing in again leads to the unfreeze page; the security key is
	// fresh, so a new password is all it asks.
	c.signIn(t, "alice", portalPW)
	c.submit(t, `[data-webauthn="login"] [data-webauthn-start]`)
	c.waitPath(t, "/unfreeze")
	if st := c.text(t, "#frozen-state"); !strings.Contains(st, "from the link of a notice") {
		t.Errorf("the unfreeze page says %q", st)
	}
	c.open(t, "/sessions")
	c.waitPath(t, "/unfreeze") // every other page leads here while frozen
	c.screenshot(t, "unfreeze")
	const newPW = "a new portal passphrase after the freeze"
	remember(newPW)
	c.typeInto(t, "new", newPW)
	c.typeInto(t, "confirm", newPW)
	c.submit(t, "#unfreeze")
	c.waitPath(t, "/?done=unfrozen")
	ask("key after unfreezing", bearer(k.Secret), 200)
	session = http.Header{"Cookie": {"gatehouse_session=" + c.cookie(t, "gatehouse_session")}}
	ask("the unfreezing session", session, 200)

	// The menu's Freeze button, on every page.
	c.open(t, "/devices")
	c.submit(t, "#menu-freeze")
	if h := c.text(t, "h1"); h != "Your account is frozen" {
		t.Fatalf("after the menu's Freeze the page says %q", h)
	}
	ask("session after the menu's Freeze", session, 403)
	ask("key after the menu's Freeze", bearer(k.Secret), 403)
}
