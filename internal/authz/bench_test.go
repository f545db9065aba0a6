package authz_test

// The measured part of forward-auth: docs/benchmarks.md ("Forward-auth")
// says how to run these and records a run. They run only under -bench.
//
// Both benchmarks use the handler that serve builds: server.Handler
// around the API, with its headers, cross-origin protection, metrics and
// logging adapter, over a real SQLite store, with the last-used and
// last-seen batchers running as in production.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/httpapi"
	"gatehouse/internal/login"
	"gatehouse/internal/policy"
	"gatehouse/internal/server"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// benchStack is gatehouse's HTTP stack with one live trading key and one
// web session of a trader on the live account.
type benchStack struct {
	h                http.Handler // server.Handler: what serve serves
	api              http.Handler // the API mux inside it
	keyHdr           http.Header  // forward-auth of POST live.localhost/api/orders with the key
	cookHdr          http.Header  // the same with the session cookie
	sessions         *authn.Sessions
	svc              *authz.Service
	keys             *authz.Keys
	userID           string
	keySecret, token string
}

func newBenchStack(b *testing.B) *benchStack {
	b.Helper()
	st := storetest.SQLite(b)
	s := buildStack(b, st, nil, time.Second)
	s.seed(b, st)
	return s
}

// buildStack wires gatehouse's HTTP stack over st as serve does, with the
// batchers running until b ends; shared is where DPoP proofs are spent
// beyond the instance's own caches (nil: nowhere, as on SQLite). Several
// stacks on one PostgreSQL database are several instances. The caches
// believe an entry for maxAge.
func buildStack(b testing.TB, st store.Store, shared store.Once, maxAge time.Duration) *benchStack {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), StepUpWindow: 5 * time.Minute, MaxAge: maxAge, Log: log})
	sessions := authn.New(st, maxAge, nil, log)
	// As serve wires it: the revocation log is read at most every 2 ms.
	watch := authn.NewWatcher(st, 0, sessions, keys.Forget, log)
	svc := authz.New(authz.Config{Rules: policy.ReferenceRules(), Keys: keys, Sessions: sessions, Members: st, Watch: watch,
		Replay: &dpop.ReplayCache{Window: time.Minute}, Shared: shared, DPoPMaxAge: time.Minute, MaxAge: maxAge})
	reg := prometheus.NewRegistry()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	auth := &httpapi.Authenticator{Authenticator: &authn.Authenticator{Sessions: sessions, Replay: &dpop.ReplayCache{Window: time.Minute}, Shared: shared, MaxAge: time.Minute, Watch: watch, Now: time.Now},
		Origin: "http://localhost"}
	deps := httpapi.Deps{Login: &login.Service{}, Auth: auth, Proxies: loopback, LoginReplay: &dpop.ReplayCache{Window: time.Minute},
		Log: log, Metrics: httpapi.NewMetrics(reg), Now: time.Now, Keys: keys, Authz: svc}
	api := httpapi.NewHandler(deps)
	h, err := server.Handler(server.Options{API: api, Authz: httpapi.AuthzHandler(deps, "GET /v1/authz"), Store: st, Registry: reg, Origin: "http://localhost", Log: log})
	if err != nil {
		b.Fatal(err)
	}
	watch.Users, watch.ForgetAll = svc.ForgetUsers, svc.ForgetAll
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { keys.Run(bg, time.Second) })
	wg.Go(func() { sessions.Run(bg, time.Second) })
	wg.Go(func() { watch.Run(bg) })
	b.Cleanup(func() { stop(); wg.Wait() })
	return &benchStack{h: h, api: api, sessions: sessions, svc: svc, keys: keys}
}

// benchTarget is the request forward-auth is asked about: POST
// http://live.localhost/api/orders, nginx style, from a loopback proxy.
var benchTarget = http.Header{"X-Original-Method": {"POST"}, "X-Original-Url": {"http://live.localhost/api/orders"}, "X-Forwarded-For": {"127.0.0.1"}}

// seed stores, through s, a trader on the live account ACC-L with one
// key and one web session, and sets the headers that present them.
func (s *benchStack) seed(b testing.TB, st store.Store) {
	b.Helper()
	storetest.NewAccount(b, st, "ACC-L", account.Live)
	u := storetest.NewUser(b, st, "trent")
	if err := st.AddMember(ctx, &account.Membership{UserID: u.ID, AccountID: "ACC-L", Role: account.Trader, CreatedAt: storetest.T0}); err != nil {
		b.Fatal(err)
	}
	iss, err := s.keys.Create(ctx, authz.Actor{}, "ACC-L", apikey.Request{Name: "bench", Scopes: []string{"orders:read", "orders:write"}, AllowIPs: []string{"127.0.0.0/8"}})
	if err != nil {
		b.Fatal(err)
	}
	s.userID = u.ID
	s.token = newBenchSession(b, st, u.ID, session.Web, "ses_bench", "")
	s.keySecret = iss.Secret
	s.keyHdr, s.cookHdr = benchTarget.Clone(), benchTarget.Clone()
	s.keyHdr.Set("Authorization", "Bearer "+iss.Secret)
	s.cookHdr.Set("Cookie", "gatehouse_session="+s.token)
}

// newBenchSession stores a live AAL2 session of userID and returns its
// token; jkt binds a key-bound one.
func newBenchSession(b testing.TB, st store.Store, userID string, door session.Door, id, jkt string) string {
	b.Helper()
	tok, err := token.New(nil, 32)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.CreateSession(ctx, &session.Session{ID: id, UserID: userID, Door: door, TokenHash: token.Hash(tok), JKT: jkt, Assurance: session.AAL2,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: 15 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	return tok
}

// sink is a ResponseWriter that keeps nothing but the status, reused
// across iterations, so that only the handler's own allocations count.
type sink struct {
	hdr    http.Header
	status int
}

func (s *sink) Header() http.Header         { return s.hdr }
func (s *sink) Write(p []byte) (int, error) { return len(p), nil }
func (s *sink) WriteHeader(code int)        { s.status = code }

// BenchmarkAuthzHandler calls the handler directly, without a network,
// for the cost and the allocations of one decision: "stack" is what serve
// serves (server.Handler: its mux, security headers and cross-origin
// protection around the API), "api" the API mux with the forward-auth
// route and its metrics and logging adapter.
//
//	go test ./internal/authz/ -run '^$' -bench AuthzHandler -benchmem
func BenchmarkAuthzHandler(b *testing.B) {
	s := newBenchStack(b)
	for _, layer := range []struct {
		name string
		h    http.Handler
	}{{"stack", s.h}, {"api", s.api}} {
		for _, c := range []struct {
			name string
			hdr  http.Header
		}{{"apikey", s.keyHdr}, {"session", s.cookHdr}} {
			b.Run(layer.name+"/"+c.name, func(b *testing.B) {
				r, _ := http.NewRequest("GET", "/v1/authz", nil)
				r.RemoteAddr = "127.0.0.1:40000"
				r.Header = c.hdr
				w := &sink{hdr: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.hdr)
					w.status = 0
					layer.h.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}

// BenchmarkAuthorize is the decision alone, as the handler asks it: the
// rule, the credential through its cache, the policy.
//
//	go test ./internal/authz/ -run '^$' -bench Authorize -benchmem
func BenchmarkAuthorize(b *testing.B) {
	s := newBenchStack(b)
	tg, err := authz.ParseTarget(&authz.Forwarded{OriginalMethod: "POST", OriginalURL: "http://live.localhost/api/orders"})
	if err != nil {
		b.Fatal(err)
	}
	client := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		name string
		req  authz.Request
	}{
		{"apikey", authz.Request{Target: tg, Client: client, Authorization: "Bearer " + s.keySecret}},
		{"session", authz.Request{Target: tg, Client: client, Cookie: s.token}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res, err := s.svc.Authorize(ctx, &c.req); err != nil || !res.Allow {
					b.Fatalf("Authorize = %v, %v", res.Kind, err)
				}
			}
		})
	}
}

// loadRound is how many requests one kind gets per round of
// BenchmarkAuthzLoopback, and loadConns how many connections send them.
const (
	loadRound  = 4000
	loadSlices = 8
	loadConns  = 8
)

// BenchmarkAuthzLoopback measures forward-auth over loopback HTTP/1.1
// with keep-alive, against a no-op handler served by an identical
// http.Server, driven by the same load generator in the same run. Each
// iteration is one round of loadRound requests to each of: the no-op,
// forward-auth with the key, with the session, and the no-op again (the
// A/A control). The kinds are interleaved in slices of
// loadRound/loadSlices requests, in a rotating order. It reports requests
// per second of each, the ratio of each to the no-op, and p50 and p99
// latency as the client sees it:
//
//	go test ./internal/authz/ -run '^$' -bench AuthzLoopback -benchtime 20x -count 3
func BenchmarkAuthzLoopback(b *testing.B) {
	s := newBenchStack(b)
	gh := serveLoopback(b, s.h)
	noop := serveLoopback(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))

	kinds := []struct {
		name, url string
		hdr       http.Header
		lat       []time.Duration
		elapsed   time.Duration
	}{
		{name: "noop", url: noop + "/v1/authz", hdr: s.keyHdr},
		{name: "apikey", url: gh + "/v1/authz", hdr: s.keyHdr},
		{name: "session", url: gh + "/v1/authz", hdr: s.cookHdr},
		// The no-op again: the A/A control, whose ratio to the first
		// says how far the method itself is from 1.
		{name: "noop-again", url: noop + "/v1/authz", hdr: s.keyHdr},
	}
	tr := &http.Transport{MaxIdleConnsPerHost: loadConns, MaxConnsPerHost: loadConns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	// Warm up: connections, caches, the session's first read.
	for i := range kinds {
		load(b, client, kinds[i].url, kinds[i].hdr, 200)
	}
	b.ResetTimer()
	round := 0
	for b.Loop() {
		// Interleaved in slices, in a rotating order, so that a change in
		// the machine's other load falls on every kind alike.
		for range loadSlices {
			for j := range kinds {
				k := &kinds[(j+round)%len(kinds)]
				start := time.Now()
				k.lat = append(k.lat, load(b, client, k.url, k.hdr, loadRound/loadSlices)...)
				k.elapsed += time.Since(start)
			}
			round++
		}
	}
	b.StopTimer()
	rate := func(i int) float64 { return float64(len(kinds[i].lat)) / kinds[i].elapsed.Seconds() }
	for i, k := range kinds {
		slices.Sort(k.lat)
		b.ReportMetric(rate(i), k.name+"-req/s")
		b.ReportMetric(float64(k.lat[len(k.lat)/2].Microseconds()), k.name+"-p50-µs")
		b.ReportMetric(float64(k.lat[len(k.lat)*99/100].Microseconds()), k.name+"-p99-µs")
		if i > 0 {
			b.ReportMetric(rate(i)/rate(0), k.name+"/noop")
		}
	}
	b.ReportMetric(0, "ns/op") // an iteration is a round of 3×loadRound requests; the rates say it better
}

// serveLoopback serves h on a loopback port with the settings of
// server.Serve, until b ends, and returns its URL.
func serveLoopback(b *testing.B, h http.Handler) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// load sends n GET requests to url with hdr from loadConns goroutines and
// returns each one's latency. Every answer must be 200.
func load(b *testing.B, c *http.Client, url string, hdr http.Header, n int) []time.Duration {
	return loadEach(b, c, n, func(int) (string, http.Header) { return url, hdr })
}

// loadEach sends n GET requests from loadConns goroutines, the i-th to
// the URL and with the headers that req(i) gives, and returns each one's
// latency. Every answer must be 200.
func loadEach(b *testing.B, c *http.Client, n int, req func(i int) (string, http.Header)) []time.Duration {
	lat := make([]time.Duration, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range loadConns {
		wg.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				url, hdr := req(j)
				r, _ := http.NewRequest("GET", url, nil)
				r.Header = hdr
				start := time.Now()
				resp, err := c.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[j] = time.Since(start)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("%s: status %d", url, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return lat
}
