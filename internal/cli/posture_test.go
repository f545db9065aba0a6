package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/posture"
	"gatehouse/internal/posturegate"
)

// postureServer starts gatehouse with SMS through a capture endpoint and
// "root" listed as an admin.
func postureServer(t *testing.T, flags []string) (*testServer, *smsCapture) {
	capture, twilio := newSMSCapture(t)
	cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`factors:
  sms: {provider: twilio, base_url: %q, account_sid: ACtest, auth_token: test-token, from: "+15550001111"}
admins: [Root]
entities:
  CH: {name: Swiss securities firm, jurisdiction: Switzerland, scheme: esisuisse, limit: "up to CHF 100,000 per client"}
`, twilio.URL)), 0o600)
	return startServer(t, append(flags, "--config", cfg), nil), capture
}

// gateProblem is the 409 answer of the permission gate.
type gateProblem struct {
	problemDoc
	Permissions []string `json:"permissions"`
	Findings    []struct {
		ID          string `json:"id"`
		FailureMode string `json:"failure_mode"`
		Summary     string `json:"summary"`
		NextStep    string `json:"next_step"`
	} `json:"findings"`
}

type permissionsAnswer struct {
	Account     string          `json:"account"`
	Permissions map[string]bool `json:"permissions"`
	Changed     bool            `json:"changed"`
	Overridden  []string        `json:"overridden"`
}

// smsUser adds a user whose only second factor is SMS and returns a
// browser holding a fresh AAL2 session signed in with it.
func (s *testServer) smsUser(t *testing.T, capture *smsCapture, name, pw string) *http.Client {
	t.Helper()
	s.addUser(t, name, pw)
	remember(pw)
	c := newBrowser(t)
	login(t, s, c, name, pw, nil)
	var e factorAnswer
	if resp := call(t, c, "POST", s.URL+"/v1/factors/sms", map[string]string{"phone": "+447700900123"}, nil, &e); resp.StatusCode != 201 {
		t.Fatalf("enrol sms = %d %s", resp.StatusCode, body(resp))
	}
	if resp := call(t, c, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": capture.last(t)}, nil, &e); resp.StatusCode != 200 {
		t.Fatalf("confirm sms = %d %s", resp.StatusCode, body(resp))
	}
	remember(e.RecoveryCodes...)
	a := login(t, s, c, name, pw, nil)
	if resp := call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/sms/send", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("sms/send = %d %s", resp.StatusCode, body(resp))
	}
	var done loginAnswer
	if resp := call(t, c, "POST", s.URL+"/v1/login/"+a.Flow+"/sms/verify", map[string]string{"code": capture.last(t)}, nil, &done); resp.StatusCode != 200 || done.Session.Assurance != "AAL2" {
		t.Fatalf("sms/verify = %d %+v", resp.StatusCode, done)
	}
	return c
}

func (s *testServer) cli(t *testing.T, args ...string) {
	t.Helper()
	if out, err := s.gatehouse(t, "", args...); err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func ids(fs []posture.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestPostureEndToEnd(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, capture := postureServer(t, b.flags(t))
			s.cli(t, "account", "add", "--id", "SUNNY-LIVE", "--name", "Sunny live", "--environment", "live", "--entity", "US")
			s.cli(t, "account", "add", "--id", "CLEO-LIVE", "--name", "Cleo live", "--environment", "live", "--entity", "ch")

			sunny := s.smsUser(t, capture, "sunny", "sms only long passphrase")
			s.cli(t, "member", "add", "--user", "sunny", "--account", "SUNNY-LIVE", "--role", "owner")
			cleo := s.newTrader(t, "cleo", "a clean long passphrase").home
			s.cli(t, "member", "add", "--user", "cleo", "--account", "CLEO-LIVE", "--role", "owner")
			s.cli(t, "member", "add", "--user", "cleo", "--account", "SUNNY-LIVE", "--role", "trader")
			root := s.newTrader(t, "root", "the admin's long passphrase").home

			t.Run("ReportOfTheCaller", func(t *testing.T) {
				var r posture.Report
				resp := call(t, sunny, "GET", s.URL+"/v1/posture", nil, nil, &r)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("GET /v1/posture = %d %v", resp.StatusCode, resp.Header)
				}
				if r.User.Name != "sunny" || len(r.Findings) == 0 || r.Findings[0].ID != "sms-only-second-factor" || r.Findings[0].Exposure != posture.High {
					t.Errorf("sunny's report = %+v, findings %v; want sms-only-second-factor first, high", r.User, ids(r.Findings))
				}
				if len(r.Accounts) != 1 || r.Accounts[0].ID != "SUNNY-LIVE" || r.Accounts[0].Entity != "US" {
					t.Errorf("accounts = %+v", r.Accounts)
				}
				if len(r.Entities) != 1 || r.Entities[0].Scheme != "SIPC" || !strings.Contains(r.Entities[0].Reminder, "authenticated takeover is not covered") {
					t.Errorf("entities = %+v; want SIPC and the takeover reminder", r.Entities)
				}
				web := r.Doors[slices.IndexFunc(r.Doors, func(d posture.Door) bool { return d.Name == "web" })]
				if !web.Used || !slices.ContainsFunc(web.Guards, func(g posture.Guard) bool { return g.Kind == "factor" && g.Weak }) {
					t.Errorf("web door = %+v; want used, with a weak factor", web)
				}

				r = posture.Report{}
				call(t, cleo, "GET", s.URL+"/v1/posture", nil, nil, &r)
				if r.HasHigh() {
					t.Errorf("cleo (security key, recovery codes) has high findings: %v", ids(r.Findings))
				}
				i := slices.IndexFunc(r.Entities, func(e posture.EntityReport) bool { return e.Code == "CH" })
				if i < 0 || r.Entities[i].Scheme != "esisuisse" {
					t.Errorf("entities = %+v; want the configured CH entity", r.Entities)
				}
				if resp := call(t, newBrowser(t), "GET", s.URL+"/v1/posture", nil, nil, nil); resp.StatusCode != 401 {
					t.Errorf("GET /v1/posture without a session = %d, want 401", resp.StatusCode)
				}
			})

			t.Run("GateRefuses", func(t *testing.T) {
				var p gateProblem
				resp := call(t, sunny, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]bool{"options": true}, nil, &p)
				if resp.StatusCode != 409 || p.Type != "urn:gatehouse:problem:posture-gate" || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("PATCH options on = %d %s", resp.StatusCode, body(resp))
				}
				if len(p.Findings) != 1 || p.Findings[0].ID != "sms-only-second-factor" || p.Findings[0].FailureMode != "sms-interception" || p.Findings[0].NextStep == "" {
					t.Errorf("findings in the problem = %+v", p.Findings)
				}
				if !slices.Equal(p.Permissions, []string{"options"}) {
					t.Errorf("permissions in the problem = %v", p.Permissions)
				}
				var r posture.Report
				call(t, sunny, "GET", s.URL+"/v1/posture", nil, nil, &r)
				if len(r.Accounts[0].Permissions) != 0 {
					t.Errorf("permissions after a refusal = %v, want none", r.Accounts[0].Permissions)
				}
				// Turning off is always allowed; this changes nothing.
				var a permissionsAnswer
				if resp := call(t, sunny, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]bool{"options": false, "withdrawals": false}, nil, &a); resp.StatusCode != 200 || a.Changed {
					t.Errorf("PATCH off = %d %+v", resp.StatusCode, a)
				}
			})

			t.Run("WhoMay", func(t *testing.T) {
				tests := []struct {
					name   string
					c      *http.Client
					path   string
					body   string
					status int
					kind   string
				}{
					{"Trader", cleo, "SUNNY-LIVE", `{"options":false}`, 403, "forbidden"},
					{"NonMember", sunny, "CLEO-LIVE", `{"options":false}`, 404, "not-found"},
					{"NoAccount", sunny, "NOPE", `{"options":false}`, 404, "not-found"},
					{"OverrideByNonAdmin", sunny, "SUNNY-LIVE", `{"options":true,"override_reason":"please"}`, 403, "forbidden"},
					{"UserByNonAdmin", sunny, "SUNNY-LIVE", `{"options":true,"user":"cleo"}`, 403, "forbidden"},
					{"Empty", sunny, "SUNNY-LIVE", `{}`, 400, "bad-request"},
					{"Unknown", sunny, "SUNNY-LIVE", `{"options":true,"leverage":true}`, 400, "bad-request"},
					{"NoSession", newBrowser(t), "SUNNY-LIVE", `{"options":false}`, 401, "unauthenticated"},
				}
				for _, tt := range tests {
					var p problemDoc
					resp := call(t, tt.c, "PATCH", s.URL+"/v1/accounts/"+tt.path+"/permissions", tt.body, nil, &p)
					if resp.StatusCode != tt.status || p.Type != "urn:gatehouse:problem:"+tt.kind {
						t.Errorf("%s: PATCH = %d %s, want %d %s", tt.name, resp.StatusCode, p.Type, tt.status, tt.kind)
					}
				}
			})

			t.Run("CleanUserAllowed", func(t *testing.T) {
				var a permissionsAnswer
				resp := call(t, cleo, "PATCH", s.URL+"/v1/accounts/CLEO-LIVE/permissions", map[string]bool{"options": true, "margin": true}, nil, &a)
				if resp.StatusCode != 200 || !a.Changed || !a.Permissions["options"] || !a.Permissions["margin"] || a.Permissions["futures"] || len(a.Overridden) != 0 {
					t.Fatalf("PATCH = %d %+v %s", resp.StatusCode, a, body(resp))
				}
				var r posture.Report
				call(t, cleo, "GET", s.URL+"/v1/posture", nil, nil, &r)
				i := slices.IndexFunc(r.Accounts, func(a posture.AccountSummary) bool { return a.ID == "CLEO-LIVE" })
				if i < 0 || !slices.Equal(r.Accounts[i].Permissions, []string{"options", "margin"}) {
					t.Errorf("accounts after the change = %+v", r.Accounts)
				}
			})

			t.Run("Admin", func(t *testing.T) {
				var r posture.Report
				if resp := call(t, root, "GET", s.URL+"/v1/admin/posture/sunny", nil, nil, &r); resp.StatusCode != 200 || r.User.Name != "sunny" || !r.HasHigh() {
					t.Errorf("admin GET sunny = %d %+v", resp.StatusCode, r.User)
				}
				r = posture.Report{}
				if resp := call(t, root, "GET", s.URL+"/v1/admin/posture/"+"nobody", nil, nil, nil); resp.StatusCode != 404 {
					t.Errorf("admin GET unknown user = %d, want 404", resp.StatusCode)
				}
				var o posturegate.Overview
				if resp := call(t, root, "GET", s.URL+"/v1/admin/posture", nil, nil, &o); resp.StatusCode != 200 {
					t.Fatalf("admin summary = %d %s", resp.StatusCode, body(resp))
				}
				if c, ok := o.Count("sms-only-second-factor", posture.High); o.Users != 3 || o.UsersWithHigh != 1 || !ok || c.Users != 1 {
					t.Errorf("summary = %d users, %d with high, sms-only %+v", o.Users, o.UsersWithHigh, c)
				}
				if c, ok := o.Count("phishing", posture.Mitigated); !ok || c.Users != 2 {
					t.Errorf("summary of phishing/mitigated = %+v, want cleo and root", c)
				}
				for _, c := range []*http.Client{sunny, cleo} {
					for _, path := range []string{"/v1/admin/posture", "/v1/admin/posture/sunny", "/v1/admin/posture/root"} {
						var p problemDoc
						if resp := call(t, c, "GET", s.URL+path, nil, nil, &p); resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:forbidden" {
							t.Errorf("non-admin GET %s = %d %s, want 403", path, resp.StatusCode, p.Type)
						}
					}
				}
			})

			t.Run("AdminOverride", func(t *testing.T) {
				// Without naming the owner, an admin cannot turn a permission on.
				var p problemDoc
				if resp := call(t, root, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]any{"futures": true}, nil, &p); resp.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Field != "user" {
					t.Errorf("admin PATCH without user = %d %+v", resp.StatusCode, p)
				}
				// Acting for sunny, the gate judges sunny.
				if resp := call(t, root, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]any{"futures": true, "user": "sunny"}, nil, nil); resp.StatusCode != 409 {
					t.Errorf("admin PATCH for sunny without override = %d, want 409", resp.StatusCode)
				}
				if resp := call(t, root, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]any{"futures": true, "user": "cleo", "override_reason": "x"}, nil, &p); resp.StatusCode != 400 || p.Errors[0].Field != "user" {
					t.Errorf("admin PATCH for a trader = %d %+v, want 400 on user", resp.StatusCode, p)
				}
				const reason = "ticket 4711: options agreement signed, SMS replacement booked"
				var a permissionsAnswer
				resp := call(t, root, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]any{"options": true, "user": "sunny", "override_reason": reason}, nil, &a)
				if resp.StatusCode != 200 || !a.Permissions["options"] || !slices.Equal(a.Overridden, []string{"sms-only-second-factor"}) {
					t.Fatalf("admin override = %d %+v %s", resp.StatusCode, a, body(resp))
				}
				// Both events are in sunny's trail, the actor is root.
				var trail struct {
					Events []struct {
						Type   string            `json:"type"`
						Detail map[string]string `json:"detail"`
					} `json:"events"`
				}
				call(t, sunny, "GET", s.URL+"/v1/audit?limit=5", nil, nil, &trail)
				if len(trail.Events) < 2 || trail.Events[0].Type != "permissions.override" || trail.Events[1].Type != "permissions.changed" {
					t.Fatalf("sunny's trail = %+v", trail.Events)
				}
				if d := trail.Events[0].Detail; d["reason"] != reason || d["findings"] != "sms-only-second-factor" || d["account"] != "SUNNY-LIVE" || d["turned_on"] != "options" {
					t.Errorf("override event detail = %v", d)
				}
				if d := trail.Events[1].Detail; d["after"] != "options" || d["before"] != "none" || d["override_reason"] != reason {
					t.Errorf("change event detail = %v", d)
				}
				if out, err := s.gatehouse(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
					t.Errorf("audit verify: %v %s", err, out)
				}
				// sunny may turn it off again without anyone's leave.
				if resp := call(t, sunny, "PATCH", s.URL+"/v1/accounts/SUNNY-LIVE/permissions", map[string]bool{"options": false}, nil, &a); resp.StatusCode != 200 || !a.Changed || a.Permissions["options"] {
					t.Errorf("sunny turning options off = %d %+v", resp.StatusCode, a)
				}
			})

			t.Run("StaleProofSteppedUp", func(t *testing.T) {
				s.ageProof(t, "cleo")
				time.Sleep(1100 * time.Millisecond) // the session cache's bound
				var p problemDoc
				resp := call(t, cleo, "PATCH", s.URL+"/v1/accounts/CLEO-LIVE/permissions", map[string]bool{"futures": true}, nil, &p)
				if resp.StatusCode != 403 || p.Type != "urn:gatehouse:problem:step-up-required" {
					t.Errorf("PATCH with an hour-old proof = %d %s, want 403 step-up-required", resp.StatusCode, p.Type)
				}
				// Reading needs no fresh proof.
				if resp := call(t, cleo, "GET", s.URL+"/v1/posture", nil, nil, nil); resp.StatusCode != 200 {
					t.Errorf("GET /v1/posture with an hour-old proof = %d", resp.StatusCode)
				}
			})

			testNoSecretsLogged(t, s)
		})
	}
}
