package cli_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
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
	c := &chrome{ctx: ctx, base: base}
	dir := artifacts(t)
	t.Cleanup(func() { c.screenshot(t, dir) }) // runs before the browser stops
	return c
}

// screenshot saves the page as portal-<test>.png.
func (c *chrome) screenshot(t *testing.T, dir string) {
	ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	name := "portal-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-") + ".png"
	path := filepath.Join(dir, name)
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
	if h := c.text(t, "h1"); h != "Security overview" {
		t.Errorf("h1 = %q", h)
	}
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
