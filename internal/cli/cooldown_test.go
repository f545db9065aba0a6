package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type cooldownProblem struct {
	Type          string `json:"type"`
	Status        int    `json:"status"`
	Detail        string `json:"detail"`
	CooldownUntil string `json:"cooldown_until"`
	Reason        string `json:"reason"`
}

func cooldownOf(t *testing.T, resp *http.Response) cooldownProblem {
	t.Helper()
	var p cooldownProblem
	json.Unmarshal([]byte(body(resp)), &p)
	return p
}

// TestCooldown drives the cool-down end to end on both stores: the first
// security key of a new trader starts none; a password change starts one
// in its transaction, which GET /v1/me shows and the owner is told of;
// while it runs forward-auth refuses transfers (by session and by key)
// with problem cooldown naming when it ends, while orders still pass, and
// no live key can be made (a paper one can); an operator lifts it with a
// reason, which is audited, and transfers are back to asking for their
// approval.
func TestCooldown(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			// A webhook that never answers: the notices stay in the outbox,
			// where GET /v1/notifications lists them.
			hook := "webhooks:\n  - url: http://127.0.0.1:9/hook\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    events: [\"*\"]\n"
			s := startServer(t, b.flags(t), nil, "--config", faConfig(t, "", hook))
			faSetup(t, s)
			testCooldown(t, s)
		})
	}
}

const liveTransfers = "http://live.localhost/api/transfers"

func testCooldown(t *testing.T, s *testServer) {
	tr := s.newTrader(t, "nadia", "correct horse coral staple")
	faMember(t, s, "nadia", "ACC-L", "owner")
	faMember(t, s, "nadia", "ACC-P", "owner")
	home := tr.home
	at := func(acct string) string { return s.URL + "/v1/accounts/" + acct + "/keys" }
	loopback := []string{"127.0.0.1/32", "::1/128"}
	var orders, treasury issuedKey
	if resp := call(t, home, "POST", at("ACC-L"), map[string]any{"name": "live bot", "scopes": []string{"orders:read", "orders:write"}, "allow_ips": loopback}, nil, &orders); resp.StatusCode != 201 {
		t.Fatalf("live key after the first security key = %d %s, want 201: onboarding starts no cool-down", resp.StatusCode, body(resp))
	}
	if resp := call(t, home, "POST", at("ACC-L"), map[string]any{"name": "treasury", "scopes": []string{"transfers:write"}, "allow_ips": loopback}, nil, &treasury); resp.StatusCode != 201 {
		t.Fatalf("transfers key = %d %s", resp.StatusCode, body(resp))
	}
	remember(orders.Secret, treasury.Secret)
	cookie := sessionCookie(t, s, home)
	liveAcct := http.Header{"Gatehouse-Account": {"ACC-L"}}
	withAcct := func(h http.Header) http.Header {
		out := http.Header{}
		for k, v := range h {
			out[k] = v
		}
		for k, v := range liveAcct {
			out[k] = v
		}
		return out
	}
	// Before: a transfer asks for its approval, nothing more.
	if p := problemOf(t, faAsk(t, s, "POST", liveTransfers, bearer(treasury.Secret))); !strings.HasSuffix(p.Type, "approval-required") {
		t.Fatalf("transfer by key before the cool-down = %+v, want approval-required", p)
	}
	var me struct {
		CooldownUntil  string `json:"cooldown_until"`
		CooldownReason string `json:"cooldown_reason"`
	}
	if resp := call(t, home, "GET", s.URL+"/v1/me", nil, nil, &me); resp.StatusCode != 200 || me.CooldownUntil != "" {
		t.Fatalf("GET /v1/me before = %d %+v, want no cooldown_until", resp.StatusCode, me)
	}

	changed := time.Now()
	next := "correct horse cobalt staple"
	remember(next)
	if resp := call(t, home, "POST", s.URL+"/v1/password", map[string]string{"current": tr.pw, "new": next}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("password change = %d %s", resp.StatusCode, body(resp))
	}
	tr.pw = next
	if resp := call(t, home, "GET", s.URL+"/v1/me", nil, nil, &me); resp.StatusCode != 200 || me.CooldownReason != "password" {
		t.Fatalf("GET /v1/me after the password change = %d %+v, want cooldown_reason password", resp.StatusCode, me)
	}
	until, err := time.Parse(time.RFC3339, me.CooldownUntil)
	if err != nil || until.Before(changed.Add(23*time.Hour)) || until.After(changed.Add(25*time.Hour)) {
		t.Fatalf("cooldown_until %q (%v), want about 24h after the change", me.CooldownUntil, err)
	}

	refused := func(what string, resp *http.Response) {
		t.Helper()
		p := cooldownOf(t, resp)
		if resp.StatusCode != 403 || !strings.HasSuffix(p.Type, "cooldown") || p.CooldownUntil != me.CooldownUntil || p.Reason != "password" ||
			!strings.Contains(p.Detail, me.CooldownUntil) {
			t.Errorf("%s during the cool-down = %d %+v, want 403 cooldown until %s", what, resp.StatusCode, p, me.CooldownUntil)
		}
	}
	refused("transfer by key", faAsk(t, s, "POST", liveTransfers, bearer(treasury.Secret)))
	refused("transfer by session", faAsk(t, s, "POST", liveTransfers, withAcct(cookie)))
	refused("new live key", call(t, home, "POST", at("ACC-L"), map[string]any{"name": "late", "scopes": []string{"orders:read"}}, nil, nil))
	refused("rotating a live key", call(t, home, "POST", at("ACC-L")+"/"+orders.ID+"/rotate", map[string]any{}, nil, nil))
	// Trading and paper keys go on: a cool-down slows what moves money out.
	if resp := faAsk(t, s, "POST", "http://live.localhost/api/orders", bearer(orders.Secret)); resp.StatusCode != 200 {
		t.Errorf("live order by key during the cool-down = %d %s, want 200", resp.StatusCode, body(resp))
	}
	if resp := call(t, home, "POST", at("ACC-P"), map[string]any{"name": "paper", "scopes": []string{"orders:read"}}, nil, nil); resp.StatusCode != 201 {
		t.Errorf("paper key during the cool-down = %d %s, want 201", resp.StatusCode, body(resp))
	}

	// The owner was told, through the outbox.
	var sent struct {
		Notifications []struct {
			Event string `json:"event"`
		} `json:"notifications"`
	}
	call(t, home, "GET", s.URL+"/v1/notifications", nil, nil, &sent)
	told := false
	for _, n := range sent.Notifications {
		told = told || n.Event == "cooldown.started"
	}
	if !told {
		t.Errorf("notifications %+v lack cooldown.started", sent.Notifications)
	}

	// An operator lifts it; a reason is required and audited.
	if out, err := s.gatehouse(t, "", "cooldown", "lift", "--user", "nadia"); err == nil {
		t.Errorf("cooldown lift without --reason succeeded: %s", out)
	}
	if out, err := s.gatehouse(t, "", "cooldown", "lift", "--user", "nobody", "--reason", "x"); err == nil {
		t.Errorf("cooldown lift of an unknown user succeeded: %s", out)
	}
	s.cli(t, "cooldown", "lift", "--user", "nadia", "--reason", "owner called from the number on file")
	if out, err := s.gatehouse(t, "", "cooldown", "lift", "--user", "nadia", "--reason", "again"); err == nil || !strings.Contains(err.Error(), "no cool-down") {
		t.Errorf("second lift = %v %s, want no cool-down running", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // the membership cache's bound, for a backend that cannot tell
	if p := problemOf(t, faAsk(t, s, "POST", liveTransfers, bearer(treasury.Secret))); !strings.HasSuffix(p.Type, "approval-required") {
		t.Errorf("transfer by key after the lift = %+v, want approval-required", p)
	}
	me.CooldownUntil = ""
	if call(t, home, "GET", s.URL+"/v1/me", nil, nil, &me); me.CooldownUntil != "" {
		t.Errorf("GET /v1/me after the lift shows cooldown_until %q", me.CooldownUntil)
	}
	var trail struct {
		Events []struct {
			Type   string            `json:"type"`
			Actor  string            `json:"actor"`
			Detail map[string]string `json:"detail"`
		} `json:"events"`
	}
	call(t, home, "GET", s.URL+"/v1/audit", nil, nil, &trail)
	lifted := false
	for _, e := range trail.Events {
		if e.Type == "cooldown.lifted" && e.Detail["reason"] == "owner called from the number on file" {
			lifted = true
		}
	}
	if !lifted {
		t.Errorf("audit trail lacks cooldown.lifted with the reason: %+v", trail.Events)
	}
}
