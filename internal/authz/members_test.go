package authz_test

import (
	"errors"
	"slices"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/policy"
)

// askKey asks forward-auth about method url with the key secret.
func (d *decider) askKey(t *testing.T, secret, method, url string) authz.Result {
	t.Helper()
	return d.ask(t, authz.Request{Target: target(method, url), Authorization: "Bearer " + secret})
}

func TestDemotedMembersKeyLosesOrdersWrite(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d := newDeciderOn(t, b.open(t))
			trader := d.session(d.trader, 2, d.clock.Now())
			iss, err := d.keys.Create(ctx, trader, "ACC-L", apikey.Request{Name: "bot", Scopes: []string{"orders:read", "orders:write"}, AllowIPs: []string{"203.0.113.0/24"}})
			if err != nil {
				t.Fatal(err)
			}
			if res := d.askKey(t, iss.Secret, "POST", "https://live.localhost/api/orders"); !res.Allow {
				t.Fatalf("trader's key, POST /api/orders = %v %v, want allowed", res.Kind, res.Missing)
			}

			if err := d.keys.SetMember(ctx, authz.Actor{}, d.trader.ID, "ACC-L", account.Viewer); err != nil {
				t.Fatal(err)
			}
			res := d.askKey(t, iss.Secret, "POST", "https://live.localhost/api/orders")
			if res.Allow || res.Kind != policy.Forbidden || !slices.Equal(res.Missing, []string{"scope orders:write"}) {
				t.Errorf("after demotion to viewer, POST /api/orders = %v %v, want forbidden for lack of orders:write", res.Kind, res.Missing)
			}
			res = d.askKey(t, iss.Secret, "GET", "https://live.localhost/api/orders")
			if !res.Allow || res.Scopes != "orders:read" {
				t.Errorf("after demotion to viewer, GET /api/orders = %v %v with scopes %q, want allowed with orders:read", res.Kind, res.Missing, res.Scopes)
			}

			// A promotion made elsewhere (the command line, another
			// instance) is seen once the cached key is older than MaxAge.
			if err := d.st.AddMember(ctx, &account.Membership{UserID: d.trader.ID, AccountID: "ACC-L", Role: account.Trader, CreatedAt: d.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			if res := d.askKey(t, iss.Secret, "POST", "https://live.localhost/api/orders"); res.Allow {
				t.Errorf("promotion made elsewhere, within the cache age: POST allowed, want the cached (demoted) scopes")
			}
			d.clock.Add(maxAge + 1)
			if res := d.askKey(t, iss.Secret, "POST", "https://live.localhost/api/orders"); !res.Allow {
				t.Errorf("promotion made elsewhere, past the cache age: POST = %v %v, want allowed", res.Kind, res.Missing)
			}
		})
	}
}

func TestRemovedMembersKeyIsSuspended(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d := newDeciderOn(t, b.open(t))
			owner := d.session(d.owner, 2, d.clock.Now())
			iss, err := d.keys.Create(ctx, owner, "ACC-L", apikey.Request{Name: "reader", Scopes: []string{"orders:read"}})
			if err != nil {
				t.Fatal(err)
			}
			operator := d.create(t, "ACC-L", apikey.Request{Name: "ops", Scopes: []string{"orders:read"}})
			if res := d.askKey(t, iss.Secret, "GET", "https://live.localhost/api/orders"); !res.Allow {
				t.Fatalf("owner's key = %v %v, want allowed", res.Kind, res.Missing)
			}

			suspended, err := d.keys.RemoveMember(ctx, authz.Actor{}, d.owner.ID, "ACC-L")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(suspended, []string{iss.Key.ID}) {
				t.Errorf("RemoveMember suspended %v, want [%s]", suspended, iss.Key.ID)
			}
			res := d.askKey(t, iss.Secret, "GET", "https://live.localhost/api/orders")
			if res.Allow || res.Kind != policy.Unauthenticated || !errors.Is(res.Why, authz.ErrInvalidKey) {
				t.Errorf("removed member's key = %v (%v), want refused as an invalid key", res.Kind, res.Why)
			}
			keys, err := d.keys.List(ctx, authz.Actor{}, "ACC-L")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				want := "active"
				if k.ID == iss.Key.ID {
					want = "suspended"
				}
				if got := authz.KeyStatus(k, d.clock.Now()); got != want {
					t.Errorf("listed key %s (%s) is %s, want %s", k.ID, k.Name, got, want)
				}
			}
			if res := d.askKey(t, operator.Secret, "GET", "https://live.localhost/api/orders"); !res.Allow {
				t.Errorf("operator's key after a member left = %v %v, want allowed", res.Kind, res.Missing)
			}
			evs, err := d.st.AuditOfUser(ctx, d.owner.ID, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			var removed, susp bool
			for _, e := range evs {
				removed = removed || e.Type == audit.MemberRemoved && e.Detail["account"] == "ACC-L" && e.Detail["role"] == "owner"
				susp = susp || e.Type == audit.KeySuspended && e.Detail["key"] == iss.Key.ID
			}
			if !removed || !susp {
				t.Errorf("audit has member.removed %v and apikey.suspended %v, want both", removed, susp)
			}

			if _, err := d.keys.RemoveMember(ctx, authz.Actor{}, d.owner.ID, "ACC-L"); !errors.Is(err, authz.ErrNoMember) {
				t.Errorf("RemoveMember twice = %v, want ErrNoMember", err)
			}
			if err := d.keys.SetMember(ctx, authz.Actor{}, d.owner.ID, "ACC-L", account.Viewer); err != nil {
				t.Fatal(err)
			}
			if res := d.askKey(t, iss.Secret, "GET", "https://live.localhost/api/orders"); !res.Allow {
				t.Errorf("back as a viewer, the read key = %v %v, want allowed again", res.Kind, res.Missing)
			}
		})
	}
}

func TestMembersAreOperatorsBusiness(t *testing.T) {
	f := newFixture(t)
	var fe *authz.ForbiddenError
	if err := f.keys.SetMember(ctx, f.session(f.owner, 3, f.clock.Now()), f.viewer.ID, "ACC-L", account.Owner); !errors.As(err, &fe) {
		t.Errorf("an owner's session promoting a member = %v, want a ForbiddenError", err)
	}
	if _, err := f.keys.RemoveMember(ctx, f.session(f.owner, 3, f.clock.Now()), f.viewer.ID, "ACC-L"); !errors.As(err, &fe) {
		t.Errorf("an owner's session removing a member = %v, want a ForbiddenError", err)
	}
	if err := f.keys.SetMember(ctx, authz.Actor{}, f.viewer.ID, "ACC-X", account.Owner); !errors.Is(err, authz.ErrNoAccount) {
		t.Errorf("SetMember on an unknown account = %v, want ErrNoAccount", err)
	}
}
