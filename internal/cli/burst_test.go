package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOrderBurst: over authz.orders_per_minute, forward-auth refuses a
// key's orders with 403 rate-limited and retry_after, reads still pass,
// and the owner's trail records the burst once however many are refused;
// on both stores.
func TestOrderBurst(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil, "--config", faConfig(t, "", "authz:\n  orders_per_minute: 3\n"))
			faSetup(t, s)
			tr := s.newTrader(t, "bianca", "correct horse basalt staple")
			faMember(t, s, "bianca", "ACC-L", "owner")
			var k issuedKey
			if resp := call(t, tr.home, "POST", s.URL+"/v1/accounts/ACC-L/keys", map[string]any{"name": "bot", "scopes": []string{"orders:read", "orders:write"},
				"allow_ips": []string{"127.0.0.1/32", "::1/128"}}, nil, &k); resp.StatusCode != 201 {
				t.Fatalf("create key = %d %s", resp.StatusCode, body(resp))
			}
			remember(k.Secret)
			const orders = "http://live.localhost/api/orders"
			for i := range 3 {
				if resp := faAsk(t, s, "POST", orders, bearer(k.Secret)); resp.StatusCode != 200 {
					t.Fatalf("order %d under the ceiling = %d %s", i+1, resp.StatusCode, body(resp))
				}
			}
			for i := range 2 {
				resp := faAsk(t, s, "POST", orders, bearer(k.Secret))
				var p struct {
					Type       string `json:"type"`
					RetryAfter int    `json:"retry_after"`
				}
				json.Unmarshal([]byte(body(resp)), &p)
				if resp.StatusCode != 403 || !strings.HasSuffix(p.Type, "rate-limited") || p.RetryAfter < 1 || resp.Header.Get("Retry-After") == "" {
					t.Errorf("order %d over the ceiling = %d %+v, want 403 rate-limited with retry_after", 4+i, resp.StatusCode, p)
				}
			}
			if resp := faAsk(t, s, "GET", orders, bearer(k.Secret)); resp.StatusCode != 200 {
				t.Errorf("reading orders over the ceiling = %d, want 200: only orders placed count", resp.StatusCode)
			}
			var trail struct {
				Events []struct {
					Type   string            `json:"type"`
					Detail map[string]string `json:"detail"`
				} `json:"events"`
			}
			call(t, tr.home, "GET", s.URL+"/v1/audit", nil, nil, &trail)
			n := 0
			for _, e := range trail.Events {
				if e.Type == "orders.rate_limited" {
					n++
					if e.Detail["key"] != k.ID {
						t.Errorf("orders.rate_limited names key %q, want %s", e.Detail["key"], k.ID)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d orders.rate_limited events, want 1 for one run of refusals", n)
			}
		})
	}
}
