package cli_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxHTTP wraps the documented configuration in what a test instance
// needs: foreground, its own pid, logs and temporary files. %[1]s is the
// directory for them, %[2]s the documented http-level configuration.
const nginxHTTP = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }

http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

%[2]s
}
`

// nginxFromDocs returns the nginx configuration docs/integrations.md
// shows (the http-level file, snippets/gatehouse-authz.conf and
// snippets/gatehouse-identity.conf), with the test's addresses, port, host
// names and directory in place of the example's: the test runs exactly
// what operators are told to write. A replacement that no longer finds its
// text fails the test, so the docs cannot drift from it unnoticed.
func nginxFromDocs(t *testing.T, dir string, port int, gatehouse, trading string) (conf, authz, identity string) {
	t.Helper()
	blocks := docBlocks(t, "nginx (tested)", "nginx")
	if len(blocks) != 3 {
		t.Fatalf("docs/integrations.md: %d nginx blocks under \"## nginx (tested)\", want 3 (the file, the authz and identity snippets)", len(blocks))
	}
	conf = docReplace(t, "nginx", blocks[0], [][2]string{
		{"server 10.0.0.9:8080;", "server " + gatehouse + ";"},
		{"server 10.0.0.20:9000;", "server " + trading + ";"},
		{"server 10.0.0.21:8000;", "server " + trading + ";"}, // the portal's pages: the same echo
		{"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
		{"# ssl_certificate …;", ""},
		{"paper.example.com live.example.com", "paper.localhost live.localhost"},
		{"portal.example.com", "portal.localhost"},
		{"include snippets/", "include " + dir + "/"},
	})
	return conf, blocks[1], blocks[2]
}

// docBlocks returns the code blocks in language lang of the section
// "## heading" of docs/integrations.md.
func docBlocks(t *testing.T, heading, lang string) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "integrations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("docs/integrations.md: no section \"## %s\"", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for rest := section; ; {
		_, after, ok := strings.Cut(rest, "```"+lang+"\n")
		if !ok {
			return blocks
		}
		block, tail, _ := strings.Cut(after, "```")
		blocks, rest = append(blocks, block), tail
	}
}

// docReplace makes each replacement of pairs in conf, the documented
// configuration of proxy. One that no longer finds its text fails the
// test, so the docs cannot drift from it unnoticed.
func docReplace(t *testing.T, proxy, conf string, pairs [][2]string) string {
	t.Helper()
	for _, r := range pairs {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("docs/integrations.md: the %s example no longer has %q, which the test replaces", proxy, r[0])
		}
		conf = strings.ReplaceAll(conf, r[0], r[1])
	}
	return conf
}

// findNginx returns Debian's nginx, or skips the test (fails it under CI).
func findNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed; CI must have it (scripts/test-deps.sh installs Debian's nginx)")
	}
	t.Skip("nginx is not installed; skipping the nginx integration test (apt-get install nginx)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx in the foreground with the test's configuration
// in front of gatehouse and the trading API, and returns its port. It is
// stopped (SIGQUIT, then killed) when the test ends.
func startNginx(t *testing.T, gatehouse, trading string) int {
	t.Helper()
	return startNginxWith(t, gatehouse, trading, "")
}

// startNginxWith is startNginx with more lines at the end of
// snippets/gatehouse-identity.conf.
func startNginxWith(t *testing.T, gatehouse, trading, moreIdentity string) int {
	t.Helper()
	bin := findNginx(t)
	dir := t.TempDir()
	port := freePort(t)
	conf, authz, identity := nginxFromDocs(t, dir, port, gatehouse, trading)
	for name, body := range map[string]string{
		"nginx.conf":              fmt.Sprintf(nginxHTTP, dir, conf),
		"gatehouse-authz.conf":    authz,
		"gatehouse-identity.conf": identity + moreIdentity,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf = filepath.Join(dir, "nginx.conf")
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	runProxy(t, "nginx", exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")), syscall.SIGQUIT, filepath.Join(dir, "error.log"), port)
	return port
}

// runProxy starts a proxy's command and waits until it listens on port.
// When the test ends it is sent stop, then killed after 10 s; its log is
// shown if the test failed.
func runProxy(t *testing.T, name string, cmd *exec.Cmd, stop os.Signal, logFile string, port int) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(logFile); err == nil {
				t.Logf("%s log:\n%s", name, b)
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited: %v\n%s", name, err, b)
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not start listening", name)
}

// echo is what the test trading API saw of a request.
type echo struct {
	Method, Path, ForwardedFor           string
	User, Account, Environment, Scopes   string
	Credential, UserCount, ForgedVisible string
}

// tradingAPI is the test upstream: it answers every request with what it
// received, the X-Gatehouse-* headers above all.
func tradingAPI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		json.NewEncoder(w).Encode(echo{Method: r.Method, Path: r.URL.RequestURI(), ForwardedFor: h.Get("X-Forwarded-For"),
			User: h.Get("X-Gatehouse-User"), Account: h.Get("X-Gatehouse-Account"), Environment: h.Get("X-Gatehouse-Environment"),
			Scopes: h.Get("X-Gatehouse-Scopes"), Credential: h.Get("X-Gatehouse-Credential"), UserCount: fmt.Sprint(len(h.Values("X-Gatehouse-User")))})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// viaProxy is a client whose every connection goes to the proxy's port,
// whatever host the URL names, so that URLs read as in production:
// http://live.localhost/api/orders.
func viaProxy(port int) *http.Client { return viaProxyFrom(port, "") }

// TestNginx puts Debian's nginx with auth_request in front of a test
// trading API, with gatehouse deciding, on both stores.
func TestNginx(t *testing.T) {
	findNginx(t)
	testProxy(t, "nginx", startNginx)
}

// testProxy runs, on both stores, gatehouse and the trading API behind
// the proxy that start runs (given their addresses; it returns its port),
// and checks forward-auth through it.
func testProxy(t *testing.T, proxy string, start func(t *testing.T, gatehouse, trading string) int) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			api := tradingAPI(t)
			s := startServer(t, b.flags(t), nil, "--config", faConfig(t, "http://portal.localhost/login", ""))
			faSetup(t, s)
			u, _ := url.Parse(s.URL)
			port := start(t, "127.0.0.1:"+u.Port(), strings.TrimPrefix(api.URL, "http://"))
			testThroughProxy(t, proxy, s, viaProxy(port), func() *http.Client { return viaProxy(port) })
		})
	}
}

// testThroughProxy checks forward-auth through a real proxy, named proxy
// in failures, whose configuration (from docs/integrations.md) puts
// gatehouse in front of the trading API at paper.localhost and
// live.localhost and of the portal's pages at portal.localhost; c and
// browser() reach the proxy whatever host a URL names.
func testThroughProxy(t *testing.T, proxy string, s *testServer, c *http.Client, browser func() *http.Client) {
	paper := faKey(t, s, "--account", "ACC-P", "--name", "paper trader", "--environment", "paper", "--scope", "orders:read", "--scope", "orders:write")
	reader := faKey(t, s, "--account", "ACC-L", "--name", "reader", "--environment", "live", "--scope", "orders:read", "--scope", "marketdata:read")
	fenced := faKey(t, s, "--account", "ACC-L", "--name", "vm-3", "--environment", "live", "--scope", "orders:read", "--allow-ip", "203.0.113.0/24")
	local := faKey(t, s, "--account", "ACC-L", "--name", "here", "--environment", "live", "--scope", "orders:read", "--allow-ip", "127.0.0.1/32")

	do := func(method, u string, hdr http.Header) (int, echo) {
		t.Helper()
		var e echo
		resp := call(t, c, method, u, nil, hdr, nil)
		if resp.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body(resp)), &e); err != nil {
				t.Fatalf("%s %s: the trading API's answer: %v", method, u, err)
			}
		}
		return resp.StatusCode, e
	}
	key := func(k issuedKey, more ...string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + k.Secret}}
		for i := 0; i+1 < len(more); i += 2 {
			h.Add(more[i], more[i+1])
		}
		return h
	}

	// A paper key reaches paper, with its identity; never live.
	code, e := do("POST", "http://paper.localhost/api/orders?sym=AAPL", key(paper, "X-Gatehouse-User", "usr_root", "X-Gatehouse-Scopes", "transfers:write"))
	if code != 200 || e.Method != "POST" || e.Path != "/api/orders?sym=AAPL" {
		t.Fatalf("paper key, paper order = %d %+v", code, e)
	}
	want := echo{Method: "POST", Path: "/api/orders?sym=AAPL", ForwardedFor: "127.0.0.1", User: "admin", Account: "ACC-P", Environment: "paper",
		Scopes: "orders:read orders:write", Credential: paper.ID, UserCount: "1"}
	if e != want {
		t.Errorf("the trading API saw %+v,\nwant %+v (the client's own X-Gatehouse-* replaced)", e, want)
	}
	if code, _ := do("GET", "http://live.localhost/api/orders", key(paper)); code != 403 {
		t.Errorf("paper key on a live route = %d, want 403", code)
	}

	// A read-only key reads but cannot order.
	if code, e := do("GET", "http://live.localhost/api/orders", key(reader)); code != 200 || e.Scopes != "marketdata:read orders:read" {
		t.Errorf("read-only key reading = %d %+v", code, e)
	}
	if code, _ := do("POST", "http://live.localhost/api/orders", key(reader)); code != 403 {
		t.Errorf("read-only key posting an order = %d, want 403", code)
	}
	if code, _ := do("DELETE", "http://live.localhost/api/orders/ord-1", key(reader)); code != 403 {
		t.Errorf("read-only key cancelling an order = %d, want 403", code)
	}

	// The allowlist: the proxy says who the client is, whatever it claims.
	if code, _ := do("GET", "http://live.localhost/api/orders", key(local)); code != 200 {
		t.Errorf("key allowed from 127.0.0.1 = %d, want 200", code)
	}
	if code, _ := do("GET", "http://live.localhost/api/orders", key(fenced)); code != 401 {
		t.Errorf("key from outside its allowlist = %d, want 401", code)
	}
	for _, forged := range []string{"203.0.113.9", "203.0.113.9, 127.0.0.1", "127.0.0.1, 203.0.113.9"} {
		if code, _ := do("GET", "http://live.localhost/api/orders", key(fenced, "X-Forwarded-For", forged, "X-Real-Ip", "203.0.113.9")); code != 401 {
			t.Errorf("key from outside its allowlist with a forged X-Forwarded-For %q = %d, want 401", forged, code)
		}
	}
	// Nor can the client pick the rule with the other proxy style's headers.
	if code, _ := do("GET", "http://live.localhost/api/transfers", key(reader, "X-Forwarded-Uri", "/api/orders", "X-Forwarded-Method", "GET")); code != 403 {
		t.Errorf("read-only key with forged X-Forwarded-Uri = %d, want 403", code)
	}
	// Nor reach around the rules with a path the upstream reads otherwise.
	if code, _ := do("POST", "http://live.localhost/api/orders/%2E%2E/transfers", key(reader)); code != 403 {
		t.Errorf("encoded dot segments = %d, want 403", code)
	}

	// Forward-auth is the proxy's question, not a client's: asked through
	// the portal's /v1/ (which the proxy, trusted, passes to gatehouse),
	// the client would name the route checked and read the identity.
	for _, path := range []string{"/v1/authz", "/v1/%61uthz", "/v1//authz", "/v1/authz/", "/v1/authz?x=1"} {
		resp := call(t, c, "GET", "http://portal.localhost"+path, nil, key(reader, "X-Original-Method", "GET", "X-Original-Url", "http://live.localhost/api/orders"), nil)
		if resp.StatusCode == 200 || resp.Header.Get("X-Gatehouse-User") != "" {
			t.Errorf("GET %s through %s = %d, X-Gatehouse-User %q; want it refused, no identity", path, proxy, resp.StatusCode, resp.Header.Get("X-Gatehouse-User"))
		}
		if path == "/v1/authz" && resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /v1/authz through %s = %d, want 403 (the configuration refuses it)", proxy, resp.StatusCode)
		}
	}

	// An owner's session at gatehouse manages the keys.
	owner := s.newTrader(t, "otto", "correct horse ochre staple").home
	faMember(t, s, "otto", "ACC-P", "owner")
	keysURL := s.URL + "/v1/accounts/ACC-P/keys/"

	// Rotation: both keys work during the overlap, only the new one after.
	var next issuedKey
	if resp := call(t, owner, "POST", keysURL+paper.ID+"/rotate", map[string]any{"overlap": 2}, nil, &next); resp.StatusCode != 201 {
		t.Fatalf("rotate = %d %s", resp.StatusCode, body(resp))
	}
	remember(next.Secret)
	rotatedAt := time.Now()
	for _, k := range []issuedKey{paper, next} {
		if code, e := do("GET", "http://paper.localhost/api/orders", key(k)); code != 200 || e.Credential != k.ID {
			t.Errorf("during the overlap, key %s = %d %+v, want 200", k.ID, code, e)
		}
	}
	time.Sleep(time.Until(rotatedAt.Add(2100 * time.Millisecond)))
	if code, _ := do("GET", "http://paper.localhost/api/orders", key(paper)); code != 401 {
		t.Errorf("after the overlap, the old key = %d, want 401", code)
	}
	if code, _ := do("GET", "http://paper.localhost/api/orders", key(next)); code != 200 {
		t.Errorf("after the overlap, the new key = %d, want 200", code)
	}

	// Revocation: refused on the very next request.
	if resp := call(t, owner, "DELETE", keysURL+next.ID, nil, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("revoke = %d %s", resp.StatusCode, body(resp))
	}
	if code, _ := do("GET", "http://paper.localhost/api/orders", key(next)); code != 401 {
		t.Errorf("revoked key, next request = %d, want 401", code)
	}

	// A browser session on the portal's routes: signed in through the proxy.
	s.addUser(t, "pia", "correct horse peach staple")
	faMember(t, s, "pia", "ACC-P", "trader")
	b := browser()
	if resp := call(t, b, "POST", "http://portal.localhost/v1/login", map[string]any{"username": "pia", "password": "correct horse peach staple", "interface": "web"}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("login through %s = %d %s", proxy, resp.StatusCode, body(resp))
	}
	var pe echo
	// The client's own identity headers are removed, an account gatehouse
	// does not name included.
	resp := call(t, b, "GET", "http://portal.localhost/portal/home", nil, http.Header{"Accept": {"text/html"}, "X-Gatehouse-Account": {"ACC-FORGED"}, "X-Gatehouse-Environment": {"live"}}, nil)
	json.Unmarshal([]byte(body(resp)), &pe)
	if resp.StatusCode != 200 || !strings.HasPrefix(pe.User, "usr_") || !strings.HasPrefix(pe.Credential, "ses_") || pe.Path != "/portal/home" {
		t.Errorf("portal page with a session = %d %+v", resp.StatusCode, pe)
	}
	if pe.Account == "ACC-FORGED" || pe.Environment == "live" { // pia is a member of ACC-P, paper, only
		t.Errorf("portal page: the page saw the client's own X-Gatehouse-Account/-Environment (%+v)", pe)
	}
	// Without one: a browser is sent to the login page, a script gets 401.
	resp = call(t, browser(), "GET", "http://portal.localhost/portal/home?tab=keys", nil, http.Header{"Accept": {"text/html"}}, nil)
	wantLoc := "http://portal.localhost/login?rd=" + url.QueryEscape("http://portal.localhost/portal/home?tab=keys")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != wantLoc {
		t.Errorf("portal page without a session, browser = %d %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), wantLoc)
	}
	if resp := call(t, browser(), "GET", "http://portal.localhost/portal/home", nil, http.Header{"Accept": {"application/json"}}, nil); resp.StatusCode != 401 {
		t.Errorf("portal page without a session, script = %d, want 401", resp.StatusCode)
	}
	// Signed out: the cookie stops working at once.
	if resp := call(t, b, "POST", "http://portal.localhost/v1/logout", nil, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("logout through %s = %d", proxy, resp.StatusCode)
	}
	if resp := call(t, b, "GET", "http://portal.localhost/portal/home", nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("portal page after logout = %d, want 401", resp.StatusCode)
	}
}
