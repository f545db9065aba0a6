package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcServer starts gatehouse with its ext_authz listener (the
// forward-auth test configuration plus extra) and returns it with a
// client of the Authorization service, as Envoy is one.
func grpcServer(t *testing.T, storeFlags []string, config string) (*testServer, authv3.AuthorizationClient) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, storeFlags, map[string]string{"GATEHOUSE_AUTHZ_GRPC_LISTEN": addr}, "--config", config)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return s, authv3.NewAuthorizationClient(conn)
}

// checkReq is what Envoy asks about one request: its method, URL and
// headers (lower-case names), from the client at source.
func checkReq(method, rawURL, source string, hdr map[string]string) *authv3.CheckRequest {
	u, _ := url.Parse(rawURL)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: source, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Scheme: u.Scheme, Host: u.Host, Path: u.RequestURI(), Headers: hdr, Protocol: "HTTP/1.1"}},
	}}
}

// checked is a CheckResponse as a proxy acts on it.
type checked struct {
	code     codes.Code
	status   int               // the HTTP status of a denial; 200 when allowed
	headers  map[string]string // set on the upstream request, or on the denial
	removed  []string          // removed from the upstream request
	body     string
	response *authv3.CheckResponse
}

func check(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) checked {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	r := checked{code: codes.Code(resp.GetStatus().GetCode()), headers: map[string]string{}, response: resp}
	if ok := resp.GetOkResponse(); ok != nil {
		r.status = 200
		for _, h := range ok.GetHeaders() {
			r.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		r.removed = ok.GetHeadersToRemove()
	}
	if d := resp.GetDeniedResponse(); d != nil {
		r.status = int(d.GetStatus().GetCode())
		for _, h := range d.GetHeaders() {
			r.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		r.body = d.GetBody()
	}
	return r
}

// TestExtAuthz asks the gRPC ext_authz listener what Envoy would, with
// go-control-plane's generated client, on both stores.
func TestExtAuthz(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, c := grpcServer(t, b.flags(t), faConfig(t, "http://portal.localhost/login", ""))
			faSetup(t, s)
			testExtAuthz(t, s, c)
		})
	}
	t.Run("UntrustedPeer", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(cfg, []byte("trusted_proxies: [10.0.0.5]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, c := grpcServer(t, []string{"--data", t.TempDir()}, cfg)
		r := check(t, c, checkReq("GET", "http://live.localhost/api/orders", "127.0.0.1", nil))
		if r.status != 403 || r.code != codes.PermissionDenied || !strings.Contains(r.body, "untrusted-proxy") {
			t.Errorf("Check from a peer not in trusted_proxies = %v %d %s, want PermissionDenied 403 untrusted-proxy", r.code, r.status, r.body)
		}
	})
}

func testExtAuthz(t *testing.T, s *testServer, c authv3.AuthorizationClient) {
	paper := faKey(t, s, "--account", "ACC-P", "--name", "paper trader", "--environment", "paper", "--scope", "orders:read", "--scope", "orders:write")
	reader := faKey(t, s, "--account", "ACC-L", "--name", "reader", "--environment", "live", "--scope", "orders:read")
	fenced := faKey(t, s, "--account", "ACC-L", "--name", "vm-3", "--environment", "live", "--scope", "orders:read", "--allow-ip", "203.0.113.0/24")
	bearer := func(k issuedKey, more ...string) map[string]string {
		h := map[string]string{"authorization": "Bearer " + k.Secret}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}

	// Allowed: the identity headers, set over the client's own.
	r := check(t, c, checkReq("POST", "http://paper.localhost/api/orders?sym=AAPL", "198.51.100.7", bearer(paper, "x-gatehouse-user", "usr_root")))
	want := map[string]string{"X-Gatehouse-User": "admin", "X-Gatehouse-Account": "ACC-P", "X-Gatehouse-Environment": "paper",
		"X-Gatehouse-Scopes": "orders:read orders:write", "X-Gatehouse-Credential": paper.ID}
	// The approval headers are removed: the route needs no approval.
	if r.code != codes.OK || r.status != 200 || fmt.Sprint(r.headers) != fmt.Sprint(want) || fmt.Sprint(r.removed) != "[X-Gatehouse-Approved-Hash X-Gatehouse-Approval-Waived-Below]" {
		t.Errorf("paper key, paper order = %v %d %v, removed %v; want OK with %v", r.code, r.status, r.headers, r.removed, want)
	}
	for _, h := range r.response.GetOkResponse().GetHeaders() {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("identity header %s: append action %v, want OVERWRITE_IF_EXISTS_OR_ADD (a client's own must not stay)", h.GetHeader().GetKey(), h.GetAppendAction())
		}
	}

	// 403 with the problem document.
	r = check(t, c, checkReq("GET", "http://live.localhost/api/orders", "198.51.100.7", bearer(paper)))
	if r.code != codes.PermissionDenied || r.status != 403 || r.headers["Content-Type"] != "application/problem+json" {
		t.Errorf("paper key on a live route = %v %d %v", r.code, r.status, r.headers)
	}
	var p struct {
		Type    string   `json:"type"`
		Missing []string `json:"missing"`
	}
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Type != "urn:gatehouse:problem:forbidden" {
		t.Errorf("paper key on a live route: body %q (%v), want the forbidden problem", r.body, err)
	}
	if r := check(t, c, checkReq("POST", "http://live.localhost/api/orders", "198.51.100.7", bearer(reader))); r.status != 403 {
		t.Errorf("read-only key posting an order = %d, want 403", r.status)
	}
	if r := check(t, c, checkReq("GET", "http://live.localhost/api/orders", "198.51.100.7", bearer(reader))); r.status != 200 {
		t.Errorf("read-only key reading = %d, want 200", r.status)
	}

	// 401: no credential, a bad one.
	// Mistyped: the last character changed (to one it is not already).
	typo := "x"
	if strings.HasSuffix(reader.Secret, typo) {
		typo = "y"
	}
	for name, hdr := range map[string]map[string]string{"none": nil, "mistyped": {"authorization": "Bearer " + reader.Secret[:len(reader.Secret)-1] + typo}} {
		r := check(t, c, checkReq("GET", "http://live.localhost/api/orders", "198.51.100.7", hdr))
		if r.code != codes.Unauthenticated || r.status != 401 || r.headers["Www-Authenticate"] != `Bearer realm="gatehouse"` {
			t.Errorf("%s credential = %v %d %v, want Unauthenticated 401 with WWW-Authenticate", name, r.code, r.status, r.headers)
		}
	}

	// The client's address is Envoy's source, not a header a client sent.
	if r := check(t, c, checkReq("GET", "http://live.localhost/api/orders", "203.0.113.9", bearer(fenced))); r.status != 200 {
		t.Errorf("fenced key from inside its allowlist = %d, want 200", r.status)
	}
	if r := check(t, c, checkReq("GET", "http://live.localhost/api/orders", "198.51.100.7", bearer(fenced, "x-forwarded-for", "203.0.113.9", "x-real-ip", "203.0.113.9"))); r.status != 401 {
		t.Errorf("fenced key from outside its allowlist, forged X-Forwarded-For = %d, want 401", r.status)
	}
	// Nor can a client's headers name the request checked.
	for _, forged := range []map[string]string{
		bearer(reader, "x-forwarded-uri", "/api/orders", "x-forwarded-method", "GET"),
		bearer(reader, "x-original-url", "http://live.localhost/api/orders", "x-original-method", "GET"),
	} {
		if r := check(t, c, checkReq("POST", "http://live.localhost/api/transfers", "198.51.100.7", forged)); r.status != 403 {
			t.Errorf("read-only key, transfer, forged %v = %d, want 403", forged, r.status)
		}
	}
	// A path that is not canonical is refused.
	if r := check(t, c, checkReq("POST", "http://live.localhost/api/orders/%2E%2E/transfers", "198.51.100.7", bearer(reader))); r.status != 403 || !strings.Contains(r.body, "bad-forwarded-request") {
		t.Errorf("encoded dot segments = %d %s, want 403 bad-forwarded-request", r.status, r.body)
	}

	// A browser without a session is sent to the login page.
	r = check(t, c, checkReq("GET", "http://portal.localhost/portal/home?tab=keys", "198.51.100.7", map[string]string{"accept": "text/html"}))
	wantLoc := "http://portal.localhost/login?rd=" + url.QueryEscape("http://portal.localhost/portal/home?tab=keys")
	if r.status != 302 || r.headers["Location"] != wantLoc {
		t.Errorf("portal page without a session, browser = %d %v, want 302 to %s", r.status, r.headers, wantLoc)
	}
	// With one: its identity, and what it does not name removed.
	s.addUser(t, "pia", "correct horse peach staple")
	faMember(t, s, "pia", "ACC-P", "trader")
	b := newBrowser(t)
	if resp := call(t, b, "POST", s.URL+"/v1/login", map[string]any{"username": "pia", "password": "correct horse peach staple", "interface": "web"}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("login = %d %s", resp.StatusCode, body(resp))
	}
	u, _ := url.Parse(s.URL)
	var cookie string
	for _, ck := range b.Jar.Cookies(u) {
		cookie += ck.Name + "=" + ck.Value + "; "
	}
	r = check(t, c, checkReq("GET", "http://portal.localhost/portal/home", "198.51.100.7", map[string]string{"cookie": cookie, "accept": "text/html"}))
	if r.status != 200 || !strings.HasPrefix(r.headers["X-Gatehouse-User"], "usr_") || !strings.HasPrefix(r.headers["X-Gatehouse-Credential"], "ses_") {
		t.Errorf("portal page with a session = %d %v", r.status, r.headers)
	}
	for _, name := range r.removed {
		if _, set := r.headers[name]; set {
			t.Errorf("portal page with a session: %s both set and removed", name)
		}
	}
	if len(r.headers)+len(r.removed) != 7 {
		t.Errorf("portal page with a session: set %v, removed %v; want each of the 5 identity headers and the 2 approval headers set or removed", r.headers, r.removed)
	}
}
