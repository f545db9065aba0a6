package extauthz

import (
	"context"
	"net/http"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// FuzzToHTTP feeds CheckRequest attributes from outside to the
// translation: it never panics, passes only the headers forward-auth
// reads (each once, from the headers map), and takes the forwarded
// request and the client address from Envoy's attributes alone.
func FuzzToHTTP(f *testing.F) {
	f.Add("GET", "http", "live.localhost", "/api/orders?x=1", "203.0.113.9", "x-forwarded-for", "198.51.100.1", "Bearer k")
	f.Add("POST", "https", "h:8443", "/a/%2E%2E/b", "", "x-original-url", "http://x/", "")
	f.Add("", "", "", "", "::1", "authorization", "Bearer a, Bearer b", "\x00")
	f.Fuzz(func(t *testing.T, method, scheme, host, path, source, hk, hv, auth string) {
		req := checkRequest(method, scheme, host, path, source, map[string]string{hk: hv, "authorization": auth})
		r := toHTTP(context.Background(), req)
		allowed := map[string]bool{"X-Forwarded-Method": true, "X-Forwarded-Uri": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
			"X-Forwarded-For": true, "Authorization": true, "Cookie": true, "Dpop": true, "Accept": true, "Gatehouse-Account": true}
		for k, v := range r.Header {
			if !allowed[k] || len(v) != 1 {
				t.Errorf("toHTTP passed %s: %q", k, v)
			}
		}
		for k, want := range map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": path, "X-Forwarded-Host": host,
			"X-Forwarded-Proto": scheme, "X-Forwarded-For": source} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("toHTTP %s = %q, want %q (Envoy's attribute)", k, got, want)
			}
		}
		if r.Method != http.MethodGet || r.URL.Path != "/v1/authz" {
			t.Errorf("toHTTP asks %s %s, want GET /v1/authz", r.Method, r.URL.Path)
		}
	})
}

func checkRequest(method, scheme, host, path, source string, hdr map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: addr(source)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Scheme: scheme, Host: host, Path: path, Headers: hdr}},
	}}
}

func addr(a string) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: a}}}
}
