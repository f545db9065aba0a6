package login_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/login"
	"gatehouse/internal/password"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

var ctx = context.Background()

// clock is the injected time of a fixture; tests move it on.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a login.Service over a real SQLite store, counted, with the
// default configuration's policies and a clock the test holds.
type fixture struct {
	st     store.Store
	count  *countingStore
	svc    *login.Service
	clock  *clock
	hasher *password.Hasher
	texts  *texts
	cookie string // a test's trusted browser, when it keeps one here
}

// texts keeps the SMS messages sent, as a phone would receive them.
type texts struct {
	mu   sync.Mutex
	sent []string
}

func (s *texts) Send(_ context.Context, to, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, body)
	return nil
}

func (s *texts) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == 0 {
		return ""
	}
	return s.sent[len(s.sent)-1]
}

const pw = "correct horse battery staple"

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := storetest.SQLite(t)
	cs := newCountingStore(st)
	clk := &clock{t: storetest.T0}
	// Cheap hashing: these tests check the flow, not argon2id's cost.
	hasher := &password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	key := sha256.Sum256([]byte("gatehouse login test seed key"))
	box, err := seal.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	sent := &texts{}
	factors := login.Factors{Seal: box, Issuer: "gatehouse", SMS: sent, Origin: "http://localhost",
		FlowLifetime: cfg.Factors.FlowLifetime, PushLifetime: cfg.Factors.PushLifetime, MaxPendingPush: cfg.Factors.MaxPendingPush,
		StepUpWindow: cfg.Factors.StepUpWindow, Throttle: cfg.Throttle.Factor, GuessNotice: cfg.Throttle.FactorNotice,
		Policy: map[user.Profile]login.FactorPolicy{}}
	for p, pp := range cfg.Factors.Policy {
		factors.Policy[p] = login.FactorPolicy{Forbid: pp.Forbid, MinAssurance: pp.MinAssurance}
	}
	svc := &login.Service{Store: cs, Hasher: hasher, Rules: password.DefaultRules(), Throttle: throttle.DefaultPolicy(),
		Lifetimes: session.DefaultLifetimes(), Factors: factors, Log: slog.New(slog.DiscardHandler), Now: clk.Now}
	return &fixture{st: st, count: cs, svc: svc, clock: clk, hasher: hasher, texts: sent}
}

// addUser stores a user with the password pw.
func (f *fixture) addUser(t testing.TB, name string, prof user.Profile) *user.User {
	t.Helper()
	h, err := f.hasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	u := &user.User{ID: "usr_" + name, Username: name, Email: name + "@example.com", Profile: prof, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// webLogin is a browser's password login; cookie is its device cookie.
func webLogin(name, password, cookie string) login.Request {
	return login.Request{Username: name, Password: password, Door: session.Web, DeviceCookie: cookie,
		IP: netip.MustParseAddr("192.0.2.10"), UserAgent: "Firefox"}
}

// keyLogin is a desktop or mobile login proving the key jkt.
func keyLogin(name, password string, iface session.Door, jkt string) login.Request {
	return login.Request{Username: name, Password: password, Door: iface, JKT: jkt, DeviceName: "Desk",
		IP: netip.MustParseAddr("192.0.2.20"), UserAgent: "gatehouse-desktop"}
}

// mustLogin logs in and fails the test on an error.
func (f *fixture) mustLogin(t testing.TB, req login.Request) *login.Result {
	t.Helper()
	r, err := f.svc.Login(ctx, req)
	if err != nil {
		t.Fatalf("Login(%s, %s) = %v", req.Username, req.Door, err)
	}
	return r
}

// trustedBrowser signs u in once from a browser with no second factor, so
// that browser is u's first (trusted) device, and returns its cookie.
func (f *fixture) trustedBrowser(t testing.TB, u *user.User) string {
	t.Helper()
	r := f.mustLogin(t, webLogin(u.Username, pw, ""))
	if r.Status != "authenticated" || r.DeviceCookie == "" {
		t.Fatalf("first login: status %q, cookie %q; want authenticated with a device cookie", r.Status, r.DeviceCookie)
	}
	return r.DeviceCookie
}

// enrolTOTP enrols and confirms a TOTP factor for u from sess and returns
// its seed and the recovery codes issued with it. The clock moves on a
// time step so a login right after needs the next code.
func (f *fixture) enrolTOTP(t testing.TB, sess *session.Session) (string, []string) {
	t.Helper()
	e, err := f.svc.Enrol(ctx, sess, factor.TOTP, "", "")
	if err != nil {
		t.Fatalf("Enrol(totp) = %v", err)
	}
	c, err := f.svc.Confirm(ctx, sess, e.Factor.ID, f.code(t, e.Secret), nil)
	if err != nil {
		t.Fatalf("Confirm(totp) = %v", err)
	}
	f.clock.Add(totp.Period)
	return e.Secret, c.RecoveryCodes
}

// code is the TOTP code of seed at the fixture's time.
func (f *fixture) code(t testing.TB, seed string) string {
	t.Helper()
	c, err := totp.Code(seed, totp.Step(f.clock.Now()), 6)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withTOTP is u signed in from a trusted browser with TOTP enrolled: the
// browser's cookie, the seed and the recovery codes.
func (f *fixture) withTOTP(t testing.TB, u *user.User) (cookie, seed string, codes []string) {
	t.Helper()
	r := f.mustLogin(t, webLogin(u.Username, pw, ""))
	seed, codes = f.enrolTOTP(t, r.Session)
	return r.DeviceCookie, seed, codes
}

// events returns the types of u's audit events, oldest first.
func (f *fixture) events(t testing.TB, userID string) []string {
	t.Helper()
	es, err := f.st.AuditOfUser(ctx, userID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i].Type)
	}
	return out
}

// lastEvent returns u's newest audit event of type typ, or nil.
func (f *fixture) lastEvent(t testing.TB, userID, typ string) *audit.Event {
	t.Helper()
	es, err := f.st.AuditOfUser(ctx, userID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Type == typ {
			return e
		}
	}
	return nil
}
