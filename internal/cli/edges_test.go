package cli_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestHostileIDsAreNotFound sends every route that takes an id, on both
// muxes, ids that are not ids (NUL, invalid UTF-8, an over-long one) from a
// signed-in owner: each answers 404 on SQLite and PostgreSQL alike, where
// PostgreSQL used to answer 500, and nothing changes.
func TestHostileIDsAreNotFound(t *testing.T) {
	routes := []string{
		"DELETE /v1/sessions/{id}",
		"POST /v1/factors/{id}/confirm",
		"DELETE /v1/factors/{id}",
		"POST /v1/devices/{id}/approve",
		"DELETE /v1/devices/{id}",
		"GET /v1/login/{flow}",
		"POST /v1/login/{flow}/totp",
		"POST /v1/login/{flow}/recovery",
		"POST /v1/login/{flow}/sms/send",
		"POST /v1/login/{flow}/sms/verify",
		"POST /v1/login/{flow}/push",
		"POST /v1/login/{flow}/webauthn/begin",
		"POST /v1/login/{flow}/webauthn/finish",
		"GET /v1/accounts/{account}/keys",
		"POST /v1/accounts/{account}/keys",
		"POST /v1/accounts/{account}/keys/{id}/rotate",
		"DELETE /v1/accounts/{account}/keys/{id}",
		"PATCH /v1/accounts/{account}/permissions",
		"GET /v1/admin/posture/{user}",
		"GET /login/{flow}",
		"POST /login/{flow}/totp",
		"POST /login/{flow}/check",
		"GET /login/{flow}/device",
		"POST /sessions/{id}/end",
		"POST /devices/{id}/approve",
		"POST /devices/{id}/revoke",
		"POST /factors/{id}/confirm",
		"POST /factors/{id}/remove",
		"GET /keys/{account}/new",
		"POST /keys/{account}",
		"POST /keys/{account}/{id}/rotate",
		"POST /keys/{account}/{id}/revoke",
	}
	hostile := map[string]string{"NUL": "%00", "InvalidUTF8": "%ff%fe", "OverLong": strings.Repeat("a", 200)}
	// Well-formed values for the other wildcard of a route.
	valid := map[string]string{"{account}": "ACC-L", "{id}": "0123456789abcdef", "{flow}": "AAAAAAAAAAAAAAAAAAAAAA", "{user}": "olive"}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil)
			faSetup(t, s)
			tr := s.newTrader(t, "olive", "quiet harbour lanterns at dusk")
			faMember(t, s, "olive", "ACC-L", "owner")
			counts := func() string {
				return s.sql(t, "SELECT (SELECT COUNT(*) FROM audit) || '/' || (SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL) || '/' || (SELECT COUNT(*) FROM api_keys) || '/' || (SELECT COUNT(*) FROM devices)")
			}
			before := counts()
			for _, route := range routes {
				method, path, _ := strings.Cut(route, " ")
				for _, w := range []string{"{account}", "{id}", "{flow}", "{user}"} {
					if !strings.Contains(path, w) {
						continue
					}
					for name, h := range hostile {
						url := strings.Replace(path, w, h, 1)
						for o, v := range valid {
							url = strings.Replace(url, o, v, 1)
						}
						resp := call(t, tr.home, method, s.URL+url, "{}", http.Header{"Content-Type": {"application/json"}}, nil)
						if resp.StatusCode != http.StatusNotFound {
							t.Errorf("%s %s (%s in %s) = %d, want 404", method, url, name, w, resp.StatusCode)
						}
					}
				}
			}
			if after := counts(); after != before {
				t.Errorf("audit/sessions/keys/devices = %s after the hostile ids, want %s as before", after, before)
			}
			if resp := call(t, tr.home, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v1/me after the hostile ids = %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestCaseVariantKeyDoesNotSignIn sends the login body a WAF would read as
// nobody's and encoding/json as maya's: it is refused with 400, and no
// session is made.
func TestCaseVariantKeyDoesNotSignIn(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	s.addUser(t, "maya", "copper kettle singing softly")
	for _, body := range []string{
		`{"username":"nobody","USERNAME":"maya","password":"copper kettle singing softly","interface":"web"}`,
		`{"username":"nobody","username":"maya","password":"copper kettle singing softly","interface":"web"}`,
	} {
		resp := call(t, newBrowser(t), "POST", s.URL+"/v1/login", body, http.Header{"Content-Type": {"application/json"}}, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /v1/login %s = %d, want 400", body, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("POST /v1/login %s: Content-Type = %q, want application/problem+json", body, ct)
		}
	}
	if n := s.sql(t, "SELECT COUNT(*) FROM sessions"); n != "0" {
		t.Errorf("sessions after the ambiguous logins = %s, want 0", n)
	}
}

// TestMetricsListen proves that with metrics.listen set, /metrics is
// served only on its own listener: the main listener, which a reverse
// proxy exposes, answers it 404. Without it, the main listener serves it.
func TestMetricsListen(t *testing.T) {
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp := call(t, http.DefaultClient, "GET", url, nil, nil, nil)
		return resp.StatusCode, body(resp)
	}
	t.Run("Apart", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"GATEHOUSE_METRICS_LISTEN": addr})
		if code, _ := get(t, s.URL+"/metrics"); code != http.StatusNotFound {
			t.Errorf("GET /metrics on the main listener = %d, want 404", code)
		}
		code, b := get(t, "http://"+addr+"/metrics")
		if code != http.StatusOK || !strings.Contains(b, "gatehouse_active_sessions") && !strings.Contains(b, "go_goroutines") {
			t.Errorf("GET /metrics on metrics.listen = %d %.200q, want 200 with the metrics", code, b)
		}
		if code, _ := get(t, "http://"+addr+"/v1/me"); code != http.StatusNotFound {
			t.Errorf("GET /v1/me on metrics.listen = %d, want 404: it serves /metrics only", code)
		}
	})
	t.Run("Default", func(t *testing.T) {
		s := startServer(t, []string{"--data", t.TempDir()}, nil)
		if code, _ := get(t, s.URL+"/metrics"); code != http.StatusOK {
			t.Errorf("GET /metrics on the main listener = %d, want 200 without metrics.listen", code)
		}
	})
}
