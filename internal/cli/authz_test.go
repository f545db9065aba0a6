package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/cli"
	"gatehouse/internal/policy"
)

// faConfig writes a configuration for forward-auth tests: loopback is the
// trusted proxy, the rules are the reference trading API's plus a portal
// that any signed-in browser may use, and browsers without a session go
// to loginURL (none when empty).
func faConfig(t *testing.T, loginURL string, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("trusted_proxies: [127.0.0.1, \"::1\"]\n")
	if loginURL != "" {
		b.WriteString("authz:\n  login_url: " + loginURL + "\n")
	}
	b.WriteString(extra)
	b.WriteString("rules:\n")
	for _, line := range strings.SplitAfter(string(policy.ReferenceYAML()), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	b.WriteString("\n  # The portal: pages for signed-in browsers.\n  - host: portal.localhost\n    path: /portal/\n    aal: 1\n")
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// faSetup adds the accounts of the reference API (ACC-L live, ACC-P
// paper) through the command line.
func faSetup(t *testing.T, s *testServer) {
	t.Helper()
	for _, a := range [][]string{{"ACC-L", "live"}, {"ACC-P", "paper"}} {
		if out, err := s.gatehouse(t, "", "account", "add", "--id", a[0], "--name", a[0], "--environment", a[1]); err != nil {
			t.Fatalf("account add: %v\n%s", err, out)
		}
	}
}

func faMember(t *testing.T, s *testServer, user, acct, role string) {
	t.Helper()
	if out, err := s.gatehouse(t, "", "member", "add", "--user", user, "--account", acct, "--role", role); err != nil {
		t.Fatalf("member add: %v\n%s", err, out)
	}
}

// issuedKey is the --json answer of key create and rotate, and the API's.
type issuedKey struct {
	ID              string   `json:"id"`
	Secret          string   `json:"secret"`
	Account         string   `json:"account"`
	Environment     string   `json:"environment"`
	Scopes          []string `json:"scopes"`
	Status          string   `json:"status"`
	ExpiryShortened bool     `json:"expiry_shortened"`
	LastUsedAt      string   `json:"last_used_at"`
	LastUsedIP      string   `json:"last_used_ip"`
	PredecessorID   string   `json:"predecessor_id"`
	SuccessorID     string   `json:"successor_id"`
}

// faKey makes a key with `gatehouse key create --json`, as an operator.
func faKey(t *testing.T, s *testServer, args ...string) issuedKey {
	t.Helper()
	out, err := s.gatehouse(t, "", append([]string{"key", "create", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("key create %v: %v\n%s", args, err, out)
	}
	var k issuedKey
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("key create --json printed %q: %v", out, err)
	}
	remember(k.Secret)
	return k
}

var keyFormat = regexp.MustCompile(`^gatehouse_(live|paper)_[0-9a-z]{16}_[0-9a-z]{59}$`)

// faAsk asks gatehouse's forward-auth about method and rawURL, as nginx
// would (X-Original-Method, X-Original-URL), with extra headers.
func faAsk(t *testing.T, s *testServer, method, rawURL string, hdr http.Header) *http.Response {
	t.Helper()
	h := http.Header{"X-Original-Method": {method}, "X-Original-Url": {rawURL}}
	for k, v := range hdr {
		h[k] = v
	}
	return call(t, http.DefaultClient, "GET", s.URL+"/v1/authz", nil, h, nil)
}

func bearer(secret string) http.Header { return http.Header{"Authorization": {"Bearer " + secret}} }

type faProblem struct {
	Type              string   `json:"type"`
	Status            int      `json:"status"`
	Missing           []string `json:"missing"`
	RequiredAssurance string   `json:"required_assurance"`
	MaxAge            int      `json:"max_age"`
	Errors            []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

func problemOf(t *testing.T, resp *http.Response) faProblem {
	t.Helper()
	var p faProblem
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%d answer has Content-Type %q, want application/problem+json", resp.StatusCode, ct)
	}
	json.Unmarshal([]byte(body(resp)), &p)
	return p
}

// TestForwardAuth drives API keys and GET /v1/authz against a real server
// on both stores: key creation with its checks, the decisions, revocation
// on the next request, rotation, bad input, and the audit trail.
func TestForwardAuth(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil, "--config", faConfig(t, "https://portal.localhost/login", ""))
			faSetup(t, s)
			testKeyAPI(t, s)
			testForwardAuthDecisions(t, s)
			testForwardAuthSessions(t, s)
			testForwardAuthBadInput(t, s)
			testNoSecretsLogged(t, s)
		})
	}
}

func testKeyAPI(t *testing.T, s *testServer) {
	// tina is a trader on both accounts with a security key, her last
	// proof an hour old; vic views the live account; nell has a password
	// only (an AAL1 enrolment session).
	tina := s.newTrader(t, "tina", "correct horse teal staple").home
	s.ageProof(t, "tina")
	s.addUser(t, "vic", "correct horse violet staple")
	s.addUser(t, "nell", "correct horse navy staple")
	faMember(t, s, "tina", "ACC-L", "trader")
	faMember(t, s, "tina", "ACC-P", "trader")
	faMember(t, s, "vic", "ACC-L", "viewer")
	faMember(t, s, "nell", "ACC-P", "owner")
	vic, nell := newBrowser(t), newBrowser(t)
	webLogin(t, s, vic, "vic", "correct horse violet staple")
	webLogin(t, s, nell, "nell", "correct horse navy staple")
	time.Sleep(1100 * time.Millisecond) // the session cache's bound, past tina's aged proof
	keys := s.URL + "/v1/accounts/%s/keys"
	at := func(acct string) string { return strings.Replace(keys, "%s", acct, 1) }

	// No key at all from a session without a second factor.
	resp := call(t, nell, "POST", at("ACC-P"), map[string]any{"name": "paper reader", "scopes": []string{"orders:read"}}, nil, nil)
	if p := problemOf(t, resp); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" || p.RequiredAssurance != "AAL2" {
		t.Errorf("paper key from an AAL1 session = %d %+v, want 403 step-up-required AAL2", resp.StatusCode, p)
	}

	// A paper trading key needs no fresh step-up.
	var paper issuedKey
	resp = call(t, tina, "POST", at("ACC-P"), map[string]any{"name": "paper bot", "scopes": []string{"orders:read", "orders:write"}}, nil, &paper)
	if resp.StatusCode != 201 || !keyFormat.MatchString(paper.Secret) || !strings.Contains(paper.Secret, "_"+paper.ID+"_") || paper.Status != "active" || paper.Environment != "paper" {
		t.Fatalf("create paper key = %d %+v", resp.StatusCode, paper)
	}
	remember(paper.Secret)

	// A live trading key with a stale proof: step up first.
	resp = call(t, tina, "POST", at("ACC-L"), map[string]any{"name": "live bot", "scopes": []string{"orders:write"}, "allow_ips": []string{"203.0.113.0/24"}}, nil, nil)
	p := problemOf(t, resp)
	if resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" || p.RequiredAssurance != "AAL2" || p.MaxAge != 300 {
		t.Errorf("live trading key with a stale proof = %d %+v, want 403 step-up-required AAL2 within 300s", resp.StatusCode, p)
	}
	// A read-only live key needs it too: it outlives the session.
	resp = call(t, tina, "POST", at("ACC-L"), map[string]any{"name": "live reader", "scopes": []string{"orders:read"}}, nil, nil)
	if p := problemOf(t, resp); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" || p.RequiredAssurance != "AAL2" {
		t.Errorf("live read-only key with a stale proof = %d %+v, want 403 step-up-required AAL2", resp.StatusCode, p)
	}
	// Roles: a viewer manages nothing; a trader cannot grant transfers.
	if resp := call(t, vic, "POST", at("ACC-L"), map[string]any{"name": "x", "scopes": []string{"orders:read"}}, nil, nil); resp.StatusCode != 403 {
		t.Errorf("viewer creating a key = %d, want 403", resp.StatusCode)
	}
	if resp := call(t, tina, "POST", at("ACC-P"), map[string]any{"name": "x", "scopes": []string{"transfers:write"}, "allow_ips": []string{"203.0.113.0/24"}}, nil, nil); resp.StatusCode != 403 {
		t.Errorf("trader creating a transfers key = %d, want 403", resp.StatusCode)
	}
	// Not a member: as if the account did not exist.
	if resp := call(t, vic, "GET", at("ACC-P"), nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("non-member listing = %d, want 404", resp.StatusCode)
	}
	if resp := call(t, newBrowser(t), "GET", at("ACC-P"), nil, nil, nil); resp.StatusCode != 401 {
		t.Errorf("listing without a session = %d, want 401", resp.StatusCode)
	}

	// Bad input: every problem named, by field.
	bad := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"BadCIDRs", `{"name":"x","scopes":["orders:read"],"allow_ips":["10.0.0.1/8","300.1.1.1/32","0.0.0.0/0","fe80::1%eth0"]}`, 400,
			[]string{"allow_ips[0]", "allow_ips[1]", "allow_ips[2]", "allow_ips[3]"}},
		{"UnknownScope", `{"name":"x","scopes":["orders:read","orders:all"]}`, 400, []string{"scopes[1]"}},
		{"NoScopes", `{"name":"x","scopes":[]}`, 400, []string{"scopes"}},
		{"WrongEnvironment", `{"name":"x","environment":"live","scopes":["orders:read"]}`, 400, []string{"environment"}},
		{"TransfersNoAllowlist", `{"name":"x","scopes":["transfers:write"]}`, 400, []string{"scopes"}},
		{"LongName", `{"name":"` + strings.Repeat("n", 65) + `","scopes":["orders:read"]}`, 400, []string{"name"}},
		{"Expiry", `{"name":"x","scopes":["orders:read"],"expires_in":-1}`, 400, []string{"expires_in"}},
		{"TooLong", `{"name":"x","scopes":["orders:read"],"expires_in":40000000}`, 400, []string{"expires_in"}},
		{"UnknownField", `{"name":"x","scopes":["orders:read"],"admin":true}`, 400, nil},
		{"Form", `name=x`, 415, nil},
	}
	for _, tt := range bad {
		req, _ := http.NewRequest("POST", at("ACC-P"), strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		if tt.name == "Form" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := tina.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := problemOf(t, resp)
		resp.Body.Close()
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		if resp.StatusCode != tt.status || (tt.fields != nil && !slices.Equal(fields, tt.fields)) {
			t.Errorf("%s: %d %v, want %d %v", tt.name, resp.StatusCode, fields, tt.status, tt.fields)
		}
	}

	// With a real security key, stepped up just now: AAL3.
	olga := s.newTrader(t, "olga", "correct horse olive staple")
	faMember(t, s, "olga", "ACC-L", "owner")
	var live, transfers issuedKey
	if resp := call(t, olga.home, "POST", at("ACC-L"), map[string]any{"name": "live bot", "scopes": []string{"orders:read", "orders:write"}, "allow_ips": []string{"127.0.0.1/32", "::1/128"}}, nil, &live); resp.StatusCode != 201 {
		t.Fatalf("live trading key at fresh AAL3 = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, olga.home, "POST", at("ACC-L"), map[string]any{"name": "treasury", "scopes": []string{"transfers:write"}, "allow_ips": []string{"203.0.113.0/24"}}, nil, &transfers); resp.StatusCode != 201 {
		t.Fatalf("transfers key at fresh AAL3 = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, olga.home, "POST", at("ACC-L"), map[string]any{"name": "live reader", "scopes": []string{"orders:read"}}, nil, nil); resp.StatusCode != 201 {
		t.Errorf("live read-only key at fresh AAL3 = %d %s", resp.StatusCode, body(resp))
	}
	remember(live.Secret, transfers.Secret)
	// The same session an hour after its last proof: step up again.
	s.ageProof(t, "olga")
	time.Sleep(1100 * time.Millisecond) // the session cache's bound
	resp = call(t, olga.home, "POST", at("ACC-L"), map[string]any{"name": "late", "scopes": []string{"orders:write"}, "allow_ips": []string{"203.0.113.0/24"}}, nil, nil)
	if p := problemOf(t, resp); resp.StatusCode != 403 || p.RequiredAssurance != "AAL2" {
		t.Errorf("live trading key an hour after the last proof = %d %+v, want 403 step-up-required AAL2", resp.StatusCode, p)
	}

	// The key works through forward-auth, and its first use from an
	// address is recorded (batched) and audited.
	if resp := faAsk(t, s, "GET", "http://live.localhost/api/orders", bearer(live.Secret)); resp.StatusCode != 200 {
		t.Fatalf("forward-auth with the new live key = %d %s", resp.StatusCode, body(resp))
	}
	time.Sleep(1500 * time.Millisecond) // one flush
	var list struct{ Keys []issuedKey }
	call(t, olga.home, "GET", at("ACC-L"), nil, nil, &list)
	var seen *issuedKey
	for i, k := range list.Keys {
		if k.Secret != "" {
			t.Errorf("list shows a secret for key %s", k.ID)
		}
		if k.ID == live.ID {
			seen = &list.Keys[i]
		}
	}
	if seen == nil || seen.LastUsedAt == "" || seen.LastUsedIP != "127.0.0.1" {
		t.Errorf("listed live key = %+v, want last used from 127.0.0.1", seen)
	}
	if len(list.Keys) != 3 {
		t.Errorf("ACC-L lists %d keys, want 3", len(list.Keys))
	}

	// Rotate with a short overlap: both keys work, then only the new one.
	var next issuedKey
	if resp := call(t, tina, "POST", at("ACC-P")+"/"+paper.ID+"/rotate", map[string]any{"overlap": 2}, nil, &next); resp.StatusCode != 201 ||
		!keyFormat.MatchString(next.Secret) || next.PredecessorID != paper.ID {
		t.Fatalf("rotate = %d %+v", resp.StatusCode, next)
	}
	remember(next.Secret)
	for _, k := range []string{paper.Secret, next.Secret} {
		if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", bearer(k)); resp.StatusCode != 200 {
			t.Errorf("during the overlap: %d, want both keys to work", resp.StatusCode)
		}
	}
	if resp := call(t, tina, "POST", at("ACC-P")+"/"+paper.ID+"/rotate", nil, nil, nil); resp.StatusCode != 409 {
		t.Errorf("rotating a rotated key = %d, want 409", resp.StatusCode)
	}
	if resp := call(t, tina, "POST", at("ACC-P")+"/"+next.ID+"/rotate", map[string]any{"overlap": 90000}, nil, nil); resp.StatusCode != 400 {
		t.Errorf("an overlap over the configured 24h = %d, want 400", resp.StatusCode)
	}
	time.Sleep(2100 * time.Millisecond)
	if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", bearer(paper.Secret)); resp.StatusCode != 401 {
		t.Errorf("old key after the overlap = %d, want 401", resp.StatusCode)
	}
	if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", bearer(next.Secret)); resp.StatusCode != 200 {
		t.Errorf("new key after the overlap = %d, want 200", resp.StatusCode)
	}

	// Revoked through the API: refused on the very next request.
	if resp := call(t, tina, "DELETE", at("ACC-P")+"/"+next.ID, nil, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("revoke = %d %s", resp.StatusCode, body(resp))
	}
	if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", bearer(next.Secret)); resp.StatusCode != 401 {
		t.Errorf("revoked key, next request = %d, want 401", resp.StatusCode)
	}
	if resp := call(t, tina, "DELETE", at("ACC-P")+"/"+next.ID, nil, nil, nil); resp.StatusCode != 409 {
		t.Errorf("revoking twice = %d, want 409", resp.StatusCode)
	}
	if resp := call(t, tina, "DELETE", at("ACC-L")+"/"+next.ID, nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("revoking through another account = %d, want 404", resp.StatusCode)
	}

	// Revoked with the command line (another process on the store): on
	// SQLite refused within the revocation log's interval; on PostgreSQL
	// as soon as the NOTIFY arrives, and never later than the cache age.
	if resp := faAsk(t, s, "GET", "http://live.localhost/api/orders", bearer(live.Secret)); resp.StatusCode != 200 {
		t.Fatalf("live key before the CLI revocation = %d", resp.StatusCode)
	}
	if out, err := s.gatehouse(t, "", "key", "revoke", live.ID); err != nil {
		t.Fatalf("key revoke: %v %s", err, out)
	}
	s.soon(t, "key revoked by the CLI, forward-auth", 401, func() int {
		return faAsk(t, s, "GET", "http://live.localhost/api/orders", bearer(live.Secret)).StatusCode
	})

	// Every change is in the owner's trail, and the chain holds.
	var trail struct {
		Events []struct {
			Type   string            `json:"type"`
			Detail map[string]string `json:"detail"`
		} `json:"events"`
	}
	call(t, tina, "GET", s.URL+"/v1/audit?limit=200", nil, nil, &trail)
	types := map[string]int{}
	for _, e := range trail.Events {
		types[e.Type]++
	}
	for _, want := range []string{"apikey.created", "apikey.rotated", "apikey.revoked"} {
		if types[want] == 0 {
			t.Errorf("tina's trail lacks %s (has %v)", want, types)
		}
	}
	trail.Events = nil
	call(t, olga.home, "GET", s.URL+"/v1/audit?limit=200", nil, nil, &trail)
	newAddr := false
	for _, e := range trail.Events {
		if e.Type == "apikey.new_address" && e.Detail["key"] == live.ID && e.Detail["ip"] == "127.0.0.1" {
			newAddr = true
		}
	}
	if !newAddr {
		t.Errorf("olga's trail lacks the live key's first use from 127.0.0.1")
	}
	if out, err := s.gatehouse(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify = %v %s", err, out)
	}
}

func testForwardAuthDecisions(t *testing.T, s *testServer) {
	liveRW := faKey(t, s, "--account", "ACC-L", "--name", "rw", "--environment", "live", "--scope", "orders:read", "--scope", "orders:write", "--scope", "account:read", "--allow-ip", "127.0.0.0/8", "--allow-ip", "::1/128")
	paperRO := faKey(t, s, "--account", "ACC-P", "--name", "ro", "--environment", "paper", "--scope", "orders:read", "--scope", "marketdata:read")
	fenced := faKey(t, s, "--account", "ACC-L", "--name", "fenced", "--environment", "live", "--scope", "orders:read", "--allow-ip", "203.0.113.0/24")

	resp := faAsk(t, s, "POST", "http://live.localhost/api/orders?sym=AAPL", bearer(liveRW.Secret))
	if resp.StatusCode != 200 {
		t.Fatalf("live key placing an order = %d %s", resp.StatusCode, body(resp))
	}
	want := map[string]string{"X-Gatehouse-User": "admin", "X-Gatehouse-Account": "ACC-L", "X-Gatehouse-Environment": "live",
		"X-Gatehouse-Scopes": "account:read orders:read orders:write", "X-Gatehouse-Credential": liveRW.ID}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	tests := []struct {
		name          string
		method, url   string
		hdr           http.Header
		status        int
		missing       []string
		problem, body string
	}{
		{"PaperKeyOnLive", "GET", "http://live.localhost/api/orders", bearer(paperRO.Secret), 403, []string{"environment live"}, "forbidden", ""},
		{"ReadOnlyCannotPost", "POST", "http://paper.localhost/api/orders", bearer(paperRO.Secret), 403, []string{"scope orders:write"}, "forbidden", ""},
		{"ReadOnlyReads", "GET", "http://paper.localhost/api/marketdata/AAPL/bars", bearer(paperRO.Secret), 200, nil, "", ""},
		{"OtherAccount", "GET", "http://live.localhost/api/accounts/ACC-X", bearer(liveRW.Secret), 403, []string{"account ACC-X"}, "forbidden", ""},
		{"OwnAccount", "GET", "http://live.localhost/api/accounts/ACC-L", bearer(liveRW.Secret), 200, nil, "", ""},
		{"NoRule", "GET", "http://live.localhost/admin", bearer(liveRW.Secret), 403, []string{"matching rule"}, "forbidden", ""},
		{"OutsideAllowlist", "GET", "http://live.localhost/api/orders", bearer(fenced.Secret), 401, nil, "unauthenticated", ""},
		{"Anonymous", "GET", "http://paper.localhost/healthz", nil, 200, nil, "", ""},
		{"NoCredential", "GET", "http://paper.localhost/api/orders", nil, 401, nil, "unauthenticated", ""},
	}
	for _, tt := range tests {
		resp := faAsk(t, s, tt.method, tt.url, tt.hdr)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body(resp), tt.status)
			continue
		}
		if tt.problem == "" {
			continue
		}
		p := problemOf(t, resp)
		if p.Type != "urn:gatehouse:problem:"+tt.problem || !slices.Equal(p.Missing, tt.missing) {
			t.Errorf("%s: problem %+v, want %s missing %q", tt.name, p, tt.problem, tt.missing)
		}
	}

	// From a trusted proxy, X-Forwarded-For is believed: its rightmost
	// entry that is not a trusted proxy is the client. So the proxy must
	// write it, not pass on the client's (nginx_test.go shows the
	// configuration, and a forged header refused through it); and an
	// untrusted peer's header is never read (httpapi's
	// TestAuthzUntrustedPeer).
	if resp := faAsk(t, s, "GET", "http://live.localhost/api/orders", http.Header{"Authorization": {"Bearer " + fenced.Secret}, "X-Forwarded-For": {"203.0.113.9"}}); resp.StatusCode != 200 {
		t.Errorf("fenced key, the trusted proxy saying the client is 203.0.113.9 = %d, want 200", resp.StatusCode)
	}

	// Traefik and Caddy style.
	h := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"paper.localhost"}, "X-Forwarded-Uri": {"/api/orders"},
		"Authorization": {"Bearer " + paperRO.Secret}}
	if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/authz", nil, h, nil); resp.StatusCode != 200 || resp.Header.Get("X-Gatehouse-Account") != "ACC-P" {
		t.Errorf("Traefik-style forward-auth = %d %v", resp.StatusCode, resp.Header)
	}
}

func testForwardAuthSessions(t *testing.T, s *testServer) {
	// A web session's cookie, on the portal and on the trading API.
	// A session without a second factor (AAL1, for enrolment) reaches no
	// upstream whose rule does not say aal: 1.
	s.addUser(t, "nora", "a password and nothing more")
	faMember(t, s, "nora", "ACC-P", "trader")
	enrol := newBrowser(t)
	webLogin(t, s, enrol, "nora", "a password and nothing more")
	u, _ := url.Parse(s.URL)
	for _, ck := range enrol.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", http.Header{"Cookie": {"gatehouse_session=" + ck.Value}}); resp.StatusCode != 403 {
				t.Errorf("paper orders with an AAL1 enrolment session = %d, want 403", resp.StatusCode)
			}
		}
	}

	tr := s.newTrader(t, "will", "correct horse wheat staple")
	faMember(t, s, "will", "ACC-P", "trader")
	c := tr.home
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			cookie = ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	sessionCookie := http.Header{"Cookie": {"theme=dark; gatehouse_session=" + cookie}}
	resp := faAsk(t, s, "GET", "http://portal.localhost/portal/home", sessionCookie)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("X-Gatehouse-Credential"), "ses_") || !strings.HasPrefix(resp.Header.Get("X-Gatehouse-User"), "usr_") {
		t.Errorf("portal with a session cookie = %d %v", resp.StatusCode, resp.Header)
	}
	if resp := faAsk(t, s, "POST", "http://paper.localhost/api/orders", sessionCookie); resp.StatusCode != 200 || resp.Header.Get("X-Gatehouse-Scopes") != "account:read marketdata:read orders:read orders:write" {
		t.Errorf("paper orders with a trader's session = %d %v", resp.StatusCode, resp.Header)
	}
	if resp := faAsk(t, s, "POST", "http://live.localhost/api/orders", sessionCookie); resp.StatusCode != 403 {
		t.Errorf("live orders with a paper-only member's session = %d, want 403", resp.StatusCode)
	}

	// A browser without a session is sent to the login page: nginx gets
	// a 401 with the Location its error_page turns into the redirect,
	// Traefik and Caddy a 302.
	html := http.Header{"Accept": {"text/html,application/xhtml+xml"}}
	resp = faAsk(t, s, "GET", "http://portal.localhost/portal/home?tab=keys", html)
	wantLoc := "https://portal.localhost/login?rd=" + url.QueryEscape("http://portal.localhost/portal/home?tab=keys")
	if resp.StatusCode != 401 || resp.Header.Get("Location") != wantLoc {
		t.Errorf("nginx browser without a session = %d Location %q, want 401 %q", resp.StatusCode, resp.Header.Get("Location"), wantLoc)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	h := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"portal.localhost"}, "X-Forwarded-Uri": {"/portal/"}, "Accept": {"text/html"}}
	resp = call(t, noRedirect, "GET", s.URL+"/v1/authz", nil, h, nil)
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "https://portal.localhost/login?rd=https%3A%2F%2Fportal.localhost%2Fportal%2F") {
		t.Errorf("Traefik browser without a session = %d Location %q, want 302 to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A script gets 401, whatever it accepts; so does a browser with a bad key.
	if resp := faAsk(t, s, "GET", "http://portal.localhost/portal/home", http.Header{"Accept": {"application/json"}}); resp.StatusCode != 401 || resp.Header.Get("Location") != "" {
		t.Errorf("script without a session = %d Location %q, want 401 and none", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A desktop session: its DPoP proof must name the original request.
	tr = s.newTrader(t, "dora", "correct horse denim staple")
	faMember(t, s, "dora", "ACC-L", "trader")
	d := newDesktop(t, s.URL)
	s.signIn(t, tr, nil, d, "desktop")
	orderURL := "http://live.localhost/api/orders"
	proof := func(method, u string) http.Header {
		p, err := d.signer.Proof(method, u, d.token, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Authorization": {"DPoP " + d.token}, "Dpop": {p}}
	}
	good := proof("POST", orderURL)
	if resp := faAsk(t, s, "POST", orderURL, good); resp.StatusCode != 200 || resp.Header.Get("X-Gatehouse-Environment") != "live" {
		t.Errorf("desktop session with a proof of the original request = %d %s", resp.StatusCode, body(resp))
	}
	if resp := faAsk(t, s, "POST", orderURL, good); resp.StatusCode != 401 {
		t.Errorf("replayed proof = %d, want 401", resp.StatusCode)
	}
	if resp := faAsk(t, s, "POST", orderURL, proof("GET", orderURL)); resp.StatusCode != 401 {
		t.Errorf("proof for another method = %d, want 401", resp.StatusCode)
	}
	if resp := faAsk(t, s, "POST", orderURL, proof("POST", "http://paper.localhost/api/orders")); resp.StatusCode != 401 {
		t.Errorf("proof for another URL = %d, want 401", resp.StatusCode)
	}
	if resp := faAsk(t, s, "POST", orderURL, http.Header{"Cookie": {"gatehouse_session=" + d.token}}); resp.StatusCode != 401 {
		t.Errorf("desktop token as a cookie = %d, want 401", resp.StatusCode)
	}
}

func testForwardAuthBadInput(t *testing.T, s *testServer) {
	k := faKey(t, s, "--account", "ACC-P", "--name", "bad input", "--environment", "paper", "--scope", "orders:read")
	flip := func(i int) string {
		b := []byte(k.Secret)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	badKeys := map[string]string{
		"Garbage":       "not a key at all",
		"Empty":         "",
		"Truncated":     k.Secret[:len(k.Secret)-3],
		"WrongPrefix":   "ghp_" + k.Secret[len("gatehouse_"):],
		"WrongChecksum": flip(len(k.Secret) - 1),
		"Mistyped":      flip(30),
		"OtherEnvWord":  strings.Replace(k.Secret, "_paper_", "_prod_", 1),
		"Huge":          "gatehouse_paper_" + strings.Repeat("a", 20000),
	}
	for name, key := range badKeys {
		resp := faAsk(t, s, "GET", "http://paper.localhost/api/orders", bearer(key))
		if resp.StatusCode != 401 {
			t.Errorf("%s key: %d, want 401", name, resp.StatusCode)
		}
	}
	// Headers past the server's limit are refused before any handler.
	resp := faAsk(t, s, "GET", "http://paper.localhost/api/orders", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 40<<10)}})
	if resp.StatusCode != 431 {
		t.Errorf("40 KiB header: %d, want 431", resp.StatusCode)
	}
	// The forwarded request must be plain: both header families, two
	// values, a path that is not canonical, a missing URI.
	targets := []struct {
		name string
		hdr  http.Header
	}{
		{"BothFamilies", http.Header{"X-Original-Method": {"GET"}, "X-Original-Url": {"http://paper.localhost/api/orders"}, "X-Forwarded-Uri": {"/api/transfers"}}},
		{"TwoURLs", http.Header{"X-Original-Method": {"GET"}, "X-Original-Url": {"http://paper.localhost/api/orders", "http://live.localhost/api/orders"}}},
		{"DotDot", http.Header{"X-Original-Method": {"GET"}, "X-Original-Url": {"http://paper.localhost/api/orders/../transfers"}}},
		{"NoURI", http.Header{"X-Original-Method": {"GET"}}},
		{"Nothing", http.Header{}},
	}
	for _, tt := range targets {
		tt.hdr.Set("Authorization", "Bearer "+k.Secret)
		resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/authz", nil, tt.hdr, nil)
		if p := problemOf(t, resp); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:bad-forwarded-request" {
			t.Errorf("%s: %d %+v, want 403 bad-forwarded-request", tt.name, resp.StatusCode, p)
		}
	}
}

// TestRulesRefusedAtStart: a rule that can never match, or names an
// unknown scope, stops serve with the line of the rule.
func TestRulesRefusedAtStart(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"Unreachable", "rules:\n  - path: /api/\n    scopes: [orders:read]\n  - path: /api/orders\n    methods: [POST]\n",
			[]string{"line 4", "unreachable: the rule at line 2 matches every request this one does"}},
		{"UnknownScope", "listen: 127.0.0.1:0\nrules:\n  - path: /x\n    scopes: [orders:all]\n  - path: /y\n    environment: prod\n",
			[]string{`line 3: scopes[0]: unknown scope "orders:all"`, `line 5: environment: unknown environment "prod"`}},
		{"UnknownField", "rules:\n  - path: /x\n    scope: [orders:read]\n", []string{"line 3", `unknown field "scope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
			os.WriteFile(cfg, []byte(tt.yaml), 0o600)
			env := map[string]string{"GATEHOUSE_SEED_KEY": "c2VlZC1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="}
			var out strings.Builder
			err := cli.Run(context.Background(), []string{"serve", "--config", cfg, "--data", t.TempDir(), "--addr", "127.0.0.1:0"},
				func(k string) string { return env[k] }, strings.NewReader(""), &out, &out)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("serve error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}
