package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/edge"
	"gatehouse/internal/httpapi"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
	"gatehouse/internal/web"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// scriptTag is the one form of script a page may hold: a file of
// /static/, deferred, with nothing inline.
var scriptTag = regexp.MustCompile(`<script src="/static/[a-z-]+\.js" defer></script>`)

// checkAccessible checks what a test can of a page's accessibility and of
// its fit with the Content-Security-Policy: a language, one h1, a visible
// label for every input, select and text area, text on every button, no
// inline script, style or event handler (which the policy would block
// anyway), scripts from /static/ only.
func checkAccessible(t *testing.T, name, body string) {
	t.Helper()
	if !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("%s: no lang on <html>", name)
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("%s: %d h1 elements, want 1", name, n)
	}
	rest := scriptTag.ReplaceAllString(body, "")
	for _, bad := range []string{"<script", "<style", " style=", " onclick=", " onload=", " onsubmit=", "javascript:"} {
		if strings.Contains(rest, bad) {
			t.Errorf("%s: holds %q, which the Content-Security-Policy forbids", name, bad)
		}
	}
	controls := regexp.MustCompile(`<(?:input|select|textarea) [^>]*>`).FindAllString(body, -1)
	id := regexp.MustCompile(` id="([^"]+)"`)
	for _, in := range controls {
		if strings.Contains(in, `type="hidden"`) {
			continue
		}
		m := id.FindStringSubmatch(in)
		if m == nil {
			t.Errorf("%s: control without an id, so no label can name it: %s", name, in)
			continue
		}
		if !strings.Contains(body, `<label for="`+m[1]+`">`) {
			t.Errorf("%s: control %q has no <label for>", name, m[1])
		}
	}
	for _, b := range regexp.MustCompile(`<button[^>]*>([^<]*)</button>`).FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(b[1]) == "" {
			t.Errorf("%s: a button without text: %s", name, b[0])
		}
	}
	for _, img := range regexp.MustCompile(`<img [^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(img, ` alt="`) {
			t.Errorf("%s: an image without alt text: %s", name, img)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	signedOut := map[string]answer{"/login": b.get(t, "/login"), "/ (signed out)": b.get(t, "/"), "/static/portal.css": b.get(t, "/static/portal.css"),
		"/nothing": b.get(t, "/nothing")}
	b.mustLogin(t, "alice", alicePW)
	all := map[string]answer{}
	for _, p := range signedInPages {
		all[p] = b.get(t, p)
	}
	for _, p := range []string{"/static/webauthn.js", "/static/poll.js", "/static/copy.js", "/devices/approve?token=x"} {
		all[p] = b.get(t, p)
	}
	for k, v := range signedOut {
		all[k] = v
	}
	for path, a := range all {
		h := a.Header
		for k, want := range map[string]string{"Content-Security-Policy": wantCSP, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY"} {
			if got := h.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: page with Cache-Control %q, want no-store", path, h.Get("Cache-Control"))
		}
	}
}

// signedInPages are the pages of a signed-in visitor.
var signedInPages = []string{"/", "/sessions", "/devices", "/factors", "/keys", "/activity", "/notifications", "/password", "/stepup?back=/factors"}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	b := e.browser(firefoxUA)
	a := b.get(t, "/static/portal.css")
	if a.Code != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/css") || a.Header.Get("ETag") == "" || !strings.Contains(a.Body, "--accent") {
		t.Fatalf("GET /static/portal.css = %d %q etag %q", a.Code, a.Header.Get("Content-Type"), a.Header.Get("ETag"))
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/static/portal.css", nil)
	req.Header.Set("If-None-Match", a.Header.Get("ETag"))
	if again := b.do(t, req); again.Code != http.StatusNotModified {
		t.Errorf("revalidation with the ETag = %d, want 304", again.Code)
	}
	for _, p := range []string{"/static/", "/static/nope.css", "/static/../templates/layout.html", "/static/%2e%2e/web.go"} {
		// Unclean paths are redirected to their clean form, which is not an asset.
		if a := b.get(t, p); a.Code == http.StatusOK {
			t.Errorf("GET %s = %d, want no asset", p, a.Code)
		}
	}
}

func TestSignedOut(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	for _, path := range signedInPages {
		if a := b.get(t, path); a.Code != http.StatusSeeOther || a.Location() != "/login" {
			t.Errorf("signed out: GET %s = %d → %q, want 303 → /login", path, a.Code, a.Location())
		}
	}
	if a := b.post(t, "/logout", url.Values{}); a.Code != http.StatusSeeOther || a.Location() != "/login" {
		t.Errorf("signed out: POST /logout = %d → %q, want 303 → /login", a.Code, a.Location())
	}
	// A desktop token is bound to its key: as a cookie it opens nothing.
	tok := e.addSession(t, alice, session.Session{ID: "ses_desk", Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1",
		Assurance: session.AAL2, CreatedAt: e.clock.Now()})
	u, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: tok}})
	if a := b.get(t, "/"); a.Code != http.StatusSeeOther || a.Location() != "/login" {
		t.Errorf("desktop token as a cookie: GET / = %d → %q, want 303 → /login", a.Code, a.Location())
	}
	if b.cookie("gatehouse_session") != "" {
		t.Error("a cookie naming no web session was not cleared")
	}
	// Signed in, the sign-in page sends the visitor home.
	b.mustLogin(t, "alice", alicePW)
	if a := b.get(t, "/login"); a.Code != http.StatusSeeOther || a.Location() != "/" {
		t.Errorf("signed in: GET /login = %d → %q, want 303 → /", a.Code, a.Location())
	}
}

// TestRefusedCookieDoesNotExtendDesktopSession sends a desktop token to
// the portal as a cookie every ten minutes, for longer than the desktop
// idle timeout: each is refused, and none counts as a use, so the
// session idles out as if nobody had tried.
func TestRefusedCookieDoesNotExtendDesktopSession(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	start := e.clock.Now()
	tok := e.addSession(t, alice, session.Session{ID: "ses_desk", Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1",
		Assurance: session.AAL2, CreatedAt: start})
	idle := session.DefaultLifetimes()[session.Desktop].Idle
	b := e.browser(firefoxUA)
	u, _ := url.Parse(e.srv.URL)
	for at := time.Duration(0); at <= idle; at += 10 * time.Minute {
		e.clock.Set(start.Add(at))
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: tok}})
		if a := b.get(t, "/"); a.Code != http.StatusSeeOther || a.Location() != "/login" {
			t.Fatalf("desktop token as a cookie at %v: GET / = %d → %q, want 303 → /login", at, a.Code, a.Location())
		}
		if err := e.sessions.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(start.Add(idle + time.Second))
	if _, err := e.sessions.Resolve(ctx, tok); !errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("desktop session after %v of refused cookies: Resolve = %v, want it idled out", idle, err)
	}
}

// TestLoginCookies checks the portal sets the API's cookie: a session the
// API's Authenticator accepts, with the API's attributes.
func TestLoginCookies(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	form := b.get(t, "/login")
	a := b.post(t, "/login", url.Values{"csrf": {csrf(t, form)}, "username": {"Alice "}, "password": {alicePW}})
	if a.Code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d\n%s", a.Code, a.Body)
	}
	resp := &http.Response{Header: a.Header}
	got := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		got[c.Name] = c
	}
	s := got["gatehouse_session"]
	if s == nil || !s.HttpOnly || s.SameSite != http.SameSiteLaxMode || s.Path != "/" || s.Secure || len(s.Value) < 43 {
		t.Fatalf("session cookie = %+v; want HttpOnly, SameSite=Lax, Path=/, a 256-bit value", s)
	}
	if s.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("session cookie Max-Age = %d, want the web session's 12 hours", s.MaxAge)
	}
	if d := got["gatehouse_device"]; d == nil || !d.HttpOnly || d.MaxAge < 300*24*3600 {
		t.Errorf("device cookie = %+v; want a long-lived HttpOnly cookie", d)
	}
	if l := got["gatehouse_login"]; l == nil || l.MaxAge >= 0 {
		t.Errorf("the sign-in cookie was not cleared after sign-in: %+v", l)
	}
	// The API accepts the cookie: one session for both doors.
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: s.Value})
	auth := &httpapi.Authenticator{Authenticator: &authn.Authenticator{Sessions: e.sessions, Now: e.clock.Now}}
	sess, err := auth.Session(req)
	if err != nil || sess.Door != session.Web || sess.DeviceName != "Firefox on Linux" || sess.UserAgent != firefoxUA || sess.IP != "127.0.0.1" {
		t.Errorf("the API's view of the portal's session: %+v, %v", sess, err)
	}
}

// TestSecureCookies checks the __Host- names on an https origin.
func TestSecureCookies(t *testing.T) {
	e := newEnv(t)
	auth := &authn.Authenticator{Sessions: e.sessions, Now: e.clock.Now}
	h, err := web.NewHandler(web.Deps{Posture: &posturegate.Service{Store: e.st, Now: e.clock.Now}, Login: e.svc, Auth: auth, Cookies: edge.Cookies{Secure: true}, Origin: "https://portal.example", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://portal.example/login", nil))
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != "__Host-gatehouse_login" || !c[0].Secure || c[0].Path != "/" || c[0].Domain != "" {
		t.Errorf("sign-in cookie on https = %+v; want one __Host- cookie, Secure, Path=/", c)
	}
}

func TestNewHandlerBadOrigin(t *testing.T) {
	e := newEnv(t)
	auth := &authn.Authenticator{Sessions: e.sessions, Now: e.clock.Now}
	if _, err := web.NewHandler(web.Deps{Posture: &posturegate.Service{Store: e.st}, Login: e.svc, Auth: auth, Origin: "not an origin"}); err == nil {
		t.Error("NewHandler accepted a malformed origin")
	}
}

// TestOneMessageForBadCredentials: a wrong password and an unknown user
// get the same page, but for the username echoed back.
func TestOneMessageForBadCredentials(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Professional)
	e.addUser(t, "mallory", "another long passphrase", user.Professional)
	wrong := e.browser(firefoxUA).login(t, "alice", "not the password")
	unknown := e.browser(firefoxUA).login(t, "bob", "not the password")
	if wrong.Code != unknown.Code || wrong.Code != http.StatusUnprocessableEntity {
		t.Errorf("wrong password %d, unknown user %d; want the same 422", wrong.Code, unknown.Code)
	}
	msg := regexp.MustCompile(`<p class="error" role="alert" id="form-error">([^<]*)</p>`)
	m1, m2 := msg.FindStringSubmatch(wrong.Body), msg.FindStringSubmatch(unknown.Body)
	if m1 == nil || m2 == nil || m1[1] != m2[1] || m1[1] != "The username or password is wrong." {
		t.Errorf("messages: wrong password %q, unknown user %q; want one message", m1, m2)
	}
	strip := func(a answer) string {
		s := normalise(a.Body)
		return strings.NewReplacer(`value="alice"`, `value="USER"`, `value="bob"`, `value="USER"`).Replace(s)
	}
	if strip(wrong) != strip(unknown) {
		t.Error("the pages for a wrong password and an unknown user differ beyond the username")
	}
	if strings.Contains(wrong.Body, "not the password") {
		t.Error("the page echoes the password")
	}
	missing := e.browser(firefoxUA).login(t, "alice", "")
	if missing.Code != http.StatusUnprocessableEntity || !strings.Contains(missing.Body, "Enter your username and your password.") {
		t.Errorf("empty password = %d, want 422 asking for both", missing.Code)
	}
}

// TestFormsNeedToken: no state-changing form works without the token of
// the session it claims, nor from another site even with it.
func TestFormsNeedToken(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	other := e.signedInBrowser(t, alice, session.Session{ID: "ses_phone", DeviceName: "Safari on iOS", IP: "192.0.2.7", Assurance: session.AAL1,
		CreatedAt: e.clock.Now()}, safariUA)
	mine, theirs := csrf(t, b.get(t, "/sessions")), csrf(t, other.get(t, "/sessions"))
	otherID := "ses_phone"
	posts := []struct {
		path string
		form url.Values
	}{
		{"/logout", url.Values{}},
		{"/sessions/end-others", url.Values{}},
		{"/sessions/" + otherID + "/end", url.Values{}},
		{"/password", url.Values{"current": {alicePW}, "new": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"}}},
		{"/factors/totp", url.Values{"name": {"Phone"}}},
		{"/factors/sms", url.Values{"phone": {"+447700900123"}}},
		{"/factors/push", url.Values{}},
		{"/factors/recovery", url.Values{}},
		{"/stepup", url.Values{"code": {"123456"}}},
		{"/devices/dev_x/revoke", url.Values{}},
		{"/keys/ACC-P", url.Values{"name": {"x"}, "scopes": {"orders:read"}}},
	}
	for _, p := range posts {
		for name, tok := range map[string]string{"NoToken": "", "OtherSessionsToken": theirs, "Garbage": "x"} {
			f := url.Values{}
			for k, v := range p.form {
				f[k] = v
			}
			if tok != "" {
				f.Set("csrf", tok)
			}
			if a := b.post(t, p.path, f); a.Code != http.StatusForbidden {
				t.Errorf("%s: POST %s = %d, want 403", name, p.path, a.Code)
			}
		}
		f := url.Values{"csrf": {mine}}
		for k, v := range p.form {
			f[k] = v
		}
		for name, hdr := range map[string][]string{
			"CrossSite":   {"Sec-Fetch-Site", "cross-site"},
			"SameSite":    {"Sec-Fetch-Site", "same-site"},
			"OtherOrigin": {"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
		} {
			if a := b.post(t, p.path, f, hdr...); a.Code != http.StatusForbidden || !strings.Contains(a.Body, "another site") {
				t.Errorf("%s: POST %s with a good token = %d, want 403", name, p.path, a.Code)
			}
		}
	}
	// Nothing above changed anything: both sessions live, the password holds.
	if ids := sessionIDs(t, e, "alice"); len(ids) != 2 {
		t.Errorf("after refused forms: %d sessions, want 2", len(ids))
	}
	if fs, _ := e.st.FactorsOfUser(ctx, alice.ID); len(fs) != 0 || len(e.texts.msgs) != 0 {
		t.Errorf("after refused forms: %d factors, %d texts; want none", len(fs), len(e.texts.msgs))
	}
	if u, _ := e.st.UserByID(ctx, alice.ID); u.PasswordHash != alice.PasswordHash {
		t.Error("a refused form changed the password")
	}
	// The sign-in form needs its cookie's token too (no login CSRF).
	c := e.browser(firefoxUA)
	c.get(t, "/login")
	if a := c.post(t, "/login", url.Values{"username": {"alice"}, "password": {alicePW}}); a.Code != http.StatusForbidden || c.cookie("gatehouse_session") != "" {
		t.Errorf("sign-in without the form token = %d, want 403 and no session", a.Code)
	}
	if a := c.post(t, "/login", url.Values{"csrf": {mine}, "username": {"alice"}, "password": {alicePW}}); a.Code != http.StatusForbidden {
		t.Errorf("sign-in with another form's token = %d, want 403", a.Code)
	}
}

// sessionIDs lists the ids of a user's live sessions, newest first.
func sessionIDs(t *testing.T, e *env, name string) []string {
	t.Helper()
	u, err := e.st.UserByUsername(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.st.SessionsOfUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range all {
		if s.Active(e.clock.Now()) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	bob := e.addUser(t, "bob", "bob's own long passphrase", user.Occasional)
	deskTok := e.addSession(t, alice, session.Session{ID: "ses_desk", Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1",
		Assurance: session.AAL1, CreatedAt: e.clock.Now()})
	e.addSession(t, bob, session.Session{ID: "ses_bobs", Door: session.Web, DeviceName: "Bob's browser", IP: "192.0.2.2",
		Assurance: session.AAL1, CreatedAt: e.clock.Now()})
	// The desktop session is in the resolver's cache, as after a request.
	if _, err := e.sessions.Resolve(ctx, deskTok); err != nil {
		t.Fatal(err)
	}
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	tok := csrf(t, b.get(t, "/sessions"))

	for _, id := range []string{"ses_bobs", "ses_nope"} {
		if a := b.post(t, "/sessions/"+id+"/end", url.Values{"csrf": {tok}}); a.Code != http.StatusNotFound {
			t.Errorf("ending %s = %d, want 404", id, a.Code)
		}
	}
	if s, _ := e.st.SessionByID(ctx, "ses_bobs"); !s.EndedAt.IsZero() {
		t.Error("alice ended bob's session")
	}
	a := b.post(t, "/sessions/ses_desk/end", url.Values{"csrf": {tok}})
	if a.Code != http.StatusSeeOther || a.Location() != "/sessions?done=ended" {
		t.Fatalf("ending ses_desk = %d → %q", a.Code, a.Location())
	}
	if _, err := e.sessions.Resolve(ctx, deskTok); !errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("the ended session still resolves: %v", err)
	}
	if a := b.post(t, "/sessions/ses_desk/end", url.Values{"csrf": {tok}}); a.Code != http.StatusNotFound {
		t.Errorf("ending it again = %d, want 404", a.Code)
	}
	ev := lastEvent(t, e, alice.ID)
	if ev.Type != audit.SessionEnded || ev.Detail["session"] != "ses_desk" || ev.Detail["reason"] != session.EndRevoked || ev.Detail["by_session"] == "" || ev.Interface != "web" {
		t.Errorf("audit event = %+v", ev)
	}
	if page := b.get(t, "/sessions?done=ended"); !strings.Contains(page.Body, "The session was ended.") || strings.Contains(page.Body, "ses_desk") {
		t.Error("the sessions page does not confirm, or still lists the ended session")
	}
}

func lastEvent(t *testing.T, e *env, userID string) *audit.Event {
	t.Helper()
	evs, err := e.st.AuditOfUser(ctx, userID, 0, 1)
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v, %d events", err, len(evs))
	}
	return evs[0]
}

func TestEndOtherSessions(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	for _, s := range []session.Session{
		{ID: "ses_desk", Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1", Assurance: session.AAL1, CreatedAt: e.clock.Now()},
		{ID: "ses_phone", Door: session.Mobile, JKT: "p", DeviceName: "Phone", IP: "192.0.2.3", Assurance: session.AAL1, CreatedAt: e.clock.Now()},
	} {
		e.addSession(t, alice, s)
	}
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	a := b.post(t, "/sessions/end-others", url.Values{"csrf": {csrf(t, b.get(t, "/sessions"))}})
	if a.Code != http.StatusSeeOther || a.Location() != "/sessions?done=ended-others" {
		t.Fatalf("end others = %d → %q", a.Code, a.Location())
	}
	ids := sessionIDs(t, e, "alice")
	if len(ids) != 1 {
		t.Fatalf("after ending the others: %v, want only this session", ids)
	}
	page := b.get(t, "/sessions?done=ended-others")
	if page.Code != http.StatusOK || !strings.Contains(page.Body, "This session") || strings.Contains(page.Body, "End all other sessions") {
		t.Errorf("sessions page after ending the others = %d; want this session alone, without the end-all button", page.Code)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	tok := b.cookie("gatehouse_session")
	a := b.post(t, "/logout", url.Values{"csrf": {csrf(t, b.get(t, "/"))}})
	if a.Code != http.StatusSeeOther || a.Location() != "/login?done=signed-out" {
		t.Fatalf("logout = %d → %q", a.Code, a.Location())
	}
	if b.cookie("gatehouse_session") != "" {
		t.Error("logout left the session cookie")
	}
	if _, err := e.sessions.Resolve(ctx, tok); !errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("the session still resolves after logout: %v", err)
	}
	if page := b.get(t, "/login?done=signed-out"); !strings.Contains(page.Body, "You have signed out.") {
		t.Error("the sign-in page does not confirm the sign-out")
	}
	// ?done= shows fixed texts only.
	if page := b.get(t, "/login?done=<b>pwned</b>"); strings.Contains(page.Body, "pwned") {
		t.Error("?done= put its own words on the page")
	}
}

func TestChangePassword(t *testing.T) {
	const next = "a brand new passphrase"
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	deskTok := e.addSession(t, alice, session.Session{ID: "ses_desk", Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1",
		Assurance: session.AAL1, CreatedAt: e.clock.Now()})

	// A password-only session may not change the password.
	weak := e.browser(firefoxUA)
	weak.mustLogin(t, "alice", alicePW)
	if page := weak.get(t, "/password"); strings.Contains(page.Body, `action="/password"`) {
		t.Error("an AAL1 session is shown the password form")
	}
	a := weak.post(t, "/password", url.Values{"csrf": {csrf(t, weak.get(t, "/password"))}, "current": {alicePW}, "new": {next}, "confirm": {next}})
	if a.Code != http.StatusForbidden || !strings.Contains(a.Body, "needs a sign-in confirmed with a second factor") {
		t.Errorf("AAL1 session changing the password = %d, want 403", a.Code)
	}
	if u, _ := e.st.UserByID(ctx, alice.ID); u.PasswordHash != alice.PasswordHash {
		t.Fatal("an AAL1 session changed the password")
	}

	b := e.signedInBrowser(t, alice, session.Session{ID: "ses_strong", DeviceName: "Firefox on Linux", IP: "192.0.2.9",
		Assurance: session.AAL2, AMR: "pwd otp", CreatedAt: e.clock.Now()}, firefoxUA)
	tok := csrf(t, b.get(t, "/password"))
	tests := []struct {
		name, current, new, confirm string
		code                        int
		msg                         string
	}{
		{"WrongCurrent", "not it", next, next, 422, "The current password is wrong."},
		{"Mismatch", alicePW, next, next + "x", 422, "The new password and its confirmation differ."},
		{"TooShort", alicePW, "short", "short", 422, "too short: use at least 12 characters"},
		{"Common", alicePW, "password1234", "password1234", 422, "common passwords"},
		{"HasUsername", alicePW, "alice and her cat", "alice and her cat", 422, "contains your username"},
		{"Empty", "", next, next, 422, "Enter your current password."},
	}
	for _, tt := range tests {
		a := b.post(t, "/password", url.Values{"csrf": {tok}, "current": {tt.current}, "new": {tt.new}, "confirm": {tt.confirm}})
		if a.Code != tt.code || !strings.Contains(a.Body, tt.msg) {
			t.Errorf("%s: %d, want %d with %q", tt.name, a.Code, tt.code, tt.msg)
		}
		if strings.Contains(a.Body, `value="`+tt.new+`"`) {
			t.Errorf("%s: the page echoes a password", tt.name)
		}
	}
	a = b.post(t, "/password", url.Values{"csrf": {tok}, "current": {alicePW}, "new": {next}, "confirm": {next}})
	if a.Code != http.StatusSeeOther || a.Location() != "/?done=password" {
		t.Fatalf("change = %d → %q\n%s", a.Code, a.Location(), a.Body)
	}
	for _, tok := range []string{deskTok, weak.cookie("gatehouse_session")} {
		if _, err := e.sessions.Resolve(ctx, tok); !errors.Is(err, authn.ErrUnauthenticated) {
			t.Errorf("another session survived the password change: %v", err)
		}
	}
	if page := b.get(t, "/?done=password"); page.Code != 200 || !strings.Contains(page.Body, "Your password was changed.") {
		t.Errorf("this session after the change = %d, or no confirmation", page.Code)
	}
	if a := e.browser(firefoxUA).login(t, "alice", alicePW); a.Code != http.StatusUnprocessableEntity {
		t.Errorf("old password = %d, want 422", a.Code)
	}
	weak.sameDevice().mustLogin(t, "alice", next)
}

// TestFormOverTheCapIs413: a sign-in form over the portal's form cap is
// refused as too large, not as a form that could not be read.
func TestFormOverTheCapIs413(t *testing.T) {
	e := newEnv(t)
	b := e.browser(firefoxUA)
	a := b.post(t, "/login", url.Values{"username": {"alice"}, "password": {strings.Repeat("x", 16<<10)}})
	if a.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /login with a 16 KiB password = %d, want 413", a.Code)
	}
}
