package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestPhoneNotices drives the phone channel with the real authenticator
// client against a real server on both stores: the phone's enrolment and
// the sign-in it approved reach the phone as notices; shown once, they
// are delivered (GET /v1/notifications says so) and not shown again; a
// user who switched sign-in pushes off gets none; "This wasn't me" on the
// phone, signed by its key, freezes the account and ends the session.
func TestPhoneNotices(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := startServer(t, b.flags(t), nil)
			home, phone := phoneTrader(t, s, "petra", "granite orchard whistle ninety")

			out, err := s.authenticator(t, phone, "pending")
			if err != nil {
				t.Fatalf("authenticator pending = %v\n%s", err, out)
			}
			sign := regexp.MustCompile(`notice (msg_[A-Za-z0-9_-]+): New sign-in to your gatehouse account`).FindStringSubmatch(out)
			if sign == nil || !regexp.MustCompile(`notice msg_[A-Za-z0-9_-]+ \[security\]: A second factor was added`).MatchString(out) {
				t.Fatalf("authenticator pending shows no sign-in and factor notices:\n%s", out)
			}
			for _, want := range []string{"Door:", "the web portal", "Not you? gatehouse authenticator deny --report --id " + sign[1]} {
				if !strings.Contains(out, want) {
					t.Errorf("authenticator pending lacks %q:\n%s", want, out)
				}
			}
			var sent struct {
				Notifications []struct{ ID, Event, Channel, State string }
			}
			call(t, home, "GET", s.URL+"/v1/notifications?channel=push", nil, nil, &sent)
			states := map[string]string{}
			for _, n := range sent.Notifications {
				states[n.ID] = n.State
			}
			if len(sent.Notifications) < 2 || states[sign[1]] != "delivered" {
				t.Errorf("push notices after the phone showed them = %+v, want delivered", sent.Notifications)
			}
			if out, _ := s.authenticator(t, phone, "pending"); strings.Contains(out, "notice msg_") {
				t.Errorf("notices shown twice:\n%s", out)
			}

			// Sign-in notices switched off by push: the next sign-in is not pushed.
			if resp := call(t, home, "PUT", s.URL+"/v1/notifications/preferences", `{"events":{"session.created":["mail","webhook"]}}`, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("PUT preferences = %d %s", resp.StatusCode, body(resp))
			}
			if out, _ := s.authenticator(t, phone, "pending"); strings.Contains(out, "New sign-in") {
				t.Errorf("a sign-in pushed after push was switched off for it:\n%s", out)
			}

			// "This wasn't me" on the phone to the sign-in it was shown.
			out, err = s.authenticator(t, phone, "deny", "--report", "--id", sign[1])
			if err != nil || !strings.Contains(out, "reported") || !strings.Contains(out, "The account is frozen") {
				t.Fatalf("authenticator deny --report --id %s = %v\n%s", sign[1], err, out)
			}
			// The session the notice told of is refused as frozen.
			resp := call(t, home, "GET", s.URL+"/v1/sessions", nil, nil, nil)
			if p := problemOf(t, resp); resp.StatusCode != 401 && !(resp.StatusCode == 403 && strings.HasSuffix(p.Type, "frozen")) {
				t.Errorf("GET /v1/sessions after the phone's report = %d %+v, want 401 or 403 frozen", resp.StatusCode, p)
			}
			if by := s.sql(t, `SELECT frozen_by FROM users WHERE username = 'petra'`); !strings.HasPrefix(by, "phone:") {
				t.Errorf("frozen_by = %q, want the phone", by)
			}
			if n := s.sql(t, `SELECT count(*) FROM audit WHERE type = 'notice.reported'`); n != "1" {
				t.Errorf("%s notice.reported audit events, want 1", n)
			}
			if out, err := s.gatehouse(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
				t.Errorf("audit verify = %v %s", err, out)
			}
			// Sent again, the same answer is refused.
			if out, err := s.authenticator(t, phone, "deny", "--report", "--id", sign[1]); err == nil {
				t.Errorf("a second report of one notice = %s, want refused", out)
			}
			// A notice id that is not the phone's is refused alike.
			if out, err := s.authenticator(t, phone, "deny", "--report", "--id", "msg_nosuchnotice"); err == nil {
				t.Errorf("report of an unknown notice = %s, want refused", out)
			}
		})
	}
}
