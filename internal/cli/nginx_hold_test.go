package cli_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// viaProxyFrom is viaProxy from the local address from ("" for any): a
// client on another network than 127.0.0.0/24, as nginx and gatehouse
// see it, binds 127.0.1.1.
func viaProxyFrom(port int, from string) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		}}}
}

// TestNginxKeyHold: through Debian's nginx, configured as
// docs/integrations.md says, a live trading key created with
// hold_on_new_network trades from its first network, is refused from a
// second (127.0.1.0/24: the client binds 127.0.1.1) until its owner
// approves that network through the API, and trades from it then. Both
// stores.
func TestNginxKeyHold(t *testing.T) {
	findNginx(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			api := tradingAPI(t)
			s := startServer(t, b.flags(t), nil, "--config", faConfig(t, "", ""))
			faSetup(t, s)
			u, _ := url.Parse(s.URL)
			port := startNginx(t, "127.0.0.1:"+u.Port(), strings.TrimPrefix(api.URL, "http://"))
			tr := s.newTrader(t, "hana", "copper kettle morning rain")
			faMember(t, s, "hana", "ACC-L", "owner")
			var k issuedKey
			if resp := call(t, tr.home, "POST", s.URL+"/v1/accounts/ACC-L/keys", map[string]any{"name": "bot on vm-3", "scopes": []string{"orders:read", "orders:write"},
				"hold_on_new_network": true}, nil, &k); resp.StatusCode != 201 {
				t.Fatalf("create key = %d %s", resp.StatusCode, body(resp))
			}
			remember(k.Secret)
			order := func(c *http.Client) int {
				t.Helper()
				return call(t, c, "POST", "http://live.localhost/api/orders?sym=AAPL", nil, http.Header{"Authorization": {"Bearer " + k.Secret}}, nil).StatusCode
			}
			home, away := viaProxy(port), viaProxyFrom(port, "127.0.1.1")
			if code := order(home); code != 200 {
				t.Fatalf("first use, from 127.0.0.1 = %d, want 200", code)
			}
			if code := order(away); code != 403 {
				t.Fatalf("from a new network (127.0.1.1) = %d, want 403", code)
			}
			var nets struct {
				Networks []struct {
					Network string `json:"network"`
					Held    bool   `json:"held"`
				} `json:"networks"`
			}
			netsURL := s.URL + "/v1/accounts/ACC-L/keys/" + k.ID + "/networks"
			if resp := call(t, tr.home, "GET", netsURL, nil, nil, &nets); resp.StatusCode != 200 || len(nets.Networks) != 2 ||
				nets.Networks[0].Network != "127.0.0.0/24" || nets.Networks[0].Held || nets.Networks[1].Network != "127.0.1.0/24" || !nets.Networks[1].Held {
				t.Fatalf("networks = %d %+v, want 127.0.0.0/24 approved, 127.0.1.0/24 held", resp.StatusCode, nets)
			}
			if code := order(home); code != 200 {
				t.Errorf("from the first network meanwhile = %d, want 200", code)
			}
			for _, bad := range []string{`{"network":""}`, `{"network":"127.0.1.0/24","network":"0.0.0.0/0"}`, `{"network":"127.0.1.0/24\u0000"}`} {
				req, _ := http.NewRequest("POST", netsURL+"/approve", strings.NewReader(bad))
				req.Header.Set("Content-Type", "application/json")
				resp, err := tr.home.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 400 {
					t.Errorf("approve %s = %d, want 400", bad, resp.StatusCode)
				}
			}
			if resp := call(t, tr.home, "POST", netsURL+"/approve", map[string]string{"network": "127.0.1.0/24"}, nil, nil); resp.StatusCode != 204 {
				t.Fatalf("approve = %d %s", resp.StatusCode, body(resp))
			}
			time.Sleep(1100 * time.Millisecond) // a held network is believed held for a second
			if code := order(away); code != 200 {
				t.Errorf("from the approved network = %d, want 200", code)
			}
			if resp := call(t, tr.home, "POST", netsURL+"/approve", map[string]string{"network": "127.0.1.0/24"}, nil, nil); resp.StatusCode != 404 {
				t.Errorf("approving again = %d, want 404", resp.StatusCode)
			}
		})
	}
}
