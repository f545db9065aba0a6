package authn_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// clock is a settable time source.
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

const (
	idle = 10 * time.Minute
	me   = "https://gatehouse.example/v1/me"
)

// desk is a desktop session bound to a device key, with the
// authenticator of an API door in front of it.
type desk struct {
	st       store.Store
	clock    *clock
	sessions *authn.Sessions
	auth     *authn.Authenticator
	signer   *dpop.Signer
	tok      string
	s        *session.Session
}

func newDesk(t *testing.T) *desk {
	t.Helper()
	st := storetest.SQLite(t)
	u := storetest.NewUser(t, st, "dana")
	clk := &clock{t: storetest.T0}
	signer := newSigner(t)
	tok, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	s := &session.Session{ID: "ses_desk", UserID: u.ID, Door: session.Desktop, TokenHash: token.Hash(tok), JKT: signer.JKT(), Assurance: session.AAL2,
		AuthTime: clk.Now(), CreatedAt: clk.Now(), LastSeenAt: clk.Now(), ExpiresAt: clk.Now().Add(12 * time.Hour), Idle: idle}
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	sessions := authn.New(st, time.Second, clk.Now, nil)
	// Proofs live an hour here, so that a replayed one is refused as a
	// replay, not as stale, for the whole idle timeout.
	auth := &authn.Authenticator{Sessions: sessions, Replay: &dpop.ReplayCache{Window: time.Hour}, MaxAge: time.Hour, Now: clk.Now}
	return &desk{st: st, clock: clk, sessions: sessions, auth: auth, signer: signer, tok: tok, s: s}
}

func newSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// proven is a request of GET url with the desk's token and a proof that
// signer made now for tok.
func (d *desk) proven(t *testing.T, signer *dpop.Signer, url, tok string) *authn.Credential {
	t.Helper()
	p, err := signer.Proof("GET", url, tok, d.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &authn.Credential{Authorization: "DPoP " + d.tok, DPoP: p, DPoPCount: 1, Method: "GET", URL: me}
}

// TestRefusedRequestsDoNotExtendSession sends, for longer than the idle
// timeout, requests that hold the token but fail a check after the
// session was found, and then an honest one: the session has idled out,
// as if the refused requests had never come, and the store says so.
// AcceptedRequestsExtendIt is the control: the same rhythm of honest
// requests keeps the session alive.
func TestRefusedRequestsDoNotExtendSession(t *testing.T) {
	tests := []struct {
		name    string
		request func(t *testing.T, d *desk, first *authn.Credential) *authn.Credential
		refused bool
	}{
		{"BoundTokenAsCookie", func(t *testing.T, d *desk, _ *authn.Credential) *authn.Credential {
			return &authn.Credential{Cookie: d.tok}
		}, true},
		{"WrongKey", func(t *testing.T, d *desk, _ *authn.Credential) *authn.Credential {
			return d.proven(t, newSigner(t), me, d.tok)
		}, true},
		{"ReplayedProof", func(t *testing.T, d *desk, first *authn.Credential) *authn.Credential {
			return first
		}, true},
		{"ProofForAnotherURL", func(t *testing.T, d *desk, _ *authn.Credential) *authn.Credential {
			return d.proven(t, d.signer, "https://gatehouse.example/v1/sessions", d.tok)
		}, true},
		{"ProofForAnotherToken", func(t *testing.T, d *desk, _ *authn.Credential) *authn.Credential {
			return d.proven(t, d.signer, me, "another-token")
		}, true},
		{"AcceptedRequestsExtendIt", func(t *testing.T, d *desk, _ *authn.Credential) *authn.Credential {
			return d.proven(t, d.signer, me, d.tok)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDesk(t)
			first := d.proven(t, d.signer, me, d.tok)
			if _, err := d.auth.Authenticate(ctx, first); err != nil {
				t.Fatalf("first, honest request: %v", err)
			}
			// A request every minute, twice (the second finds the
			// session in the cache), past the idle timeout.
			for range idle/time.Minute + 2 {
				d.clock.Add(time.Minute)
				for range 2 {
					_, err := d.auth.Authenticate(ctx, tt.request(t, d, first))
					if refused := errors.Is(err, authn.ErrUnauthenticated); refused != tt.refused || (err != nil && !refused) {
						t.Fatalf("at %v: Authenticate = %v, want refused %v", d.clock.Now().Sub(storetest.T0), err, tt.refused)
					}
				}
				if err := d.sessions.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			_, err := d.auth.Authenticate(ctx, d.proven(t, d.signer, me, d.tok))
			stored, serr := d.st.SessionByID(ctx, d.s.ID)
			if serr != nil {
				t.Fatal(serr)
			}
			if !tt.refused {
				if err != nil || !stored.EndedAt.IsZero() {
					t.Errorf("honest requests every minute: Authenticate = %v, ended %v %q; want a live session", err, stored.EndedAt, stored.EndReason)
				}
				return
			}
			if !errors.Is(err, authn.ErrUnauthenticated) {
				t.Errorf("honest request after %v of refused ones = %v, want the session idled out", idle, err)
			}
			if stored.EndedAt.IsZero() || stored.EndReason != session.EndIdle || !stored.LastSeenAt.Equal(storetest.T0) {
				t.Errorf("stored session: ended %v, reason %q, last seen %v; want ended idle, last seen at %v", stored.EndedAt, stored.EndReason, stored.LastSeenAt, storetest.T0)
			}
		})
	}
}

// TestAuthenticateDoors checks each credential reaches only its own door:
// a web token as a cookie, a key-bound one with its proof.
func TestAuthenticateDoors(t *testing.T) {
	d := newDesk(t)
	webTok, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	now := d.clock.Now()
	web := &session.Session{ID: "ses_web", UserID: d.s.UserID, Door: session.Web, TokenHash: token.Hash(webTok), Assurance: session.AAL2,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: idle}
	if err := d.st.CreateSession(ctx, web); err != nil {
		t.Fatal(err)
	}
	webProof, err := d.signer.Proof("GET", me, webTok, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    *authn.Credential
		want string // session id, or "" for a refusal
		why  error
	}{
		{"WebCookie", &authn.Credential{Cookie: webTok}, web.ID, nil},
		{"DPoP", d.proven(t, d.signer, me, d.tok), d.s.ID, nil},
		{"DesktopTokenAsCookie", &authn.Credential{Cookie: d.tok}, "", authn.ErrWrongDoor},
		{"WebTokenWithProof", &authn.Credential{Authorization: "DPoP " + webTok, DPoP: webProof, DPoPCount: 1, Method: "GET", URL: me}, "", authn.ErrWrongDoor},
		{"BearerScheme", &authn.Credential{Authorization: "Bearer " + d.tok}, "", authn.ErrScheme},
		{"TwoProofs", &authn.Credential{Authorization: "DPoP " + d.tok, DPoP: "x", DPoPCount: 2, Method: "GET", URL: me}, "", authn.ErrProofCount},
		{"Nothing", &authn.Credential{}, "", authn.ErrNoCredential},
		{"AuthorizationWinsOverCookie", &authn.Credential{Cookie: webTok, Authorization: "Bearer x"}, "", authn.ErrScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := d.auth.Authenticate(ctx, tt.c)
			if tt.want != "" {
				if err != nil || s.ID != tt.want {
					t.Errorf("Authenticate = %v, %v; want session %s", s, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.why) || !errors.Is(err, authn.ErrUnauthenticated) {
				t.Errorf("Authenticate = %v, want %v", err, tt.why)
			}
		})
	}
	// The portal's authenticator takes no proofs at all.
	portal := &authn.Authenticator{Sessions: d.sessions, Now: d.clock.Now}
	if _, err := portal.Authenticate(ctx, d.proven(t, d.signer, me, d.tok)); !errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("a DPoP credential at a door without a replay cache = %v, want refused", err)
	}
}
