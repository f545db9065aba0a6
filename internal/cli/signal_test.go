package cli_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

type planAnswer struct {
	Signal struct {
		ID    string   `json:"id"`
		State string   `json:"state"`
		Steps []string `json:"steps"`
	} `json:"signal"`
	DryRun  bool           `json:"dry_run"`
	Counts  map[string]int `json:"counts"`
	Actions []struct {
		Step   int    `json:"step"`
		Op     string `json:"op"`
		User   string `json:"user"`
		Target string `json:"target"`
	} `json:"actions"`
}

// TestSignalCommandLine records a desktop vulnerability with the command
// line against a running server, runs its dry run and applies it: the
// desktop session of the professional in scope ends, the web one stays.
func TestSignalCommandLine(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil)
			tr := s.newTrader(t, "alice", alicePW)
			d := newDesktop(t, s.URL)
			s.signIn(t, tr, nil, d, "desktop")
			me := func() int {
				return call(t, http.DefaultClient, "GET", s.URL+"/v1/me", nil, d.headers(t, "GET", "/v1/me"), nil).StatusCode
			}
			if got := me(); got != 200 {
				t.Fatalf("desktop GET /v1/me before the signal = %d", got)
			}
			if out, err := s.gatehouse(t, "", "signal", "add", "--title", "Desktop 4.2", "--kind", "worm", "--severity", "high"); err == nil {
				t.Errorf("signal add --kind worm succeeded:\n%s", out)
			}
			out, err := s.gatehouse(t, "", "signal", "add", "--title", "Desktop client 4.2 leaks session tokens", "--kind", "vulnerability",
				"--severity", "high", "--door", "desktop", "--link", "https://example.com/adv/42", "--step", "end-sessions")
			if err != nil {
				t.Fatalf("signal add: %v\n%s", err, out)
			}
			id := strings.TrimSpace(out)
			if !regexp.MustCompile(`^sig_[A-Za-z0-9_-]+$`).MatchString(id) {
				t.Fatalf("signal add printed %q, want the signal id alone", out)
			}
			plan := func(args ...string) planAnswer {
				t.Helper()
				out, err := s.gatehouse(t, "", append([]string{"signal", "apply"}, args...)...)
				if err != nil {
					t.Fatalf("signal apply %v: %v\n%s", args, err, out)
				}
				var p planAnswer
				if err := json.Unmarshal([]byte(out), &p); err != nil {
					t.Fatalf("signal apply %v printed no JSON: %v\n%s", args, err, out)
				}
				return p
			}
			dry := plan(id, "--dry-run", "--json")
			if !dry.DryRun || dry.Counts["end-session"] != 1 || dry.Counts["tell"] != 1 || dry.Counts["users"] != 1 {
				t.Errorf("dry run = %+v, want one desktop session to end and alice told", dry)
			}
			if got := me(); got != 200 {
				t.Errorf("desktop GET /v1/me after the dry run = %d, want 200: a dry run changes nothing", got)
			}
			done := plan(id, "--json")
			if done.DryRun || len(done.Actions) != len(dry.Actions) || done.Actions[0] != dry.Actions[0] {
				t.Errorf("apply = %+v, want what the dry run listed: %+v", done, dry)
			}
			// Another process ended it: the server hears of it through the
			// store (at once with SQLite, by NOTIFY with PostgreSQL).
			s.soon(t, "desktop GET /v1/me after apply", 401, me)
			if resp := call(t, tr.home, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 200 {
				t.Errorf("web GET /v1/me after a desktop signal = %d, want 200", resp.StatusCode)
			}
			if again := plan(id, "--json"); len(again.Actions) != 0 {
				t.Errorf("second apply did %+v, want nothing", again.Actions)
			}
			if out, err := s.gatehouse(t, "", "signal", "close", id); err != nil || !strings.Contains(out, "closed") {
				t.Errorf("signal close = %v\n%s", err, out)
			}
			if out, err := s.gatehouse(t, "", "signal", "close", id); err == nil {
				t.Errorf("closing twice succeeded:\n%s", out)
			}
			out, err = s.gatehouse(t, "", "signal", "list")
			if err != nil || !regexp.MustCompile(id+`\s+closed\s+vulnerability\s+high`).MatchString(out) {
				t.Errorf("signal list = %v\n%s\nwant the signal, closed", err, out)
			}
		})
	}
}
