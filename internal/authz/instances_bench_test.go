package authz_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
)

// BenchmarkAuthzInstances measures what spending DPoP proofs in the
// shared store costs forward-auth, over loopback HTTP on PostgreSQL
// ($GATEHOUSE_TEST_POSTGRES_URL; skipped without it), for a desktop
// session whose every request carries a fresh proof. Three kinds, each a
// real stack (buildStack) on one database:
//
//   - one: one instance as a lone instance runs, proofs in its own
//     replay cache only (the figure to stay within 1.5 × of);
//   - one-shared: the same instance spending each proof in the store;
//   - two: two instances, each with its own pool, caches and listener,
//     spending proofs in the store, the requests alternating between
//     them as a round-robin balancer sends them.
//
// The proofs are signed before each slice, outside the timing. Kinds are
// interleaved in slices in a rotating order, as in
// BenchmarkAuthzLoopback. It reports each kind's p50, p99 and requests
// per second, and two's p99 ÷ one's (the target: ≤ 1.5):
//
//	GATEHOUSE_TEST_POSTGRES_URL=postgres://… go test ./internal/authz/ -run '^$' -bench AuthzInstances -benchtime 10x -count 3
func BenchmarkAuthzInstances(b *testing.B) {
	url := storetest.PostgresURL(b)
	stA, stB := storetest.OpenPostgres(b, url), storetest.OpenPostgres(b, url)
	one := buildStack(b, stA, nil, time.Second)
	one.seed(b, stA)
	key, err := dpop.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	tok := newBenchSession(b, stA, one.userID, session.Desktop, "ses_desk", signer.JKT())
	shared := buildStack(b, stA, stA, time.Second)
	twoA, twoB := buildStack(b, stA, stA, time.Second), buildStack(b, stB, stB, time.Second)

	kinds := []struct {
		name string
		urls []string
		lat  []time.Duration
		took time.Duration
	}{
		{name: "one", urls: []string{serveLoopback(b, one.h) + "/v1/authz"}},
		{name: "one-shared", urls: []string{serveLoopback(b, shared.h) + "/v1/authz"}},
		{name: "two", urls: []string{serveLoopback(b, twoA.h) + "/v1/authz", serveLoopback(b, twoB.h) + "/v1/authz"}},
	}
	// proofs signs n requests, each with a proof of its own.
	proofs := func(n int) []http.Header {
		hdrs := make([]http.Header, n)
		for i := range hdrs {
			p, err := signer.Proof("POST", "http://live.localhost/api/orders", tok, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			hdrs[i] = benchTarget.Clone()
			hdrs[i].Set("Authorization", "DPoP "+tok)
			hdrs[i].Set("DPoP", p)
		}
		return hdrs
	}
	tr := &http.Transport{MaxIdleConnsPerHost: loadConns, MaxConnsPerHost: loadConns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const slice = loadRound / loadSlices
	run := func(k int, n int) []time.Duration {
		hdrs := proofs(n)
		urls := kinds[k].urls
		return loadEach(b, client, n, func(i int) (string, http.Header) { return urls[i%len(urls)], hdrs[i] })
	}
	for k := range kinds { // warm up: connections, caches, the session's first read
		run(k, 200)
	}
	b.ResetTimer()
	round := 0
	for b.Loop() {
		for range loadSlices {
			for j := range kinds {
				k := (j + round) % len(kinds)
				b.StopTimer()
				hdrs := proofs(slice)
				b.StartTimer()
				urls := kinds[k].urls
				start := time.Now()
				kinds[k].lat = append(kinds[k].lat, loadEach(b, client, slice, func(i int) (string, http.Header) { return urls[i%len(urls)], hdrs[i] })...)
				kinds[k].took += time.Since(start)
			}
			round++
		}
	}
	b.StopTimer()
	p := func(lat []time.Duration, q int) time.Duration { return lat[len(lat)*q/100] }
	for _, k := range kinds {
		slices.Sort(k.lat)
		b.ReportMetric(float64(len(k.lat))/k.took.Seconds(), k.name+"-req/s")
		b.ReportMetric(float64(p(k.lat, 50).Microseconds()), k.name+"-p50-µs")
		b.ReportMetric(float64(p(k.lat, 99).Microseconds()), k.name+"-p99-µs")
	}
	b.ReportMetric(float64(p(kinds[2].lat, 99))/float64(p(kinds[0].lat, 99)), "two/one-p99")
	b.ReportMetric(float64(p(kinds[1].lat, 99))/float64(p(kinds[0].lat, 99)), "one-shared/one-p99")
	b.ReportMetric(0, "ns/op")
}
