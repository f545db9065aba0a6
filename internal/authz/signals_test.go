package authz_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/factor"

	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/playbook"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
)

// TestSignalsInForwardAuth: a signal's rules hold in forward-auth from
// its application to its close, on both stores: re-authentication on a
// door (sessions authenticated before the application step up; the
// others and other doors pass), a route's raised assurance, and reading
// only for a user who owes a security key past the deadline.
func TestSignalsInForwardAuth(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixtureOn(t, b.open(t))
			inForce := &signal.InForce{List: f.st.ListSignals}
			sessions := authn.New(f.st, maxAge, f.clock.Now, nil)
			svc := authz.New(authz.Config{Rules: policy.ReferenceRules(), Keys: f.keys, Sessions: sessions, Members: f.st, Signals: inForce,
				Replay: &dpop.ReplayCache{Window: time.Minute}, DPoPMaxAge: time.Minute, MaxAge: maxAge, Now: f.clock.Now})
			d := &decider{fixture: f, svc: svc, sessions: sessions}
			pb := &playbook.Service{Store: f.st, InForce: inForce, Now: f.clock.Now}
			add := func(title string, doors []string, steps ...string) *signal.Signal {
				t.Helper()
				var ss []signal.Step
				for _, s := range steps {
					st, err := signal.ParseStep(s)
					if err != nil {
						t.Fatal(err)
					}
					ss = append(ss, st)
				}
				sig, err := pb.Add(ctx, &signal.Signal{Title: title, Kind: signal.Vulnerability, Severity: signal.High, Doors: doors, Steps: ss}, "admin")
				if err != nil {
					t.Fatal(err)
				}
				return sig
			}
			orders := target("POST", "http://live.localhost/api/orders")
			read := target("GET", "http://live.localhost/api/orders")
			oldWeb, _ := d.newSession(t, d.trader, session.Web, session.AAL2, "")
			kind := func(tok string, tg authz.Target) policy.Kind {
				t.Helper()
				return d.ask(t, authz.Request{Target: tg, Cookie: tok}).Kind
			}
			if k := kind(oldWeb, orders); k != policy.Allowed {
				t.Fatalf("before any signal: %v", k)
			}

			reauth := add("Phishing kit copies the portal", []string{"web"}, "reauth:aal2")
			if k := kind(oldWeb, orders); k != policy.Allowed {
				t.Errorf("a signal recorded but not applied: %v, want allowed", k)
			}
			f.clock.Add(time.Minute)
			if _, err := pb.Apply(ctx, reauth.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			res := d.ask(t, authz.Request{Target: orders, Cookie: oldWeb})
			if res.Kind != policy.StepUp || res.Signal == nil || res.Signal.Title != reauth.Title {
				t.Errorf("a web session from before the reauth signal: %v %+v, want step-up naming the signal", res.Kind, res.Signal)
			}
			f.clock.Add(time.Minute)
			newWeb, _ := d.newSession(t, d.trader, session.Web, session.AAL2, "")
			if k := kind(newWeb, orders); k != policy.Allowed {
				t.Errorf("a web session authenticated since: %v, want allowed", k)
			}

			route := add("Transfers fraud wave", nil, "route-aal:live.localhost/api/orders=3")
			if _, err := pb.Apply(ctx, route.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			res = d.ask(t, authz.Request{Target: orders, Cookie: newWeb})
			if res.Kind != policy.StepUp || res.Signal == nil || res.Signal.AAL != session.AAL3 {
				t.Errorf("an AAL2 session on a route a signal raised to AAL3: %v %+v", res.Kind, res.Signal)
			}
			strongWeb, _ := d.newSession(t, d.trader, session.Web, session.AAL3, "")
			if k := kind(strongWeb, orders); k != policy.Allowed {
				t.Errorf("an AAL3 session there: %v, want allowed", k)
			}
			for _, sig := range []*signal.Signal{reauth, route} {
				if _, err := pb.Close(ctx, sig.ID, "admin"); err != nil {
					t.Fatal(err)
				}
			}
			if k := kind(oldWeb, orders); k != policy.Allowed {
				t.Errorf("after the signals closed: %v, want allowed again", k)
			}

			deadline := f.clock.Now().Add(24 * time.Hour).Format(time.DateOnly)
			pr := add("Security keys for everyone", nil, "require-phishing-resistant:"+deadline)
			if _, err := pb.Apply(ctx, pr.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			if k := kind(oldWeb, orders); k != policy.Allowed {
				t.Errorf("before the deadline: %v, want allowed", k)
			}
			f.clock.Add(48 * time.Hour)
			oldWeb, _ = d.newSession(t, d.trader, session.Web, session.AAL2, "") // the first is past its idle end
			res = d.ask(t, authz.Request{Target: orders, Cookie: oldWeb})
			if res.Kind != policy.Forbidden || res.Signal == nil || !res.Signal.ReadOnly {
				t.Errorf("a write by a user without a security key past the deadline: %v %+v, want forbidden, read-only", res.Kind, res.Signal)
			}
			if k := kind(oldWeb, read); k != policy.Allowed {
				t.Errorf("a read by the same user: %v, want allowed", k)
			}

			// A key must not carry past the signal what the session
			// could not do: no live key for the user who owes a
			// security key, until they enrol one.
			f.keys.UseSignals(inForce)
			mint := func() error {
				_, err := f.keys.Create(ctx, f.session(f.owner, session.AAL2, f.clock.Now()), "ACC-L", apikey.Request{Name: "bot", Scopes: []string{"orders:read", "orders:write"}})
				return err
			}
			if err := mint(); !errors.Is(err, authz.ErrSignalReadOnly) || !strings.Contains(err.Error(), pr.Title) {
				t.Errorf("a live key for a user owing a security key past the deadline: %v, want ErrSignalReadOnly naming the signal", err)
			}
			if _, err := f.keys.Create(ctx, f.session(f.owner, session.AAL2, f.clock.Now()), "ACC-P", apikey.Request{Name: "paper bot", Scopes: []string{"orders:read", "orders:write"}}); err != nil {
				t.Errorf("a paper key meanwhile: %v, want made", err)
			}
			if err := f.st.CreateFactor(ctx, &factor.Factor{ID: "fac_key", UserID: f.owner.ID, Kind: factor.WebAuthn, Status: factor.Active, CredentialID: []byte("cred-owner"),
				CreatedAt: f.clock.Now(), ConfirmedAt: f.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := mint(); err != nil {
				t.Errorf("a live key once a security key is enrolled: %v", err)
			}
			// A reauth:aal3 signal: a live key needs AAL3 since it.
			if _, err := pb.Close(ctx, pr.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(time.Minute)
			strong := add("Session theft on the portal", nil, "reauth:aal3")
			if _, err := pb.Apply(ctx, strong.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			var su *session.StepUpError
			if err := mint(); !errors.As(err, &su) || su.Need != session.AAL3 {
				t.Errorf("a live key from an AAL2 session under reauth:aal3: %v, want a step-up to AAL3", err)
			}
		})
	}
}
