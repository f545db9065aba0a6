package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/login"
	"gatehouse/internal/policy"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

var trustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// authzHandler is the API with forward-auth over a fresh store holding a
// live key that may be used from 203.0.113.0/24 only.
func authzHandler(t *testing.T) (http.Handler, string) {
	t.Helper()
	st := storetest.SQLite(t)
	storetest.NewAccount(t, st, "ACC-L", account.Live)
	return authzHandlerOn(t, st)
}

// authzHandlerOn is authzHandler over st, which holds account ACC-L.
func authzHandlerOn(t *testing.T, st store.Store) (http.Handler, string) {
	t.Helper()
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), MaxAge: time.Second})
	iss, err := keys.Create(context.Background(), authz.Actor{}, "ACC-L",
		apikey.Request{Name: "bot", Scopes: []string{"orders:read"}, AllowIPs: []string{"203.0.113.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	sessions := authn.New(st, time.Second, nil, nil)
	svc := authz.New(authz.Config{Rules: policy.ReferenceRules(), Keys: keys, Sessions: sessions, Members: st,
		Replay: &dpop.ReplayCache{Window: time.Minute}, DPoPMaxAge: time.Minute, MaxAge: time.Second})
	auth := &Authenticator{Authenticator: &authn.Authenticator{Sessions: sessions, Replay: &dpop.ReplayCache{Window: time.Minute}, MaxAge: time.Minute, Now: time.Now}, Origin: "http://localhost"}
	h := NewHandler(Deps{Posture: &posturegate.Service{Store: st}, Login: &login.Service{}, Auth: auth, Proxies: trustedProxies, Log: slog.New(slog.DiscardHandler), Now: time.Now,
		Keys: keys, Authz: svc, LoginURL: "https://portal.example/login"})
	return h, iss.Secret
}

func authzRequest(peer string, hdr map[string][]string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/authz", nil)
	r.RemoteAddr = peer
	for k, v := range hdr {
		r.Header[k] = v
	}
	return r
}

func TestAuthzUntrustedPeer(t *testing.T) {
	h, secret := authzHandler(t)
	target := map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"http://live.localhost/api/orders"}, "Authorization": {"Bearer " + secret}}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		status  int
		problem string
	}{
		{"TrustedProxyForClientInAllowlist", "10.1.2.3:5000", []string{"203.0.113.7"}, 200, ""},
		{"TrustedProxyForClientOutside", "10.1.2.3:5000", []string{"198.51.100.7"}, 401, "unauthenticated"},
		{"ProxyChain", "10.1.2.3:5000", []string{"198.51.100.7, 203.0.113.7, 10.9.9.9"}, 200, ""},
		{"ForgedLeftOfRealClient", "10.1.2.3:5000", []string{"203.0.113.7, 198.51.100.7"}, 401, "unauthenticated"},
		{"GarbledChain", "10.1.2.3:5000", []string{"203.0.113.7, nonsense"}, 401, "unauthenticated"},
		// A client in the allowlist that reaches gatehouse directly is not
		// a proxy: it is not answered at all, and its forged header is
		// never read.
		{"UntrustedPeerForgedHeader", "198.51.100.7:5000", []string{"203.0.113.7"}, 403, "untrusted-proxy"},
		{"UntrustedPeerInAllowlist", "203.0.113.7:5000", nil, 403, "untrusted-proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string][]string{}
			for k, v := range target {
				hdr[k] = v
			}
			if tt.xff != nil {
				hdr["X-Forwarded-For"] = tt.xff
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, authzRequest(tt.peer, hdr))
			if w.Code != tt.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.problem != "" {
				var p Problem
				json.Unmarshal(w.Body.Bytes(), &p)
				if p.Type != "urn:gatehouse:problem:"+tt.problem {
					t.Errorf("problem %q, want %s", p.Type, tt.problem)
				}
			}
			if tt.status == 200 && (w.Header().Get(hdrAccount) != "ACC-L" || w.Header().Get(hdrScopes) != "orders:read") {
				t.Errorf("identity headers %v", w.Header())
			}
		})
	}
}

func TestAuthzHeaderAbuse(t *testing.T) {
	h, secret := authzHandler(t)
	base := func() map[string][]string {
		return map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"http://live.localhost/api/orders"},
			"Authorization": {"Bearer " + secret}, "X-Forwarded-For": {"203.0.113.7"}}
	}
	tests := []struct {
		name   string
		mut    func(h map[string][]string)
		status int
	}{
		{"OK", func(map[string][]string) {}, 200},
		{"TwoAuthorizations", func(h map[string][]string) { h["Authorization"] = append(h["Authorization"], "Bearer x") }, 401},
		{"KeyNamesItsAccount", func(h map[string][]string) { h["Gatehouse-Account"] = []string{"ACC-L"} }, 200},
		{"KeyNamesAnotherAccount", func(h map[string][]string) { h["Gatehouse-Account"] = []string{"ACC-P"} }, 403},
		{"TwoMethods", func(h map[string][]string) { h["X-Original-Method"] = []string{"GET", "POST"} }, 403},
		{"ForwardedURIAsWell", func(h map[string][]string) { h["X-Forwarded-Uri"] = []string{"/api/transfers"} }, 403},
		{"HugeURL", func(h map[string][]string) {
			h["X-Original-Url"] = []string{"http://live.localhost/api/orders?" + strings.Repeat("a", 20000)}
		}, 403},
		{"BrowserWithBadKey", func(h map[string][]string) {
			h["Authorization"] = []string{"Bearer gatehouse_live_x"}
			h["Accept"] = []string{"text/html"}
		}, 401},
	}
	for _, tt := range tests {
		hdr := base()
		tt.mut(hdr)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, authzRequest("10.0.0.1:1", hdr))
		if w.Code != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.status)
		}
		if tt.status != 200 && w.Header().Get(hdrUser) != "" {
			t.Errorf("%s: refused with identity headers %v", tt.name, w.Header())
		}
		if loc := w.Header().Get("Location"); loc != "" {
			t.Errorf("%s: Location %q on a request that carried a key", tt.name, loc)
		}
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{nil, ""},
		{[]string{"gatehouse_session=abc"}, "abc"},
		{[]string{"theme=dark; gatehouse_session=abc; x=y"}, "abc"},
		{[]string{"gatehouse_session_old=zzz; gatehouse_session=abc"}, "abc"},
		{[]string{"xgatehouse_session=zzz"}, ""},
		{[]string{"a=b", "gatehouse_session=\"abc\""}, "abc"},
		{[]string{"gatehouse_session="}, ""},
		{[]string{";;  gatehouse_session=abc  ;"}, "abc"},
		{[]string{"gatehouse_session=first; gatehouse_session=second"}, "first"},
	}
	for _, tt := range tests {
		h := http.Header{"Cookie": tt.lines}
		if got := cookieValue(h, "gatehouse_session"); got != tt.want {
			t.Errorf("cookieValue(%q) = %q, want %q", tt.lines, got, tt.want)
		}
	}
}

// TestAuthzStepUpChallenge: a session short of a rule's assurance or
// freshness is asked to step up as RFC 9470 says, beside the problem
// document, and keeps the 403 that proxies pass on (a 401 would send it
// to the login page).
func TestAuthzStepUpChallenge(t *testing.T) {
	st := storetest.SQLite(t)
	storetest.NewAccount(t, st, "ACC-L", account.Live)
	h, _ := authzHandlerOn(t, st)
	u := storetest.NewUser(t, st, "olga")
	if err := st.AddMember(context.Background(), &account.Membership{UserID: u.ID, AccountID: "ACC-L", Role: account.Owner, CreatedAt: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	tok, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	// AAL2, proven an hour ago: live transfers ask for AAL3 within 5 minutes.
	if err := st.CreateSession(context.Background(), &session.Session{ID: "ses_olga", UserID: u.ID, Door: session.Web, TokenHash: token.Hash(tok), Assurance: session.AAL2,
		AuthTime: now.Add(-time.Hour), CreatedAt: now.Add(-time.Hour), LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: 15 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, url string
		status            int
		challenge         string
	}{
		{"TransferNeedsAAL3Fresh", "POST", "http://live.localhost/api/transfers", 403,
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is needed", acr_values="AAL3", max_age=300`},
		{"OrdersNeedNoStepUp", "GET", "http://live.localhost/api/orders", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, authzRequest("10.0.0.1:1", map[string][]string{"X-Original-Method": {tt.method}, "X-Original-Url": {tt.url},
				"Cookie": {"gatehouse_session=" + tok}, "X-Forwarded-For": {"203.0.113.7"}}))
			if w.Code != tt.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if got := w.Header().Get("Www-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.status != 403 {
				return
			}
			var p struct {
				Type              string `json:"type"`
				RequiredAssurance string `json:"required_assurance"`
				MaxAge            int    `json:"max_age"`
			}
			json.Unmarshal(w.Body.Bytes(), &p)
			if p.Type != "urn:gatehouse:problem:step-up-required" || p.RequiredAssurance != "AAL3" || p.MaxAge != 300 {
				t.Errorf("problem %+v, want step-up-required AAL3 max_age 300", p)
			}
		})
	}
}

// TestStepUpChallengeOfTheAPI: the API's step-up problem carries the same
// challenge, naming every level that would do.
func TestStepUpChallengeOfTheAPI(t *testing.T) {
	e := toError(&session.StepUpError{Need: session.AAL2, Within: 5 * time.Minute})
	want := `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is needed", acr_values="AAL2 AAL3", max_age=300`
	if got := e.Header.Get("Www-Authenticate"); e.Problem.Status != 403 || got != want {
		t.Errorf("step-up answer %d, WWW-Authenticate %q; want 403, %q", e.Problem.Status, got, want)
	}
}

// TestStepUpMovedSession: a session that moved network is asked to
// authenticate again from where it is: at least AAL2, max_age=0, and the
// problem says why.
func TestStepUpMovedSession(t *testing.T) {
	rule, _, _ := policy.ReferenceRules().Match("live.localhost", "POST", "/api/orders")
	e := errStepUpMoved(rule, []string{"step-up from this network"})
	want := `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is needed", acr_values="AAL2 AAL3", max_age=0`
	if got := e.Header.Get("Www-Authenticate"); e.Problem.Status != 403 || got != want {
		t.Errorf("moved session answer %d, WWW-Authenticate %q; want 403, %q", e.Problem.Status, got, want)
	}
	if e.Problem.Extra["reason"] != "network_changed" || e.Problem.Extra["max_age"] != 0 || e.Problem.Type != "urn:gatehouse:problem:step-up-required" {
		t.Errorf("problem = %+v %v", e.Problem, e.Problem.Extra)
	}
}
