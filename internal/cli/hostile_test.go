package cli_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestLatin1UserAgentSignsIn signs in through the whole server, on both
// stores, from a browser whose User-Agent carries a Latin-1 byte (0xE9,
// "é"). PostgreSQL refuses such bytes in text (SQLSTATE 22021), and the
// login once answered 500 there while SQLite let it in.
func TestLatin1UserAgentSignsIn(t *testing.T) {
	const ua = "Mozilla/5.0 (X11; Linux x86_64) Navigateur caf\xe9/1.0"
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil)
			s.addUser(t, "alice", alicePW)
			c := newBrowser(t)
			hdr := http.Header{"User-Agent": {ua}}
			var a loginAnswer
			resp := call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": "alice", "password": alicePW, "interface": "web"}, hdr, &a)
			if resp.StatusCode != 200 || a.Status != "authenticated" {
				t.Fatalf("login with a Latin-1 User-Agent = %d %s; want 200 authenticated\nstderr:\n%s", resp.StatusCode, body(resp), s.Stderr)
			}
			var list struct {
				Sessions []struct {
					UserAgent string `json:"user_agent"`
				} `json:"sessions"`
			}
			resp = call(t, c, "GET", s.URL+"/v1/sessions", nil, hdr, &list)
			if resp.StatusCode != 200 || len(list.Sessions) != 1 || !strings.HasSuffix(list.Sessions[0].UserAgent, "caf\uFFFD/1.0") {
				t.Errorf("GET /v1/sessions = %d %s; want the session with its user agent as valid UTF-8", resp.StatusCode, body(resp))
			}
		})
	}
}
