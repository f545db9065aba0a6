package cli_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

type recoveryAnswer struct {
	Status      string `json:"status"`
	Request     string `json:"request"`
	CompletesAt string `json:"completes_at"`
}

type recoveryState struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Ready   bool   `json:"ready"`
	EndedBy string `json:"ended_by"`
}

// raw posts body to path with no client state and returns the status and
// the exact bytes answered.
func raw(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRecovery drives a lost-factor recovery end to end on both stores:
// starts that tell nothing but what a login tells, the clock a second
// start keeps, the wait, completion into a session that may only enrol,
// cancellation by a real sign-in and by the id, and the operator's view.
func TestRecovery(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil)
			tr := s.newTrader(t, "rita", "correct horse battery staple")
			start := s.URL + "/v1/recovery/factors"

			// Unknown user, wrong password: the same 202, byte for byte.
			c1, unknown := raw(t, start, `{"username":"nobody","password":"correct horse battery staple"}`)
			c2, wrong := raw(t, start, `{"username":"rita","password":"not her password"}`)
			if c1 != 202 || c2 != 202 || unknown != wrong || strings.Contains(unknown, "request") {
				t.Errorf("unknown = %d %s, wrong = %d %s; want the same bare 202", c1, unknown, c2, wrong)
			}
			// Forgotten password: the same 202 for a known and an unknown user.
			r1, known := raw(t, s.URL+"/v1/recovery/password", `{"username":"rita"}`)
			r2, nobody := raw(t, s.URL+"/v1/recovery/password", `{"username":"nobody"}`)
			if r1 != 202 || r2 != 202 || known != nobody {
				t.Errorf("reset: rita = %d %s, nobody = %d %s; want the same 202", r1, known, r2, nobody)
			}
			// Hostile bodies: a problem, nothing started.
			for _, bad := range []string{`{"username":"rita","password":"x","extra":1}`, `{"username":"","password":"x"}`, `[]`} {
				if code, _ := raw(t, start, bad); code != 400 {
					t.Errorf("POST %s = %d, want 400", bad, code)
				}
			}
			var a recoveryAnswer
			if resp := call(t, newBrowser(t), "POST", start, map[string]string{"username": "rita", "password": tr.pw}, nil, &a); resp.StatusCode != 202 || a.Request == "" || a.CompletesAt == "" {
				t.Fatalf("start with the password = %d %+v; want 202 with the request", resp.StatusCode, a)
			}
			var again recoveryAnswer
			call(t, newBrowser(t), "POST", start, map[string]string{"username": "rita", "password": tr.pw}, nil, &again)
			if again.Request != a.Request || again.CompletesAt != a.CompletesAt {
				t.Errorf("second start = %+v, want the first %+v: the clock stands", again, a)
			}
			var st recoveryState
			if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/recovery/"+a.Request, nil, nil, &st); resp.StatusCode != 200 || st.Status != "pending" || st.Ready {
				t.Errorf("GET recovery = %d %+v; want pending, not ready", resp.StatusCode, st)
			}
			for _, id := range []string{"rcv_AAAAAAAAAAAAAAAAAAAAAA", "rcv%00x"} {
				if resp := call(t, http.DefaultClient, "GET", s.URL+"/v1/recovery/"+id, nil, nil, nil); resp.StatusCode != 404 {
					t.Errorf("GET recovery %q = %d, want 404", id, resp.StatusCode)
				}
			}
			complete := s.URL + "/v1/recovery/" + a.Request + "/complete"
			login := map[string]any{"username": "rita", "password": tr.pw, "interface": "web"}
			if resp := call(t, tr.home, "POST", complete, login, nil, nil); resp.StatusCode != 409 {
				t.Errorf("complete while waiting = %d, want 409", resp.StatusCode)
			}
			if resp := call(t, tr.home, "POST", complete, map[string]any{"username": "rita", "password": "wrong", "interface": "web"}, nil, nil); resp.StatusCode != 401 {
				t.Errorf("complete with a wrong password = %d, want 401", resp.StatusCode)
			}

			// The wait passes (the stored clock is moved, as a fake clock would).
			past := "1"
			if b.name == "PostgreSQL" {
				past = "now() - interval '1 second'"
			}
			s.sql(t, "UPDATE recovery_requests SET completes_at = "+past+" WHERE id = '"+a.Request+"'")
			var done loginAnswer
			if resp := call(t, tr.home, "POST", complete, login, nil, &done); resp.StatusCode != 200 || done.Status != "authenticated" || !done.EnrolmentRequired {
				t.Fatalf("complete after the wait = %d %+v; want authenticated, enrolment required", resp.StatusCode, done)
			}
			for _, c := range []struct {
				method, path string
				want         int
			}{
				{"GET", "/v1/me", 200},
				{"GET", "/v1/factors", 200},
				{"GET", "/v1/sessions", 403},
				{"GET", "/v1/audit", 403},
				{"POST", "/v1/factors/sms", 409},
				{"POST", "/v1/factors/totp", 201},
			} {
				var body any
				if c.method == "POST" {
					body = map[string]string{"phone": "+15555550100"}
					if strings.HasSuffix(c.path, "totp") {
						body = map[string]string{}
					}
				}
				if resp := call(t, tr.home, c.method, s.URL+c.path, body, nil, nil); resp.StatusCode != c.want {
					t.Errorf("%s %s from the recovery's session = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
				}
			}
			if out, err := s.gatehouse(t, "", "recovery", "list", "--json"); err != nil || !strings.Contains(out, `"status": "completed"`) {
				t.Errorf("recovery list --json = %v\n%s", err, out)
			}

			// A sign-in with the security key cancels a new request.
			call(t, newBrowser(t), "POST", start, map[string]string{"username": "rita", "password": tr.pw}, nil, &a)
			s.signIn(t, tr, tr.home, nil, "web") // a trusted browser: no approval needed
			call(t, http.DefaultClient, "GET", s.URL+"/v1/recovery/"+a.Request, nil, nil, &st)
			if st.Status != "cancelled" || st.EndedBy != "sign_in" {
				t.Errorf("after a sign-in with the key: %+v; want cancelled by sign_in", st)
			}
			// Whoever holds the id may cancel.
			call(t, newBrowser(t), "POST", start, map[string]string{"username": "rita", "password": tr.pw}, nil, &a)
			if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/recovery/"+a.Request+"/cancel", nil, nil, &st); resp.StatusCode != 200 || st.Status != "cancelled" {
				t.Errorf("cancel = %d %+v", resp.StatusCode, st)
			}
			out, err := s.gatehouse(t, "", "recovery", "list")
			if err != nil || strings.Count(out, "cancelled") != 2 || !bytes.Contains([]byte(out), []byte("completed")) {
				t.Errorf("recovery list = %v\n%s", err, out)
			}
		})
	}
}
