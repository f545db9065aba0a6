package authz_test

import (
	"net/netip"
	"testing"
	"time"

	"gatehouse/internal/authz"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/token"
)

// TestSessionJumpStepsUp: a web session used from another network than
// the one it authenticated from reads on but must step up before it
// trades; a step-up from the new network (RaiseSession with its address)
// makes that network the session's. Nearby addresses (the same /24, the
// same /48) and sessions with no address recorded are not asked. Both
// stores.
func TestSessionJumpStepsUp(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d := newDeciderOn(t, b.open(t))
			now := d.clock.Now()
			mk := func(ip string) (string, *session.Session) {
				tok, err := token.New(nil, 32)
				if err != nil {
					t.Fatal(err)
				}
				s := &session.Session{ID: "ses_" + tok[:8], UserID: d.trader.ID, Door: session.Web, TokenHash: token.Hash(tok), Assurance: session.AAL2,
					IP: ip, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: 15 * time.Minute}
				if err := d.st.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
				return tok, s
			}
			orders := target("POST", "http://live.localhost/api/orders")
			transfers := target("POST", "http://live.localhost/api/transfers")
			read := target("GET", "http://live.localhost/api/orders")
			ask := func(tok string, tg authz.Target, from string) authz.Result {
				t.Helper()
				return d.ask(t, authz.Request{Target: tg, Cookie: tok, Client: netip.MustParseAddr(from)})
			}
			office, s := mk("203.0.113.7")
			v6, _ := mk("2001:db8:7:1::10")
			unknown, _ := mk("")
			for _, c := range []struct {
				name string
				tok  string
				tg   authz.Target
				from string
				want policy.Kind
			}{
				{"SameAddress", office, orders, "203.0.113.7", policy.Allowed},
				{"SameSlash24", office, orders, "203.0.113.200", policy.Allowed},
				{"MappedSameSlash24", office, orders, "::ffff:203.0.113.9", policy.Allowed},
				{"OtherNetworkOrders", office, orders, "198.51.100.23", policy.StepUp},
				{"OtherNetworkReads", office, read, "198.51.100.23", policy.Allowed},
				{"SameSlash48", v6, orders, "2001:db8:7:ffff::1", policy.Allowed},
				{"OtherSlash48", v6, orders, "2001:db8:8::1", policy.StepUp},
				{"FamilyChanged", v6, orders, "203.0.113.7", policy.StepUp},
				{"NoAddressRecorded", unknown, orders, "198.51.100.23", policy.Allowed},
			} {
				res := ask(c.tok, c.tg, c.from)
				if res.Kind != c.want || res.Moved != (c.want == policy.StepUp) {
					t.Errorf("%s: %v (moved %v), want %v", c.name, res.Kind, res.Moved, c.want)
				}
			}
			if res := ask(office, transfers, "198.51.100.23"); res.Kind == policy.Allowed {
				t.Errorf("a transfer from another network: %v, want refused", res.Kind)
			}

			// The trader steps up from the new network: it becomes the
			// session's, and the office is now the other network.
			tok2, err := token.New(nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.st.RaiseSession(ctx, s.ID, session.AAL2, "pwd otp", now, token.Hash(tok2), "198.51.100.23"); err != nil {
				t.Fatal(err)
			}
			if res := ask(tok2, orders, "198.51.100.23"); res.Kind != policy.Allowed {
				t.Errorf("after a step-up from the new network: %v, want allowed", res.Kind)
			}
			if res := ask(tok2, orders, "203.0.113.7"); res.Kind != policy.StepUp || !res.Moved {
				t.Errorf("back at the office after stepping up elsewhere: %v, want step-up", res.Kind)
			}
		})
	}
}
