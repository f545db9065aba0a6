package authz_test

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
)

// BenchmarkRevocationPropagation measures how long a revocation committed
// on instance A takes to be refused on instance B, on PostgreSQL
// ($GATEHOUSE_TEST_POSTGRES_URL; skipped without it): two real stacks
// (buildStack) on one database, each with its own pool, caches and
// listener, the caches believing an entry for a minute so that only the
// NOTIFY fan-out can explain a refusal within it. While two goroutines
// keep B busy with a credential that stays valid, each iteration
// revokes on A, alternately, a web session (ended) and an API key
// (revoked) that B has just allowed, and then asks B about it in a loop
// until B refuses; the time from A's commit returning to B's first
// refusal is one sample. It reports p50, p99 and the maximum:
//
//	GATEHOUSE_TEST_POSTGRES_URL=postgres://… go test ./internal/authz/ -run '^$' -bench RevocationPropagation -benchtime 300x
func BenchmarkRevocationPropagation(b *testing.B) {
	url := storetest.PostgresURL(b)
	stA, stB := storetest.OpenPostgres(b, url), storetest.OpenPostgres(b, url)
	const cacheAge = time.Minute
	a := buildStack(b, stA, stA, cacheAge)
	a.seed(b, stA)
	nodeB := buildStack(b, stB, stB, cacheAge)
	tg, err := authz.ParseTarget(&authz.Forwarded{OriginalMethod: "POST", OriginalURL: "http://live.localhost/api/orders"})
	if err != nil {
		b.Fatal(err)
	}
	client := netip.MustParseAddr("127.0.0.1")

	// The load on B: the seeded session, which stays valid.
	stop := make(chan struct{})
	var load sync.WaitGroup
	var served atomic.Int64
	for range 2 {
		load.Go(func() {
			req := &authz.Request{Target: tg, Client: client, Cookie: a.token}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := nodeB.svc.Authorize(ctx, req); err != nil {
					b.Error(err)
					return
				}
				served.Add(1)
			}
		})
	}
	defer func() { close(stop); load.Wait() }()

	lat := make([]time.Duration, 0, b.N)
	byKind := [2][]time.Duration{} // sessions, keys
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		var req *authz.Request
		var revoke func() error
		if i%2 == 0 {
			id := fmt.Sprintf("ses_p%04d", i)
			tok := newBenchSession(b, stA, a.userID, session.Web, id, "")
			req = &authz.Request{Target: tg, Client: client, Cookie: tok}
			revoke = func() error { return stA.EndSession(ctx, id, time.Now(), session.EndRevoked) }
		} else {
			iss, err := a.keys.Create(ctx, authz.Actor{}, "ACC-L", apikey.Request{Name: fmt.Sprintf("p%04d", i), Scopes: []string{"orders:read", "orders:write"}, AllowIPs: []string{"127.0.0.0/8"}})
			if err != nil {
				b.Fatal(err)
			}
			req = &authz.Request{Target: tg, Client: client, Authorization: "Bearer " + iss.Secret}
			keyID := iss.Key.ID
			revoke = func() error { _, err := a.keys.Revoke(ctx, authz.Actor{}, "ACC-L", keyID); return err }
		}
		if res, err := nodeB.svc.Authorize(ctx, req); err != nil || !res.Allow {
			b.Fatalf("B before the revocation: %v, %v; want allowed", res.Kind, err)
		}
		b.StartTimer()
		if err := revoke(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			res, err := nodeB.svc.Authorize(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if !res.Allow {
				break
			}
			if time.Since(start) > cacheAge/2 {
				b.Fatalf("B still allows the credential %v after A revoked it", time.Since(start))
			}
		}
		took := time.Since(start)
		lat = append(lat, took)
		byKind[i%2] = append(byKind[i%2], took)
	}
	b.StopTimer()
	pct := func(lat []time.Duration, p float64) float64 {
		slices.Sort(lat)
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	if len(byKind[1]) > 0 {
		b.ReportMetric(pct(byKind[0], 0.99), "session-p99-ms")
		b.ReportMetric(pct(byKind[1], 0.99), "key-p99-ms")
	}
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(lat)), "revocations")
	b.ReportMetric(float64(served.Load()), "load-requests")
}
