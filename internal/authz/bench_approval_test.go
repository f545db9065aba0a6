package authz_test

import (
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/httpapi"
	"gatehouse/internal/login"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// BenchmarkAuthzApproval compares, interleaved, forward-auth of one web
// session to two transfer routes alike (scope transfers:write, so both
// make the cool-down check a transfer route makes) but for approval:
// required on the second, the request to it carrying a fresh token, through the API handler
// serve builds over a real SQLite store. Each round makes, untimed, an
// approved approval and its token, then times the two requests in
// alternating order. It reports the median of each and their ratio, and
// the medians of the token's costs alone: Use of a token this instance
// signed (its claims known, the single-use claim in memory; the record,
// the approval moved to used with its audit event, is written off the
// request's path), the MAC check Use makes of a token another instance
// signed, and the ES256 signature check an upstream makes, for
// comparison.
//
// It runs on SQLite and, with GATEHOUSE_TEST_POSTGRES_URL, on
// PostgreSQL, where serve passes the store as Shared: the claim is then
// one used_once upsert on the request's path, a round trip.
//
//	go test ./internal/authz/ -run '^$' -bench AuthzApproval -benchtime 2000x
func BenchmarkAuthzApproval(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) { benchAuthzApproval(b, storetest.SQLite(b), false) })
	b.Run("PostgreSQL", func(b *testing.B) { benchAuthzApproval(b, storetest.Postgres(b), true) })
}

// benchAuthzApproval is BenchmarkAuthzApproval on st, built as serve
// builds it: shared says several instances may serve st.
func benchAuthzApproval(b *testing.B, st store.Store, shared bool) {
	storetest.NewAccount(b, st, "ACC-L", account.Live)
	u := storetest.NewUser(b, st, "trent")
	if err := st.AddMember(ctx, &account.Membership{UserID: u.ID, AccountID: "ACC-L", Role: account.Owner, CreatedAt: storetest.T0}); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tok, _ := token.New(nil, 32)
	now := time.Now().UTC()
	sess := &session.Session{ID: "ses_bench", UserID: u.ID, Door: session.Web, TokenHash: token.Hash(tok), Assurance: session.AAL2,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: time.Hour}
	if err := st.CreateSession(ctx, sess); err != nil {
		b.Fatal(err)
	}
	specs, err := policy.ParseSpecs([]byte(`
- host: live.localhost
  methods: [POST]
  path: /api/transfers/direct
  scopes: [transfers:write]
- host: live.localhost
  methods: [POST]
  path: /api/transfers
  scopes: [transfers:write]
  approval: required
  approval_kind: transfer
`))
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := approval.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "http://localhost")
	// As serve builds it: on SQLite one instance, the claim in memory; on
	// PostgreSQL the claim in used_once too.
	cfg := authz.ApprovalsConfig{Store: st, Signer: signer, MaxPending: 1 << 30, OneInstance: !shared}
	if shared {
		cfg.Shared = st
	}
	appr := authz.NewApprovals(cfg)
	b.Cleanup(appr.Close)
	// Tokens of approvals decided in the second the flow began are spent
	// in the store on the request's path (an instance before a restart
	// may have accepted them); the benchmark measures the others.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), MaxAge: time.Second, Log: log})
	sessions := authn.New(st, time.Second, nil, log)
	watch := authn.NewWatcher(st, 0, sessions, keys.Forget, log)
	svc := authz.New(authz.Config{Rules: policy.MustCompile(specs), Keys: keys, Sessions: sessions, Members: st, Watch: watch,
		Replay: &dpop.ReplayCache{Window: time.Minute}, DPoPMaxAge: time.Minute, MaxAge: time.Second, Approvals: appr})
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	auth := &httpapi.Authenticator{Authenticator: &authn.Authenticator{Sessions: sessions, Replay: &dpop.ReplayCache{Window: time.Minute}, MaxAge: time.Minute, Watch: watch, Now: time.Now},
		Origin: "http://localhost"}
	api := httpapi.NewHandler(httpapi.Deps{Login: &login.Service{}, Auth: auth, Proxies: loopback, LoginReplay: &dpop.ReplayCache{Window: time.Minute},
		Log: log, Metrics: httpapi.NewMetrics(prometheus.NewRegistry()), Now: time.Now, Keys: keys, Authz: svc, Approvals: appr})

	plain := http.Header{"X-Original-Method": {"POST"}, "X-Original-Url": {"http://live.localhost/api/transfers/direct"}, "Cookie": {"gatehouse_session=" + tok}}
	with := http.Header{"X-Original-Method": {"POST"}, "X-Original-Url": {"http://live.localhost/api/transfers"}, "Cookie": {"gatehouse_session=" + tok}}
	ask := func(h http.Header) (time.Duration, int) {
		r, _ := http.NewRequest("GET", "/v1/authz", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header = h
		w := &sink{hdr: http.Header{}}
		t0 := time.Now()
		api.ServeHTTP(w, r)
		return time.Since(t0), w.status
	}
	var tPlain, tWith, tCheck, tVerify, tUse []time.Duration
	details := []byte(`{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000"}}`)
	i := 0
	for b.Loop() {
		// Untimed: two approved approvals and their tokens, one for the
		// request, one for the costs alone.
		b.StopTimer()
		var toks [2]string
		for j := range toks {
			a, err := appr.Create(ctx, authz.Requester{Session: sess}, "ACC-L", approval.Transfer, details)
			if err != nil {
				b.Fatal(err)
			}
			if err := st.DecideApproval(ctx, a.ID, approval.Approved, "fac_1", "push", 2, time.Now().UTC()); err != nil {
				b.Fatal(err)
			}
			a.DecidedAt = time.Now().UTC()
			a.AAL, a.FactorKind, a.FactorID = 2, "push", "fac_1"
			if toks[j], err = appr.Token(a); err != nil {
				b.Fatal(err)
			}
		}
		with.Set(policy.ApprovalHeader, toks[0])
		b.StartTimer()
		first, second := plain, with
		if i%2 == 1 {
			first, second = with, plain
		}
		d1, s1 := ask(first)
		d2, s2 := ask(second)
		if s1 != http.StatusOK || s2 != http.StatusOK {
			b.Fatalf("forward-auth answered %d and %d", s1, s2)
		}
		if i%2 == 1 {
			d1, d2 = d2, d1
		}
		tPlain, tWith = append(tPlain, d1), append(tWith, d2)

		t0 := time.Now()
		if _, err := signer.Verify(toks[1], time.Now()); err != nil {
			b.Fatal(err)
		}
		tVerify = append(tVerify, time.Since(t0))
		t0 = time.Now()
		if _, err := signer.Check(toks[1], time.Now()); err != nil {
			b.Fatal(err)
		}
		tCheck = append(tCheck, time.Since(t0))
		t0 = time.Now()
		if _, err := appr.Use(ctx, toks[1], authz.Binding{UserID: u.ID, AccountID: "ACC-L", Kind: approval.Transfer}); err != nil {
			b.Fatal(err)
		}
		tUse = append(tUse, time.Since(t0))
		i++
	}
	med := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2]) / 1e3
	}
	mp, mw := med(tPlain), med(tWith)
	b.ReportMetric(mp, "without-us/median")
	b.ReportMetric(mw, "with-us/median")
	b.ReportMetric(mw/mp, "with/without")
	b.ReportMetric(med(tCheck), "check-us/median")
	b.ReportMetric(med(tVerify), "verify-us/median")
	b.ReportMetric(med(tUse), "use-us/median")
}
