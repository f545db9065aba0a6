package cli_test

import (
	"github.com/google/go-cmp/cmp"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// secrets collects every secret a test used, for the log grep at the end.
var secrets = struct {
	sync.Mutex
	list []string
}{}

func remember(s ...string) {
	secrets.Lock()
	defer secrets.Unlock()
	secrets.list = append(secrets.list, s...)
}

type problemDoc struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	RetryAfter int    `json:"retry_after"`
	Errors     []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func webLogin(t *testing.T, s *testServer, c *http.Client, user, pw string) *http.Response {
	t.Helper()
	return call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": user, "password": pw, "interface": "web"}, nil, nil)
}

func testWebLogin(t *testing.T, s *testServer) {
	tr := s.traders["alice"]
	c := newBrowser(t)
	a := s.signIn(t, tr, c, nil, "web")
	if a.Token != "" {
		t.Errorf("web login answer exposes a token to scripts: %+v", a)
	}
	if a.Session.Assurance != "AAL3" {
		t.Errorf("web login with a device-bound key: assurance %q, want AAL3", a.Session.Assurance)
	}
	u, _ := url.Parse(s.URL)
	var sess *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			sess = ck
		}
		remember(ck.Value)
	}
	if sess == nil || len(sess.Value) < 43 {
		t.Fatalf("no session cookie of 256 bits in the jar: %v", c.Jar.Cookies(u))
	}
	// The jar hides the flags; check them on a fresh answer.
	resp := webLogin(t, s, newBrowser(t), "alice", alicePW)
	for _, ck := range resp.Cookies() {
		if ck.Name == "gatehouse_flow" && (!ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/") {
			t.Errorf("flow cookie = %+v; want HttpOnly, SameSite=Lax, Path=/", ck)
		}
	}
	var me struct {
		User      struct{ Username string } `json:"user"`
		Assurance string                    `json:"assurance"`
	}
	if resp := call(t, c, "GET", s.URL+"/v1/me", nil, nil, &me); resp.StatusCode != 200 || me.User.Username != "alice" || me.Assurance != "AAL3" {
		t.Errorf("GET /v1/me = %d %+v", resp.StatusCode, me)
	}

	// Wrong password and unknown user: the same answer.
	var p1, p2 problemDoc
	r1 := call(t, newBrowser(t), "POST", s.URL+"/v1/login", map[string]any{"username": "alice", "password": "wrong password here", "interface": "web"}, nil, &p1)
	r2 := call(t, newBrowser(t), "POST", s.URL+"/v1/login", map[string]any{"username": "mallory", "password": "wrong password here", "interface": "web"}, nil, &p2)
	if r1.StatusCode != 401 || r2.StatusCode != 401 || !cmp.Equal(p1, p2) {
		t.Errorf("bad password %d %+v vs unknown user %d %+v: want the same 401", r1.StatusCode, p1, r2.StatusCode, p2)
	}
	if ct := r1.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("401 Content-Type = %q", ct)
	}

	// A desktop login without a DPoP proof is refused.
	if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/login", map[string]any{"username": "alice", "password": alicePW, "interface": "desktop"}, nil, nil); resp.StatusCode != 400 {
		t.Errorf("desktop login without proof = %d, want 400", resp.StatusCode)
	}

	// Logout ends the session; the cookie no longer works.
	if resp := call(t, c, "POST", s.URL+"/v1/logout", nil, nil, nil); resp.StatusCode != 204 {
		t.Errorf("logout = %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", s.URL+"/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: sess.Value})
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("GET /v1/me after logout with the old cookie = %d, want 401", resp.StatusCode)
	}
}

func testDesktopLogin(t *testing.T, s *testServer) {
	d := newDesktop(t, s.URL)
	s.signIn(t, s.traders["alice"], nil, d, "desktop")
	h := d.headers(t, "GET", "/v1/me")
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, h, nil); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/me with token and proof = %d %s", resp.StatusCode, body(resp))
	}
	tests := []struct {
		name string
		hdr  func() http.Header
	}{
		{"Replayed", func() http.Header { return h }},
		{"NoProof", func() http.Header { return http.Header{"Authorization": {"DPoP " + d.token}} }},
		{"OtherKey", func() http.Header {
			o := newDesktop(t, s.URL)
			o.token = d.token // a stolen token, proved by the thief's own key
			return o.headers(t, "GET", "/v1/me")
		}},
		{"WrongURL", func() http.Header { return d.headers(t, "GET", "/v1/sessions") }},
		{"WrongMethod", func() http.Header { return d.headers(t, "POST", "/v1/me") }},
		{"StaleProof", func() http.Header {
			p, _ := d.signer.Proof("GET", s.URL+"/v1/me", d.token, time.Now().Add(-10*time.Minute))
			return http.Header{"Authorization": {"DPoP " + d.token}, "Dpop": {p}}
		}},
		{"AsCookie", func() http.Header { return http.Header{"Cookie": {"gatehouse_session=" + d.token}} }},
		{"AsBearer", func() http.Header { return http.Header{"Authorization": {"Bearer " + d.token}} }},
	}
	for _, tt := range tests {
		if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, tt.hdr(), nil); resp.StatusCode != 401 {
			t.Errorf("desktop %s: GET /v1/me = %d, want 401", tt.name, resp.StatusCode)
		}
	}
}

type sessionList struct {
	Sessions []struct {
		ID         string `json:"id"`
		Interface  string `json:"interface"`
		DeviceName string `json:"device_name"`
		IP         string `json:"ip"`
		UserAgent  string `json:"user_agent"`
		Current    bool   `json:"current"`
	} `json:"sessions"`
}

func testSessionsAcrossInterfaces(t *testing.T, s *testServer) {
	tr := s.traders["alice"]
	web := newBrowser(t)
	s.signIn(t, tr, web, nil, "web")
	d := newDesktop(t, s.URL)
	s.signIn(t, tr, nil, d, "desktop")
	m := newDesktop(t, s.URL)
	s.signIn(t, tr, nil, m, "mobile")

	var list sessionList
	call(t, web, "GET", s.URL+"/v1/sessions", nil, nil, &list)
	seen := map[string]bool{}
	var desktopID, mobileID string
	for _, x := range list.Sessions {
		seen[x.Interface] = true
		if x.IP != "127.0.0.1" || x.UserAgent == "" {
			t.Errorf("session %s: ip %q agent %q", x.ID, x.IP, x.UserAgent)
		}
	}
	desktopID, mobileID = sessionID(t, s, d), sessionID(t, s, m)
	if !seen["web"] || !seen["desktop"] || !seen["mobile"] {
		t.Fatalf("GET /v1/sessions lists interfaces %v, want web, desktop and mobile", seen)
	}
	// Kill the desktop session from the browser: refused on its very next request.
	if resp := call(t, web, "DELETE", s.URL+"/v1/sessions/"+desktopID, nil, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE session = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, d.headers(t, "GET", "/v1/me"), nil); resp.StatusCode != 401 {
		t.Errorf("killed desktop session: GET /v1/me = %d, want 401", resp.StatusCode)
	}
	// Another user cannot end alice's sessions, and cannot tell they exist.
	bob := s.newTrader(t, "bob", "a passphrase of his own").home
	if resp := call(t, bob, "DELETE", s.URL+"/v1/sessions/"+mobileID, nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("bob ending alice's session = %d, want 404", resp.StatusCode)
	}
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, m.headers(t, "GET", "/v1/me"), nil); resp.StatusCode != 200 {
		t.Errorf("alice's mobile session after bob's attempt = %d, want 200", resp.StatusCode)
	}
	// A revocation through the CLI on the same store: on SQLite refused
	// within the revocation log's interval; on PostgreSQL as soon as the
	// NOTIFY arrives, never later than the cache age.
	if out, err := s.gatehouse(t, "", "session", "revoke", mobileID); err != nil {
		t.Fatalf("session revoke: %v %s", err, out)
	}
	s.soon(t, "mobile session revoked by the CLI: GET /v1/me", 401, func() int {
		return call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, m.headers(t, "GET", "/v1/me"), nil).StatusCode
	})
	// End all others.
	if resp := call(t, web, "DELETE", s.URL+"/v1/sessions?others=true", nil, nil, nil); resp.StatusCode != 200 {
		t.Errorf("DELETE others = %d", resp.StatusCode)
	}

	list = sessionList{}
	call(t, web, "GET", s.URL+"/v1/sessions", nil, nil, &list)
	if len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Errorf("after ending the others: %+v, want only the current one", list.Sessions)
	}
	out, _ := s.gatehouse(t, "", "session", "list", "--user", "alice")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, list.Sessions[0].ID) {
		t.Errorf("session list --user alice =\n%s\nwant a header and the one live session", out)
	}
	// That ended alice's home session too: sign it in again.
	s.signIn(t, tr, tr.home, nil, "web")
}

// sessionID asks the server which session a key-bound client holds.
func sessionID(t *testing.T, s *testServer, d *desktop) string {
	t.Helper()
	var me struct {
		Session struct {
			ID         string `json:"id"`
			DeviceName string `json:"device_name"`
		} `json:"session"`
	}
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, d.headers(t, "GET", "/v1/me"), &me); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/me = %d", resp.StatusCode)
	}
	return me.Session.ID
}

func testPasswordChange(t *testing.T, s *testServer) {
	const next = "another quite long passphrase"
	remember(next)
	tr := s.traders["alice"]
	a, b := newBrowser(t), newBrowser(t)
	s.signIn(t, tr, a, nil, "web")
	s.signIn(t, tr, b, nil, "web")
	var p problemDoc
	if resp := call(t, a, "POST", s.URL+"/v1/password", map[string]string{"current": alicePW, "new": "password1234"}, nil, &p); resp.StatusCode != 422 {
		t.Errorf("common new password = %d %+v, want 422", resp.StatusCode, p)
	}
	if resp := call(t, a, "POST", s.URL+"/v1/password", map[string]string{"current": "not the password", "new": next}, nil, nil); resp.StatusCode != 401 {
		t.Errorf("wrong current password = %d, want 401", resp.StatusCode)
	}
	if resp := call(t, a, "POST", s.URL+"/v1/password", map[string]string{"current": alicePW, "new": next}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("password change = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, b, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("other session after password change = %d, want 401", resp.StatusCode)
	}
	if resp := call(t, a, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 200 {
		t.Errorf("changing session after password change = %d, want 200", resp.StatusCode)
	}
	if resp := webLogin(t, s, newBrowser(t), "alice", alicePW); resp.StatusCode != 401 {
		t.Errorf("old password = %d, want 401", resp.StatusCode)
	}
	if resp := webLogin(t, s, newBrowser(t), "alice", next); resp.StatusCode != 200 {
		t.Errorf("new password = %d, want 200", resp.StatusCode)
	}
	// Put it back for the tests that follow; the home session ended too.
	call(t, a, "POST", s.URL+"/v1/password", map[string]string{"current": next, "new": alicePW}, nil, nil)
	s.signIn(t, tr, tr.home, nil, "web")
}

func testBadInput(t *testing.T, s *testServer) {
	before, _ := s.gatehouse(t, "", "audit", "verify")
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		field  string
	}{
		{"MalformedJSON", `{"username":`, "application/json", 400, ""},
		{"WrongType", `{"username":1,"password":"x","interface":"web"}`, "application/json", 400, ""},
		{"UnknownField", `{"username":"alice","password":"x","interface":"web","admin":true}`, "application/json", 400, ""},
		{"UnknownInterface", `{"username":"alice","password":"x","interface":"fax"}`, "application/json", 400, "interface"},
		{"CRLFInUsername", `{"username":"alice\r\nX-Admin: 1","password":"x","interface":"web"}`, "application/json", 400, "username"},
		{"AbsurdUsername", `{"username":"` + strings.Repeat("a", 300) + `","password":"x","interface":"web"}`, "application/json", 400, "username"},
		{"Oversized", `{"username":"alice","password":"` + strings.Repeat("x", 70000) + `","interface":"web"}`, "application/json", 413, ""},
		{"TrailingData", `{"username":"alice","password":"x","interface":"web"} {}`, "application/json", 400, ""},
		{"Form", `username=alice&password=x`, "application/x-www-form-urlencoded", 415, ""},
		{"Empty", ``, "application/json", 400, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", s.URL+"/v1/login", strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(resp)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q %s; want %d problem", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), b, tt.status)
			continue
		}
		if tt.field != "" && !strings.Contains(b, `"field":"`+tt.field+`"`) {
			t.Errorf("%s: problem %s does not name field %q", tt.name, b, tt.field)
		}
	}
	after, _ := s.gatehouse(t, "", "audit", "verify")
	if before != after {
		t.Errorf("bad input changed the audit trail: %q → %q", before, after)
	}
}

func testCrossOrigin(t *testing.T, s *testServer) {
	c := newBrowser(t)
	s.signIn(t, s.traders["alice"], c, nil, "web")
	hdr := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	if resp := call(t, c, "DELETE", s.URL+"/v1/sessions?others=true", nil, hdr, nil); resp.StatusCode != 403 {
		t.Errorf("cross-site DELETE = %d, want 403", resp.StatusCode)
	}
	if resp := call(t, c, "POST", s.URL+"/v1/logout", nil, http.Header{"Sec-Fetch-Site": {"same-origin"}}, nil); resp.StatusCode != 204 {
		t.Errorf("same-origin logout = %d, want 204", resp.StatusCode)
	}
}

func testAuditTrail(t *testing.T, s *testServer) {
	c := s.traders["alice"].home
	var out struct {
		Events []struct {
			Seq    int64             `json:"seq"`
			Type   string            `json:"type"`
			Detail map[string]string `json:"detail"`
		} `json:"events"`
		Next int64 `json:"next"`
	}
	call(t, c, "GET", s.URL+"/v1/audit?limit=200", nil, nil, &out)
	types := map[string]int{}
	for _, e := range out.Events {
		types[e.Type]++
		if e.Type == "login.failed" && e.Detail["reason"] != "" {
			t.Errorf("login.failed shows its reason to the user: %v", e.Detail)
		}
	}
	for _, want := range []string{"user.created", "login.succeeded", "login.failed", "session.started", "session.ended", "password.changed",
		"factor.added", "factor.verified", "session.step_up", "device.new", "device.trusted"} {
		if types[want] == 0 {
			t.Errorf("GET /v1/audit lacks %s (has %v)", want, types)
		}
	}
	if len(out.Events) > 1 && out.Events[0].Seq < out.Events[1].Seq {
		t.Error("audit events not newest first")
	}
	var page struct {
		Events []struct{ Seq int64 } `json:"events"`
		Next   int64                 `json:"next"`
	}
	call(t, c, "GET", s.URL+"/v1/audit?limit=2", nil, nil, &page)
	if len(page.Events) != 2 || page.Next != page.Events[1].Seq {
		t.Errorf("paged audit = %+v", page)
	}
	if resp := call(t, c, "GET", s.URL+"/v1/audit?limit=abc", nil, nil, nil); resp.StatusCode != 400 {
		t.Errorf("audit?limit=abc = %d, want 400", resp.StatusCode)
	}
	out2, err := s.gatehouse(t, "", "audit", "verify")
	if err != nil || !strings.Contains(out2, "audit chain intact") {
		t.Errorf("audit verify = %v %s", err, out2)
	}
}

func testMetrics(t *testing.T, s *testServer, notifies bool) {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b := body(resp)
	// The session cache answered the earlier tests' requests, and read
	// each new session from the store once.
	for _, result := range []string{"hit", "miss"} {
		if n := metricValue(b, `gatehouse_cache_lookups_total{cache="sessions",result="`+result+`"}`); n < 1 {
			t.Errorf("session cache %ss = %v, want some", result, n)
		}
	}
	if !strings.Contains(b, `gatehouse_cache_lookups_total{cache="keys",result="hit"}`) {
		t.Error("/metrics lacks the key cache's look-ups")
	}
	// On PostgreSQL, the probe sent at start came back through NOTIFY.
	if n := metricValue(b, "gatehouse_revocation_notify_seconds_count"); notifies && n < 1 || !notifies && n != -1 {
		t.Errorf("gatehouse_revocation_notify_seconds_count = %v on %s", n, map[bool]string{true: "PostgreSQL (want at least 1)", false: "SQLite (want none)"}[notifies])
	}
	for _, want := range []string{`gatehouse_logins_total{outcome="succeeded"}`, `gatehouse_logins_total{outcome="failed"}`, `gatehouse_active_sessions{interface="web"}`,
		`gatehouse_http_requests_total{code="200",route="POST /v1/login"}`, `gatehouse_http_request_duration_seconds_bucket`} {
		if !strings.Contains(b, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, _ := http.Get(s.URL + path); resp.StatusCode != 200 {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
}

// metricValue is the value of the sample named series in Prometheus text
// b, or -1 when b has none.
func metricValue(b, series string) float64 {
	for _, line := range strings.Split(b, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func testNoSecretsLogged(t *testing.T, s *testServer) {
	logs := s.Stdout.String() + s.Stderr.String()
	if !strings.Contains(logs, "request failed") {
		t.Error("no request was logged: the grep would prove nothing")
	}
	secrets.Lock()
	defer secrets.Unlock()
	for _, sec := range secrets.list {
		if len(sec) >= 8 && strings.Contains(logs, sec) {
			t.Errorf("a secret (%d chars, starts %q) appears in the logs", len(sec), sec[:3])
		}
	}
}

// TestThrottleBurst fires parallel wrong passwords at one account: no
// more get through to the password check than the limit allows.
func TestThrottleBurst(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			// A long first delay, so the wait is still on when the owner tries.
			cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
			os.WriteFile(cfg, []byte("throttle:\n  account_source: {free: 5, base: 1m, max: 15m, forget: 24h}\n  source: {free: 30, base: 1s, max: 15m, forget: 1h}\n  account: {free: 10, base: 1s, max: 1m, limit: 100, forget: 168h}\n"), 0o600)
			s := startServer(t, append(b.flags(t), "--config", cfg), nil)
			s.addUser(t, "carol", "her own long passphrase")
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[int]int{}
			retry := ""
			for range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := webLogin(t, s, newBrowser(t), "carol", "not carol's password")
					mu.Lock()
					codes[resp.StatusCode]++
					if resp.StatusCode == 429 {
						retry = resp.Header.Get("Retry-After")
					} else if resp.StatusCode != 401 {
						t.Errorf("burst answer %d %s", resp.StatusCode, body(resp))
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			// account+source: 5 free failures, the 6th starts a delay.
			if codes[401] > 6 || codes[401]+codes[429] != 30 {
				t.Errorf("parallel wrong passwords: %v; want at most 6 checked, the rest 429", codes)
			}
			if retry == "" {
				t.Error("429 without Retry-After")
			}
			// The owner on the same source is throttled too, but gets a
			// clear answer; the right password is not revealed by it.
			resp := webLogin(t, s, newBrowser(t), "carol", "her own long passphrase")
			if resp.StatusCode != 429 {
				t.Errorf("right password during the wait = %d, want 429 (burst %v) %s", resp.StatusCode, codes, body(resp))
			}
		})
	}
}

// testEnrolmentSession follows a user with no second factor: the session
// is AAL1 and may read and enrol, not change the password.
func testEnrolmentSession(t *testing.T, s *testServer) {
	s.addUser(t, "erin", "she has a long passphrase")
	c := newBrowser(t)
	var a loginAnswer
	call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": "erin", "password": "she has a long passphrase", "interface": "web"}, nil, &a)
	if a.Status != "authenticated" || !a.EnrolmentRequired || a.Session.Assurance != "AAL1" {
		t.Fatalf("login without factors = %+v; want an AAL1 enrolment session", a)
	}
	if resp := call(t, c, "GET", s.URL+"/v1/sessions", nil, nil, nil); resp.StatusCode != 200 {
		t.Errorf("AAL1 session reading its sessions = %d, want 200", resp.StatusCode)
	}
	var p problemDoc
	if resp := call(t, c, "POST", s.URL+"/v1/password", map[string]string{"current": "she has a long passphrase", "new": "an entirely new passphrase"}, nil, &p); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" {
		t.Errorf("AAL1 password change = %d %+v; want 403 step-up-required", resp.StatusCode, p)
	}
}
