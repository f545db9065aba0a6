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
	"gatehouse/internal/assess"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/login"
	"gatehouse/internal/policy"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
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
	h := NewHandler(Deps{Posture: &assess.Service{Store: st}, Login: &login.Service{}, Auth: auth, Proxies: trustedProxies, Log: slog.New(slog.DiscardHandler), Now: time.Now,
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
