package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/config"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/flow"
	"gatehouse/internal/httpapi"
	"gatehouse/internal/login"
	"gatehouse/internal/password"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// faultyStore is the real SQLite store with one fault injected: while
// advanceTOTP is set, spending a TOTP step fails with it, in a
// transaction or not, as a database that stops answering in the middle of
// a login would.
type faultyStore struct {
	store.Store
	mu          sync.Mutex
	advanceTOTP error
}

func (s *faultyStore) fault() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advanceTOTP
}

func (s *faultyStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceTOTP = err
}

func (s *faultyStore) AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.AdvanceTOTP(ctx, factorID, step, now)
}

func (s *faultyStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(faultyTx{tx, s}) })
}

// faultyTx is a transaction of a faultyStore.
type faultyTx struct {
	store.Tx
	s *faultyStore
}

func (t faultyTx) AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error {
	if err := t.s.fault(); err != nil {
		return err
	}
	return t.Tx.AdvanceTOTP(ctx, factorID, step, now)
}

// syncBuffer is a log destination the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestStoreFailureDuringLoginAnswerIs503AndCountsNothing: when the store
// fails while a right TOTP code is being spent, the answer is 503 with
// Retry-After, logged as an error — not a 401 "replayed code" — and the
// user's throttle counters, the flow's wrong answers and the audit trail
// are as they were, so the same code works once the store is back.
func TestStoreFailureDuringLoginAnswerIs503AndCountsNothing(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	faulty := &faultyStore{Store: st}
	now := storetest.T0
	clock := func() time.Time { return now }
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	key := sha256.Sum256([]byte("gatehouse outage test seal key"))
	box, err := seal.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	factors := login.Factors{Seal: box, Issuer: "gatehouse", Origin: "http://localhost", FlowLifetime: cfg.Factors.FlowLifetime,
		StepUpWindow: cfg.Factors.StepUpWindow, Throttle: cfg.Throttle.Factor, Policy: map[user.Profile]login.FactorPolicy{}}
	for p, pp := range cfg.Factors.Policy {
		factors.Policy[p] = login.FactorPolicy{Forbid: pp.Forbid, MinAssurance: pp.MinAssurance}
	}
	hasher := &password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	svc := &login.Service{Store: faulty, Hasher: hasher, Rules: password.DefaultRules(), Throttle: throttle.DefaultPolicy(),
		Lifetimes: session.DefaultLifetimes(), Factors: factors, Log: log, Now: clock}

	// Maya, with TOTP enrolled from her first (trusted) browser.
	const pw = "correct horse battery staple"
	h, err := hasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &user.User{ID: "usr_maya", Username: "maya", Email: "maya@example.com", Profile: user.Occasional, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	first, err := svc.Login(ctx, login.Request{Username: "maya", Password: pw, Door: session.Web})
	if err != nil {
		t.Fatal(err)
	}
	e, err := svc.Enrol(ctx, first.Session, factor.TOTP, "", "")
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := totp.Code(e.Secret, totp.Step(now), 6)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := svc.Confirm(ctx, first.Session, e.Factor.ID, code(), nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(totp.Period)

	auth := &httpapi.Authenticator{Authenticator: &authn.Authenticator{Sessions: authn.New(st, time.Second, clock, nil), MaxAge: time.Minute, Now: clock}, Origin: "http://localhost"}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Posture: &posturegate.Service{Store: st, Now: clock}, Login: svc, Auth: auth, Log: log, Now: clock}))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := srv.Client()
	client.Jar = jar
	jar.SetCookies(mustURL(t, srv.URL), []*http.Cookie{{Name: auth.Cookies.Device(), Value: first.DeviceCookie}})
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := client.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := post("/v1/login", `{"username":"maya","password":"`+pw+`","interface":"web"}`)
	var started struct{ Status, Flow string }
	json.NewDecoder(resp.Body).Decode(&started)
	if resp.StatusCode != http.StatusOK || started.Status != "factor_required" {
		t.Fatalf("login = %d %+v, want 200 factor_required", resp.StatusCode, started)
	}

	counters := func() map[string]throttle.State {
		t.Helper()
		out := map[string]throttle.State{}
		for _, k := range []string{throttle.FactorKey(u.ID), throttle.AccountKey("maya"), throttle.SourceKey("127.0.0.1"), throttle.AccountSourceKey("maya", "127.0.0.1")} {
			if _, _, err := st.Reserve(ctx, k, func(s throttle.State) (throttle.State, bool) { out[k] = s; return s, false }); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	before := counters()
	eventsBefore, err := st.AuditOfUser(ctx, u.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}

	faulty.fail(errors.New("sqlite: database is locked (5) (SQLITE_BUSY)"))
	resp = post("/v1/login/"+started.Flow+"/totp", `{"code":"`+code()+`"}`)
	var p httpapi.Problem
	json.NewDecoder(resp.Body).Decode(&p)
	if got, want := resp.StatusCode, http.StatusServiceUnavailable; got != want {
		t.Fatalf("answer during a store failure = %d %+v, want %d", got, p, want)
	}
	if got, want := p.Type, "urn:gatehouse:problem:unavailable"; got != want {
		t.Errorf("problem type %q, want %q", got, want)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the 503")
	}
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "status=503") {
		t.Errorf("log %q, want the failure at level ERROR with status 503", got)
	}

	for k, b := range before {
		a := counters()[k]
		if a.Failures != b.Failures || a.NextAt.After(now) {
			t.Errorf("throttle %s after the outage: %d failures, next at %v; before: %d failures (now %v)", k, a.Failures, a.NextAt, b.Failures, now)
		}
	}
	fl, err := st.FlowByID(ctx, started.Flow)
	if err != nil {
		t.Fatal(err)
	}
	if fl.Attempts != 0 || fl.State != flow.Factor {
		t.Errorf("flow after the outage: %d wrong answers, state %v; want 0, still waiting for a factor", fl.Attempts, fl.State)
	}
	eventsAfter, err := st.AuditOfUser(ctx, u.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(eventsAfter) != len(eventsBefore) {
		t.Errorf("audit events: %d after the outage, %d before; want no factor.failed", len(eventsAfter), len(eventsBefore))
	}

	// The store is back: the same code was never spent, and signs in.
	faulty.fail(nil)
	resp = post("/v1/login/"+started.Flow+"/totp", `{"code":"`+code()+`"}`)
	var done struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&done)
	if resp.StatusCode != http.StatusOK || done.Status != "authenticated" {
		t.Errorf("the same code after the outage = %d %+v, want 200 authenticated", resp.StatusCode, done)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
