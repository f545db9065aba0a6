package authz_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
)

// TestKeyHeldOnNewNetwork: a live trading key with a hold works from its
// first network, is refused (hold) from a second until a member who may
// grant its powers approves that network, and works from it then; each
// network is recorded once. A key without a hold only has its networks
// recorded; a paper key none. Both stores.
func TestKeyHeldOnNewNetwork(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d := newDeciderOn(t, b.open(t))
			held := d.create(t, "ACC-L", apikey.Request{Name: "bot on vm-3", Scopes: []string{"orders:read", "orders:write"}, HoldOnNewNetwork: true})
			free := d.create(t, "ACC-L", apikey.Request{Name: "bot on vm-4", Scopes: []string{"orders:read", "orders:write"}})
			paper := d.create(t, "ACC-P", apikey.Request{Name: "paper bot", Scopes: []string{"orders:read", "orders:write"}})
			order := func(secret, host, from string) authz.Result {
				t.Helper()
				return d.ask(t, authz.Request{Target: target("POST", "http://"+host+"/api/orders"), Authorization: "Bearer " + secret, Client: netip.MustParseAddr(from)})
			}
			if res := order(held.Secret, "live.localhost", "203.0.113.9"); res.Kind != policy.Allowed {
				t.Fatalf("first use of a held key: %v %v, want allowed (its first network)", res.Kind, res.Missing)
			}
			if res := order(held.Secret, "live.localhost", "203.0.113.77"); res.Kind != policy.Allowed {
				t.Errorf("same /24: %v, want allowed", res.Kind)
			}
			d.clock.Add(time.Minute)
			res := order(held.Secret, "live.localhost", "198.51.100.5")
			if res.Kind != policy.Hold || res.HeldNetwork != "198.51.100.0/24" {
				t.Fatalf("a new network: %v %q, want hold on 198.51.100.0/24", res.Kind, res.HeldNetwork)
			}
			if res := order(held.Secret, "live.localhost", "198.51.100.6"); res.Kind != policy.Hold {
				t.Errorf("again from there: %v, want hold", res.Kind)
			}
			// A viewer may not approve; an owner at AAL1 must step up.
			viewer := d.session(d.viewer, session.AAL2, d.clock.Now())
			if err := d.keys.ApproveNetwork(ctx, viewer, "ACC-L", held.Key.ID, "198.51.100.0/24"); err == nil {
				t.Error("a viewer approved a network of a trading key")
			}
			stale := d.session(d.owner, session.AAL1, d.clock.Now())
			var su *session.StepUpError
			if err := d.keys.ApproveNetwork(ctx, stale, "ACC-L", held.Key.ID, "198.51.100.0/24"); !errors.As(err, &su) {
				t.Errorf("an AAL1 owner approving: %v, want a step-up", err)
			}
			if err := d.keys.ApproveNetwork(ctx, d.session(d.owner, session.AAL2, d.clock.Now()), "ACC-L", held.Key.ID, "192.0.2.0/24"); !errors.Is(err, authz.ErrNoHeldNetwork) {
				t.Errorf("approving a network never seen: %v, want ErrNoHeldNetwork", err)
			}
			if err := d.keys.ApproveNetwork(ctx, d.session(d.owner, session.AAL2, d.clock.Now()), "ACC-L", held.Key.ID, "198.51.100.0/24"); err != nil {
				t.Fatal(err)
			}
			d.clock.Add(2 * time.Second) // past the held network's re-check
			if res := order(held.Secret, "live.localhost", "198.51.100.5"); res.Kind != policy.Allowed {
				t.Errorf("after the owner's approval: %v, want allowed", res.Kind)
			}

			if res := order(free.Secret, "live.localhost", "203.0.113.9"); res.Kind != policy.Allowed {
				t.Errorf("a key without a hold: %v", res.Kind)
			}
			if res := order(free.Secret, "live.localhost", "198.51.100.5"); res.Kind != policy.Allowed {
				t.Errorf("a key without a hold on a new network: %v, want allowed (recorded, told by address)", res.Kind)
			}
			if res := order(paper.Secret, "paper.localhost", "198.51.100.5"); res.Kind != policy.Allowed {
				t.Errorf("a paper key: %v", res.Kind)
			}

			nets := func(id string) []string {
				t.Helper()
				ns, err := d.st.KeyNetworks(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, n := range ns {
					out = append(out, n.Network)
				}
				return out
			}
			if got := strings.Join(nets(held.Key.ID), " "); got != "203.0.113.0/24 198.51.100.0/24" {
				t.Errorf("held key's networks = %s", got)
			}
			if got := nets(paper.Key.ID); len(got) != 0 {
				t.Errorf("a paper key's networks were recorded: %v", got)
			}
			var events []string
			for e, err := range d.st.AuditEvents(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				if (e.Type == audit.KeyNewNetwork || e.Type == audit.KeyNetworkApproved) && e.Detail["key"] == held.Key.ID {
					events = append(events, e.Type+":"+e.Detail["network"]+":"+e.Detail["held"])
				}
			}
			want := "apikey.new_network:203.0.113.0/24:false apikey.new_network:198.51.100.0/24:true apikey.network_approved:198.51.100.0/24:"
			if got := strings.Join(events, " "); got != want {
				t.Errorf("audit of the held key's networks:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestNetworkMap: an operator's AS map names the networks it covers, the
// longest prefix first; other addresses fall back to /24 and /48; a bad
// line is refused with its number.
func TestNetworkMap(t *testing.T) {
	m, err := authz.ParseNetworkMap(strings.NewReader("# origin map\n198.51.100.0/22 64500\n198.51.101.0/24 AS64501 # a customer\n\n2001:db8::/32 64502\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"198.51.100.7":        "AS64500",
		"198.51.103.250":      "AS64500",
		"198.51.101.1":        "AS64501",
		"::ffff:198.51.101.1": "AS64501",
		"2001:db8:1:2::3":     "AS64502",
		"203.0.113.9":         "203.0.113.0/24",
		"2001:db9:7:1::1":     "2001:db9:7::/48",
	} {
		if got := m.Of(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Of(%s) = %s, want %s", addr, got, want)
		}
	}
	var none *authz.NetworkMap
	if got := none.Of(netip.MustParseAddr("198.51.100.7")); got != "198.51.100.0/24" {
		t.Errorf("no map: %s", got)
	}
	for _, bad := range []string{"198.51.100.0/22\n", "not-a-prefix 64500\n", "198.51.100.0/22 ASx\n", "198.51.100.0/22 64500 extra\n"} {
		if _, err := authz.ParseNetworkMap(strings.NewReader("# ok\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ParseNetworkMap(%q) = %v, want an error naming line 2", bad, err)
		}
	}
}
