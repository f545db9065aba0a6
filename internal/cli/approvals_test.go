package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/approval"
	"gatehouse/internal/approvalcheck"
)

// approvalConfig protects the reference API's live transfers and orders
// with approvals: every transfer, and orders whose declared notional is
// 10000 or more.
func approvalConfig(t *testing.T) string {
	t.Helper()
	const cfg = `trusted_proxies: [127.0.0.1, "::1"]
rules:
  - host: live.localhost
    environment: live
    methods: [POST]
    path: /api/transfers
    scopes: [transfers:write]
    approval: required
    approval_kind: transfer
  - host: live.localhost
    environment: live
    methods: [POST]
    path: /api/orders
    scopes: [orders:write]
    approval: required
    approval_kind: order
    approval_over: 10000
`
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type approvalAnswer struct {
	ID      string          `json:"id"`
	Account string          `json:"account"`
	Kind    string          `json:"kind"`
	Status  string          `json:"status"`
	Hash    string          `json:"hash"`
	Details json.RawMessage `json:"details"`
	Words   []string        `json:"words"`
	Approve []struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"approve"`
	Token  string `json:"token"`
	Factor string `json:"factor"`
	Freeze string `json:"freeze"`
}

// TestApprovals drives a transaction-bound approval end to end on both
// stores: a trader with a phone asks for a transfer's approval, the phone
// shows it in words and approves it, the token lets exactly one
// forward-auth request through with the approved hash, which the
// upstream helper accepts for the same body and refuses for a changed
// amount; replays, other kinds, denials and floods are refused.
func TestApprovals(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil, "--config", approvalConfig(t))
			faSetup(t, s)
			testApprovals(t, s)
		})
	}
}

// phoneTrader signs up name with a phone authenticator and returns a
// browser holding an AAL2 session and the phone's state directory.
func phoneTrader(t *testing.T, s *testServer, name, pw string) (*http.Client, string) {
	t.Helper()
	s.addUser(t, name, pw)
	remember(pw)
	home := newBrowser(t)
	login(t, s, home, name, pw, nil)
	var e factorAnswer
	if resp := call(t, home, "POST", s.URL+"/v1/factors/push", nil, nil, &e); resp.StatusCode != 201 || e.Code == "" {
		t.Fatalf("enrol push = %d %+v", resp.StatusCode, e)
	}
	remember(e.Code)
	state := t.TempDir()
	if out, err := s.authenticator(t, state, "enrol", "--server", s.URL, "--code", e.Code, "--name", "Pixel"); err != nil {
		t.Fatalf("authenticator enrol: %v %s", err, out)
	}
	a := login(t, s, home, name, pw, nil)
	var n struct {
		Number int `json:"number"`
	}
	call(t, home, "POST", s.URL+"/v1/login/"+a.Flow+"/push", nil, nil, &n)
	if out, err := s.authenticator(t, state, "approve", "--number", fmt.Sprint(n.Number)); err != nil {
		t.Fatalf("authenticator approve: %v %s", err, out)
	}
	var st loginAnswer
	call(t, home, "GET", s.URL+"/v1/login/"+a.Flow, nil, nil, &st)
	if st.Status != "authenticated" {
		t.Fatalf("push login = %+v", st)
	}
	return home, state
}

func sessionHeader(t *testing.T, s *testServer, c *http.Client) http.Header {
	t.Helper()
	u, _ := url.Parse(s.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			return http.Header{"Cookie": {"gatehouse_session=" + ck.Value}}
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func with(h http.Header, kv ...string) http.Header {
	out := http.Header{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func testApprovals(t *testing.T, s *testServer) {
	home, phone := phoneTrader(t, s, "olga", "wintry harbour lantern seventy")
	faMember(t, s, "olga", "ACC-L", "owner")
	ses := sessionHeader(t, s, home)

	// Without a token the transfer is refused, saying where to start.
	resp := faAsk(t, s, "POST", "https://live.localhost/api/transfers", ses)
	var p struct {
		Type, Kind, Start, Account string
	}
	json.Unmarshal([]byte(body(resp)), &p)
	if resp.StatusCode != 403 || !strings.HasSuffix(p.Type, "approval-required") || p.Kind != "transfer" || p.Start != "/v1/approvals" || p.Account != "ACC-L" {
		t.Fatalf("transfer without approval = %d %+v, want 403 approval-required", resp.StatusCode, p)
	}

	details := `{"amount": "5000.00", "currency": "USD", "destination": {"iban": "DE89370400440532013000", "name": "Olga Berg"}}`
	want, _ := approval.Hash([]byte(details))
	var a approvalAnswer
	resp = call(t, home, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"transfer","details":`+details+`}`, nil, &a)
	if resp.StatusCode != 201 || a.Status != "pending" || a.Hash != want || len(a.Approve) != 2 || !strings.HasPrefix(a.ID, "apr_") {
		t.Fatalf("POST /v1/approvals = %d %+v; want 201 pending with hash %s", resp.StatusCode, a, want)
	}

	// The phone shows the details in words, and approves without a number.
	out, err := s.authenticator(t, phone, "pending")
	if err != nil || !strings.Contains(out, a.ID) || !strings.Contains(out, "Transfer 5000.00 USD to DE89370400440532013000 Olga Berg") || !strings.Contains(out, "destination.iban: DE89370400440532013000") {
		t.Fatalf("authenticator pending = %v\n%s", err, out)
	}
	if out, err := s.authenticator(t, phone, "approve", "--id", a.ID); err != nil || !strings.Contains(out, "approved") {
		t.Fatalf("authenticator approve --id = %v %s", err, out)
	}
	var got approvalAnswer
	call(t, home, "GET", s.URL+"/v1/approvals/"+a.ID, nil, nil, &got)
	if got.Status != "approved" || got.Token == "" || got.Factor != "push" {
		t.Fatalf("GET approval after approve = %+v", got)
	}
	remember(got.Token)

	// The token verifies offline against /.well-known/jwks.json.
	var set jose.JSONWebKeySet
	call(t, http.DefaultClient, "GET", s.URL+"/.well-known/jwks.json", nil, nil, &set)
	jws, err := jose.ParseSigned(got.Token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("jwks has %d keys named %q, want 1", len(keys), jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	var claims approval.Claims
	json.Unmarshal(payload, &claims)
	if err != nil || claims.Hash != want || claims.Account != "ACC-L" || claims.Kind != approval.Transfer || claims.ID != a.ID || claims.Assurance != "aal2" {
		t.Errorf("token verified with the JWKS: %v %+v", err, claims)
	}

	// The token for a transfer does not pass an order over the threshold.
	order := with(ses, "Gatehouse-Approval", got.Token, "Gatehouse-Amount", "25000")
	if resp := faAsk(t, s, "POST", "https://live.localhost/api/orders", order); resp.StatusCode != 403 {
		t.Errorf("order with a transfer's token = %d, want 403", resp.StatusCode)
	}
	// An order below the threshold passes without one, and says so.
	resp = faAsk(t, s, "POST", "https://live.localhost/api/orders", with(ses, "Gatehouse-Amount", "900.50"))
	if resp.StatusCode != 200 || resp.Header.Get(approvalcheck.WaivedHeader) != "10000" || resp.Header.Get(approvalcheck.HashHeader) != "" {
		t.Errorf("small order = %d waived %q", resp.StatusCode, resp.Header.Get(approvalcheck.WaivedHeader))
	}
	for _, amount := range []string{"", "-5", "1e3", "NaN", "10000"} {
		if resp := faAsk(t, s, "POST", "https://live.localhost/api/orders", with(ses, "Gatehouse-Amount", amount)); resp.StatusCode != 403 {
			t.Errorf("order declaring %q = %d, want 403 (no waiver)", amount, resp.StatusCode)
		}
	}

	// The transfer passes once, with the approved hash...
	transfer := with(ses, "Gatehouse-Approval", got.Token)
	resp = faAsk(t, s, "POST", "https://live.localhost/api/transfers", transfer)
	if resp.StatusCode != 200 || resp.Header.Get(approvalcheck.HashHeader) != want {
		t.Fatalf("approved transfer = %d hash %q %s; want 200 with %s", resp.StatusCode, resp.Header.Get(approvalcheck.HashHeader), body(resp), want)
	}
	// ...which the upstream accepts for the approved body, re-spaced,
	// and refuses for a changed amount or destination.
	if err := approvalcheck.Verify(resp.Header, []byte(`{"currency":"USD","destination":{"name":"Olga Berg","iban":"DE89370400440532013000"},"amount":"5000.00"}`)); err != nil {
		t.Errorf("upstream check of the approved body = %v", err)
	}
	for _, changed := range []string{
		strings.Replace(details, "5000.00", "50000.00", 1),
		strings.Replace(details, "DE89370400440532013000", "GB29NWBK60161331926819", 1),
		strings.Replace(details, `"currency": "USD", `, "", 1),
	} {
		if err := approvalcheck.Verify(resp.Header, []byte(changed)); err == nil {
			t.Errorf("upstream accepted a changed body %s", changed)
		}
	}
	// A replay is refused, and so is the token with another account.
	if resp := faAsk(t, s, "POST", "https://live.localhost/api/transfers", transfer); resp.StatusCode != 403 || !strings.Contains(body(resp), "approval-required") {
		t.Errorf("replayed token = %d, want 403 approval-required", resp.StatusCode)
	}
	var used approvalAnswer
	call(t, home, "GET", s.URL+"/v1/approvals/"+a.ID, nil, nil, &used)
	if used.Status != "used" || used.Token != "" {
		t.Errorf("approval after use = %s token %q, want used and no token", used.Status, used.Token)
	}

	// A denial: no token, and the request stays refused.
	var d approvalAnswer
	call(t, home, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"transfer","details":{"amount":"99999","currency":"USD","destination":"attacker"}}`, nil, &d)
	if out, err := s.authenticator(t, phone, "deny", "--id", d.ID); err != nil || !strings.Contains(out, "denied") || !strings.Contains(out, "freeze") {
		t.Fatalf("authenticator deny --id = %v %s", err, out)
	}
	var denied approvalAnswer
	call(t, home, "GET", s.URL+"/v1/approvals/"+d.ID, nil, nil, &denied)
	if denied.Status != "denied" || denied.Token != "" || denied.Freeze != "/v1/freeze" {
		t.Errorf("denied approval = %+v", denied)
	}

	// Bad requests change nothing.
	for _, bad := range []string{
		`{"account":"ACC-L","kind":"transfer","details":[1]}`,
		`{"account":"ACC-L","kind":"transfer","details":{"amount":1,"amount":2}}`,
		`{"account":"ACC-L","kind":"transfer","details":{"amount":1,"Amount":2}}`,
		`{"account":"ACC-L","kind":"transfer","details":{"amount":1e400}}`,
		`{"account":"ACC-L","kind":"lottery","details":{"amount":1}}`,
		`{"account":"ACC-L","kind":"transfer"}`,
	} {
		if resp := call(t, home, "POST", s.URL+"/v1/approvals", bad, nil, nil); resp.StatusCode != 400 {
			t.Errorf("POST /v1/approvals %s = %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp := call(t, home, "POST", s.URL+"/v1/approvals", `{"account":"ACC-P","kind":"transfer","details":{"amount":1}}`, nil, nil); resp.StatusCode != 404 {
		t.Errorf("approval on an account not hers = %d, want 404", resp.StatusCode)
	}
	// Another user cannot see her approval.
	other, _ := phoneTrader(t, s, "otto", "copper meadow violin ninety")
	if resp := call(t, other, "GET", s.URL+"/v1/approvals/"+a.ID, nil, nil, nil); resp.StatusCode != 404 {
		t.Errorf("another user's GET approval = %d, want 404", resp.StatusCode)
	}

	// A flood is capped: five pending at most.
	var capped bool
	for range 6 {
		if resp := call(t, home, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"order","details":{"side":"buy","quantity":1,"instrument":"AAPL"}}`, nil, nil); resp.StatusCode == 429 {
			capped = true
		}
	}
	if !capped {
		t.Error("pending approvals are not capped")
	}

	// The audit trail holds the request, the approval, the use and the denial.
	var trail struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	// A use is recorded off the request's path, every 20 ms: asked until
	// seen, within a bound.
	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); !seen["approval.used"] && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		call(t, home, "GET", s.URL+"/v1/audit", nil, nil, &trail)
		for _, e := range trail.Events {
			seen[e.Type] = true
		}
	}
	for _, typ := range []string{"approval.requested", "approval.approved", "approval.used", "approval.denied"} {
		if !seen[typ] {
			t.Errorf("audit trail lacks %s", typ)
		}
	}
}
