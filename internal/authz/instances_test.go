package authz_test

import (
	"net/netip"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/device"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// TestRevokedOnOneInstanceRefusedOnAnother runs two instances (two full
// stacks, each with its own pool, caches and listener) on one PostgreSQL
// schema, with caches that believe an entry for a minute, so that only
// the fan-out can make B see in time what A changed. For each kind of
// revocation it warms B's caches with the credential, makes the change
// through A, and asks B again and again until B refuses, reporting how
// long that took. The refusal must come long before the cache age; the
// issue's goal is 100 ms.
func TestRevokedOnOneInstanceRefusedOnAnother(t *testing.T) {
	url := storetest.PostgresURL(t)
	stA, stB := storetest.OpenPostgres(t, url), storetest.OpenPostgres(t, url)
	const cacheAge = time.Minute
	a := buildStack(t, stA, stA, cacheAge)
	a.seed(t, stA)
	b := buildStack(t, stB, stB, cacheAge)

	tg, err := authz.ParseTarget(&authz.Forwarded{OriginalMethod: "POST", OriginalURL: "http://live.localhost/api/orders"})
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("127.0.0.1")
	newKey := func(name string) string {
		iss, err := a.keys.Create(ctx, authz.Actor{}, "ACC-L", apikey.Request{Name: name, Scopes: []string{"orders:read", "orders:write"}, AllowIPs: []string{"127.0.0.0/8"}})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Secret
	}
	byKey := func(secret string) *authz.Request {
		return &authz.Request{Target: tg, Client: client, Authorization: "Bearer " + secret}
	}
	byCookie := func(tok string) *authz.Request { return &authz.Request{Target: tg, Client: client, Cookie: tok} }

	revokedKey := newKey("revoked")
	frozenKey := newKey("frozen")
	ended := newBenchSession(t, stA, a.userID, session.Web, "ses_ended", "")
	lowered := newBenchSession(t, stA, a.userID, session.Web, "ses_lowered", "")
	now := time.Now().UTC()
	if err := stA.CreateDevice(ctx, &device.Device{ID: "dev_1", UserID: a.userID, Interface: "web", Fingerprint: "cookie:01", Status: device.Trusted, CreatedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	tokD, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := stA.CreateSession(ctx, &session.Session{ID: "ses_on_dev", UserID: a.userID, Door: session.Web, TokenHash: token.Hash(tokD), DeviceID: "dev_1", Assurance: session.AAL2,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: 15 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		req    *authz.Request
		change func() error
	}{
		{"KeyRevoked", byKey(revokedKey), func() error {
			k, _, err := a.keys.Resolve(ctx, mustParseKey(t, revokedKey), client)
			if err != nil {
				return err
			}
			_, err = a.keys.Revoke(ctx, authz.Actor{}, "ACC-L", k.ID)
			return err
		}},
		{"SessionRevoked", byCookie(ended), func() error {
			return stA.EndSession(ctx, "ses_ended", time.Now(), session.EndRevoked)
		}},
		{"FactorRemoved", byCookie(lowered), func() error {
			// What login.Service.RemoveFactor does to the sessions that
			// proved the removed factor: AAL1, which this route refuses.
			return stA.LowerSession(ctx, "ses_lowered", "pwd")
		}},
		{"DeviceRevoked", byCookie(tokD), func() error {
			// What login.Service does to a revoked device's sessions.
			_, err := stA.EndSessionsOfDevice(ctx, "dev_1", time.Now(), session.EndRevoked)
			return err
		}},
		{"KeySuspendedByFreeze", byKey(frozenKey), func() error {
			k, _, err := a.keys.Resolve(ctx, mustParseKey(t, frozenKey), client)
			if err != nil {
				return err
			}
			_, err = stA.FreezeKeysOf(ctx, k.CreatedBy, time.Now())
			return err
		}},
		{"UserFrozen", byCookie(a.token), func() error {
			return stA.FreezeUser(ctx, a.userID, time.Now(), "link")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if res, err := b.svc.Authorize(ctx, c.req); err != nil || !res.Allow {
				t.Fatalf("B before the change: %v, %v; want allowed", res.Kind, err)
			}
			if err := c.change(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			deadline := start.Add(5 * time.Second) // far below the cache age
			for {
				res, err := b.svc.Authorize(ctx, c.req)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Allow {
					t.Logf("B refused %v after the change on A", time.Since(start))
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("B still allows it %v after the change on A (cache age %v)", time.Since(start), cacheAge)
				}
			}
		})
	}
}

// mustParseKey parses an API key's secret.
func mustParseKey(t *testing.T, secret string) apikey.Parsed {
	t.Helper()
	p, err := apikey.Parse(secret)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
