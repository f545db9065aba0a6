package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/config"
	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/login"
	"gatehouse/internal/notify"
	"gatehouse/internal/password"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
	"gatehouse/internal/web"
)

var ctx = context.Background()

// The user agents of the test browsers.
const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	safariUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)

// origin is the portal's public origin in these tests.
const origin = "http://portal.example"

// clock is a settable clock shared by the services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is the portal over a real SQLite store and real services, served
// on a loopback port.
type env struct {
	st       store.Store
	svc      *login.Service
	keys     *authz.Keys
	sessions *authn.Sessions
	clock    *clock
	srv      *httptest.Server
	hasher   *password.Hasher
	texts    *textCapture
	mails    *mailCapture
}

// textCapture is an SMS sender that keeps the messages.
type textCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *textCapture) Send(_ context.Context, to, body string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, to+" "+body)
	return nil
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// code returns the code of the last text message.
func (c *textCapture) code(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 {
		t.Fatal("no text message was sent")
	}
	return sixDigits.FindString(c.msgs[len(c.msgs)-1])
}

// mailCapture is a mailer that keeps the mails. The login writes them
// into the outbox; deliver sends what is due there through it.
type mailCapture struct {
	mu      sync.Mutex
	mails   []notify.Mail
	deliver func(t *testing.T)
}

func (c *mailCapture) Send(_ context.Context, m notify.Mail) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mails = append(c.mails, m)
	return nil
}

func (c *mailCapture) last(t *testing.T) notify.Mail {
	t.Helper()
	if c.deliver != nil {
		c.deliver(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mails) == 0 {
		t.Fatal("no mail was sent")
	}
	return c.mails[len(c.mails)-1]
}

// detRand is a deterministic random stream (SHA-256 of a counter), so
// that secrets, codes and QR images in golden files are the same on
// every run. Tests only: gatehouse itself reads crypto/rand.
type detRand struct {
	mu  sync.Mutex
	n   uint64
	buf []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		if len(r.buf) == 0 {
			sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("gatehouse web test"), r.n))
			r.n++
			r.buf = sum[:]
		}
		p[i], r.buf = r.buf[0], r.buf[1:]
	}
	return len(p), nil
}

// envOption changes the services of a test env before it starts.
type envOption func(*login.Factors)

// noWebAuthn turns security keys off, as a server on an IP address has them.
func noWebAuthn(f *login.Factors) { f.WebAuthn = nil }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	st := storetest.SQLite(t)
	clk := &clock{t: storetest.T0}
	rnd := &detRand{}
	// Cheap hashing: these tests check the portal, not argon2id's cost.
	hasher := &password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	key := sha256.Sum256([]byte("gatehouse web test seed key"))
	box, err := seal.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	rp, err := webauthn.New(webauthn.Config{RPID: "localhost", Origins: []string{"http://localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	texts, mails := &textCapture{}, &mailCapture{}
	cfg := config.Default()
	factors := login.Factors{Seal: box, Issuer: "gatehouse", WebAuthn: rp, SMS: texts, MailLinks: true, Origin: origin,
		FlowLifetime: cfg.Factors.FlowLifetime, PushLifetime: cfg.Factors.PushLifetime, MaxPendingPush: cfg.Factors.MaxPendingPush,
		StepUpWindow: cfg.Factors.StepUpWindow, Throttle: cfg.Throttle.Factor, Policy: map[user.Profile]login.FactorPolicy{}}
	for p, pp := range cfg.Factors.Policy {
		factors.Policy[p] = login.FactorPolicy{Forbid: pp.Forbid, MinAssurance: pp.MinAssurance}
	}
	for _, o := range opts {
		o(&factors)
	}
	svc := &login.Service{Store: st, Hasher: hasher, Rules: password.DefaultRules(), Throttle: throttle.DefaultPolicy(),
		Lifetimes: session.DefaultLifetimes(), Factors: factors, Now: clk.Now, Rand: rnd}
	sessions := authn.New(st, time.Second, clk.Now, nil)
	keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), StepUpWindow: cfg.Factors.StepUpWindow, MaxAge: time.Second,
		Now: clk.Now, Rand: rnd})
	auth := &authn.Authenticator{Sessions: sessions, Now: clk.Now}
	h, err := web.NewHandler(web.Deps{Posture: &posturegate.Service{Store: st, Now: clk.Now}, Login: svc, Keys: keys, Auth: auth, Origin: origin, Now: clk.Now, Rand: rnd,
		ReturnHosts: []string{"localhost", "portal.localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	sender := &notify.MailSender{Mailer: mails, Seal: box, Origin: origin, Users: st}
	mails.deliver = func(t *testing.T) {
		t.Helper()
		ms, err := st.ClaimMessages(ctx, clk.Now(), time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if err := sender.Send(ctx, m); err != nil {
				t.Fatalf("deliver %s: %v", m.Event, err)
			}
			if err := st.MarkDelivered(ctx, m.ID, clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{st: st, svc: svc, keys: keys, sessions: sessions, clock: clk, srv: srv, hasher: hasher, texts: texts, mails: mails}
}

// addUser stores a user with a password, and its audit event, as the
// admin CLI does.
func (e *env) addUser(t *testing.T, name, pw string, prof user.Profile) *user.User {
	t.Helper()
	h, err := e.hasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	u := &user.User{ID: "usr_" + name, Username: name, Email: name + "@example.com", Profile: prof, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	err = e.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.UserCreated, UserID: u.ID, Actor: "admin",
			Detail: map[string]string{"username": name, "profile": string(prof)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// addSession stores a live session of u as another door would have
// minted it, and returns its token.
func (e *env) addSession(t *testing.T, u *user.User, s session.Session) string {
	t.Helper()
	tok, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	s.UserID, s.TokenHash = u.ID, token.Hash(tok)
	if s.AuthTime.IsZero() {
		s.AuthTime = s.CreatedAt
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	life := session.DefaultLifetimes()[s.Door]
	s.ExpiresAt, s.Idle = s.CreatedAt.Add(life.Absolute), life.Idle
	err = e.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateSession(ctx, &s); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: s.CreatedAt, Type: audit.SessionStarted, UserID: u.ID, Actor: u.ID, Interface: string(s.Door), IP: s.IP,
			Detail: map[string]string{"session": s.ID}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signedInBrowser is a browser holding a web session stored for u, as if
// it had signed in on a device of its own.
func (e *env) signedInBrowser(t *testing.T, u *user.User, s session.Session, ua string) *browser {
	t.Helper()
	s.Door, s.UserAgent = session.Web, ua
	tok := e.addSession(t, u, s)
	b := e.browser(ua)
	addr, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(addr, []*http.Cookie{{Name: "gatehouse_session", Value: tok}})
	return b
}

// browser is a client with a cookie jar that does not follow redirects,
// so tests see them.
type browser struct {
	e  *env
	c  *http.Client
	ua string
}

func (e *env) browser(ua string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, ua: ua, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is a response with its body read.
type answer struct {
	Code   int
	Header http.Header
	Body   string
}

// Location is where a redirect points.
func (a answer) Location() string { return a.Header.Get("Location") }

func (b *browser) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	req.Header.Set("User-Agent", b.ua)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{Code: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (b *browser) get(t *testing.T, path string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(t, req)
}

// post sends a form as a same-origin browser would.
func (b *browser) post(t *testing.T, path string, form url.Values, hdr ...string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(t, req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf returns the form token of a rendered page.
func csrf(t *testing.T, a answer) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(a.Body)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", a.Body)
	}
	return m[1]
}

// login signs in through the sign-in form and returns the answer to the post.
func (b *browser) login(t *testing.T, name, pw string) answer {
	t.Helper()
	form := b.get(t, "/login")
	return b.post(t, "/login", url.Values{"csrf": {csrf(t, form)}, "username": {name}, "password": {pw}})
}

// mustLogin signs in and fails the test unless it worked.
func (b *browser) mustLogin(t *testing.T, name, pw string) {
	t.Helper()
	if a := b.login(t, name, pw); a.Code != http.StatusSeeOther || a.Location() != "/" {
		t.Fatalf("sign-in as %s = %d → %q, want 303 → /\n%s", name, a.Code, a.Location(), a.Body)
	}
}

// sameDevice returns a new, signed-out browser on the same device: it
// holds the device cookie only.
func (b *browser) sameDevice() *browser {
	n := b.e.browser(b.ua)
	u, _ := url.Parse(b.e.srv.URL)
	n.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_device", Value: b.cookie("gatehouse_device")}})
	return n
}

// cookie returns the value of the browser's cookie name, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
