package authz_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// decider is a fixture with the forward-auth service over the reference
// rules.
type decider struct {
	*fixture
	svc      *authz.Service
	sessions *authn.Sessions
}

func newDecider(t *testing.T) *decider {
	return newDeciderOn(t, storetest.SQLite(t))
}

// backends opens an empty store of each kind the test can reach:
// SQLite always, PostgreSQL when $GATEHOUSE_TEST_POSTGRES_URL is set.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"SQLite", func(t *testing.T) store.Store { return storetest.SQLite(t) }},
	{"PostgreSQL", func(t *testing.T) store.Store { return storetest.Postgres(t) }},
}

// newDeciderOn is newDecider on the empty store st.
func newDeciderOn(t *testing.T, st store.Store) *decider {
	t.Helper()
	f := newFixtureOn(t, st)
	sessions := authn.New(f.st, maxAge, f.clock.Now, nil)
	svc := authz.New(authz.Config{Rules: policy.ReferenceRules(), Keys: f.keys, Sessions: sessions, Members: f.st,
		Replay: &dpop.ReplayCache{Window: time.Minute}, DPoPMaxAge: time.Minute, MaxAge: maxAge, Now: f.clock.Now})
	return &decider{fixture: f, svc: svc, sessions: sessions}
}

// newSession stores a live session of u on iface and returns its token.
func (d *decider) newSession(t *testing.T, u *user.User, iface session.Door, aal session.Assurance, jkt string) (string, *session.Session) {
	t.Helper()
	tok, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	now := d.clock.Now()
	s := &session.Session{ID: "ses_" + tok[:8], UserID: u.ID, Door: iface, TokenHash: token.Hash(tok), JKT: jkt, Assurance: aal,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: 15 * time.Minute}
	if err := d.st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	return tok, s
}

func target(method, url string) authz.Target {
	tg, err := authz.ParseTarget(&authz.Forwarded{OriginalMethod: method, OriginalURL: url})
	if err != nil {
		panic(err)
	}
	return tg
}

func (d *decider) ask(t *testing.T, req authz.Request) authz.Result {
	t.Helper()
	if !req.Client.IsValid() {
		req.Client = netip.MustParseAddr("203.0.113.9")
	}
	res, err := d.svc.Authorize(ctx, &req)
	if err != nil {
		t.Fatalf("Authorize(%+v) = %v", req.Target, err)
	}
	return res
}

func TestAuthorizeKeys(t *testing.T) {
	d := newDecider(t)
	live := d.create(t, "ACC-L", apikey.Request{Name: "trader", Scopes: []string{"orders:read", "orders:write", "account:read"}, AllowIPs: []string{"203.0.113.0/24"}})
	reader := d.create(t, "ACC-L", apikey.Request{Name: "reader", Scopes: []string{"orders:read", "marketdata:read"}})
	paper := d.create(t, "ACC-P", apikey.Request{Name: "paper", Scopes: []string{"orders:read", "orders:write"}})
	bearer := func(s string) string { return "Bearer " + s }
	tests := []struct {
		name    string
		req     authz.Request
		kind    policy.Kind
		missing []string
	}{
		{"LiveKeyOrders", authz.Request{Target: target("POST", "http://live.localhost/api/orders"), Authorization: bearer(live.Secret)}, policy.Allowed, nil},
		{"OwnAccount", authz.Request{Target: target("GET", "http://live.localhost/api/accounts/ACC-L"), Authorization: bearer(live.Secret)}, policy.Allowed, nil},
		{"OtherAccount", authz.Request{Target: target("GET", "http://live.localhost/api/accounts/ACC-P"), Authorization: bearer(live.Secret)}, policy.Forbidden, []string{"account ACC-P"}},
		{"ReadOnlyCannotPost", authz.Request{Target: target("POST", "http://live.localhost/api/orders"), Authorization: bearer(reader.Secret)}, policy.Forbidden, []string{"scope orders:write"}},
		{"ReadOnlyReads", authz.Request{Target: target("GET", "http://live.localhost/api/marketdata/AAPL"), Authorization: bearer(reader.Secret)}, policy.Allowed, nil},
		{"PaperKeyOnLive", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer(paper.Secret)}, policy.Forbidden, []string{"environment live"}},
		{"LiveKeyOnPaper", authz.Request{Target: target("GET", "http://paper.localhost/api/orders"), Authorization: bearer(live.Secret)}, policy.Forbidden, []string{"environment paper"}},
		{"PaperKeyOnPaper", authz.Request{Target: target("DELETE", "http://paper.localhost/api/orders/o-1"), Authorization: bearer(paper.Secret)}, policy.Allowed, nil},
		{"OutsideAllowlist", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer(live.Secret), Client: netip.MustParseAddr("198.51.100.1")}, policy.Unauthenticated, []string{"credential"}},
		{"NoRule", authz.Request{Target: target("GET", "http://live.localhost/admin"), Authorization: bearer(live.Secret)}, policy.Forbidden, []string{"matching rule"}},
		{"Anonymous", authz.Request{Target: target("GET", "http://anything/healthz")}, policy.Allowed, nil},
		{"NoCredential", authz.Request{Target: target("GET", "http://live.localhost/api/orders")}, policy.Unauthenticated, []string{"credential"}},
		{"Garbage", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: "Bearer garbage"}, policy.Unauthenticated, []string{"credential"}},
		{"Truncated", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer(live.Secret[:len(live.Secret)-1])}, policy.Unauthenticated, []string{"credential"}},
		{"WrongChecksum", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer(otherLast(live.Secret))}, policy.Unauthenticated, []string{"credential"}},
		{"WrongPrefix", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer("ghp_" + live.Secret[10:])}, policy.Unauthenticated, []string{"credential"}},
		{"Forged", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: bearer(forge(live.Secret))}, policy.Unauthenticated, []string{"credential"}},
		{"BasicScheme", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: "Basic YTpi"}, policy.Unauthenticated, []string{"credential"}},
		{"LowerCaseScheme", authz.Request{Target: target("GET", "http://live.localhost/api/orders"), Authorization: "bearer " + live.Secret}, policy.Allowed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := d.ask(t, tt.req)
			if res.Kind != tt.kind || !slices.Equal(res.Missing, tt.missing) {
				t.Errorf("Authorize = %v %q (why %v), want %v %q", res.Kind, res.Missing, res.Why, tt.kind, tt.missing)
			}
		})
	}
	res := d.ask(t, authz.Request{Target: target("POST", "http://live.localhost/api/orders"), Authorization: bearer(live.Secret)})
	c := res.Credential
	if c.Kind != policy.KeyCredential || c.KeyID != live.Key.ID || c.AccountID != "ACC-L" || c.UserID != "admin" || c.Environment != "live" ||
		res.Scopes != "account:read orders:read orders:write" {
		t.Errorf("allowed key's identity = %+v, scopes %q", c, res.Scopes)
	}
}

func TestAuthorizeAllocs(t *testing.T) {
	d := newDecider(t)
	k := d.create(t, "ACC-L", apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, AllowIPs: []string{"203.0.113.0/24"}})
	req := authz.Request{Target: target("POST", "http://live.localhost/api/orders"), Authorization: "Bearer " + k.Secret, Client: netip.MustParseAddr("203.0.113.9")}
	d.ask(t, req)
	if n := testing.AllocsPerRun(200, func() {
		if res, _ := d.svc.Authorize(ctx, &req); !res.Allow {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("Authorize(key, cached) allocates %v times, want 0", n)
	}
}

func TestAuthorizeSessions(t *testing.T) {
	d := newDecider(t)
	webTok, web := d.newSession(t, d.trader, session.Web, session.AAL2, "")
	enrolTok, _ := d.newSession(t, d.trader, session.Web, session.AAL1, "")
	viewTok, _ := d.newSession(t, d.viewer, session.Web, session.AAL2, "")
	strongTok, strong := d.newSession(t, d.owner, session.Web, session.AAL3, "")
	key, _ := dpop.GenerateKey()
	signer, _ := dpop.NewSigner(key)
	deskTok, desk := d.newSession(t, d.trader, session.Desktop, session.AAL2, signer.JKT())
	proof := func(method, url, tok string) string {
		p, err := signer.Proof(method, url, tok, d.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	orders := target("POST", "https://live.localhost:8443/api/orders?x=1")

	tests := []struct {
		name    string
		req     authz.Request
		kind    policy.Kind
		missing []string
		cred    string // session id when allowed
	}{
		{"WebCookie", authz.Request{Target: orders, Cookie: webTok}, policy.Allowed, nil, web.ID},
		{"EnrolmentSession", authz.Request{Target: orders, Cookie: enrolTok}, policy.StepUp, []string{"aal 2"}, ""},
		{"WebAccountInPath", authz.Request{Target: target("GET", "http://live.localhost/api/accounts/ACC-L"), Cookie: webTok}, policy.Allowed, nil, web.ID},
		{"WebNotMember", authz.Request{Target: target("GET", "http://paper.localhost/api/accounts/ACC-P"), Cookie: webTok}, policy.Forbidden, []string{"environment paper", "scope account:read", "account ACC-P"}, ""},
		{"ViewerCannotTrade", authz.Request{Target: orders, Cookie: viewTok}, policy.Forbidden, []string{"scope orders:write"}, ""},
		// AAL3 passes the route's assurance; the reference rule also asks
		// for the owner's approval of the one transfer.
		{"TransfersNeedAAL3AndApproval", authz.Request{Target: target("POST", "http://live.localhost/api/transfers"), Cookie: strongTok}, policy.ApprovalRequired, []string{"approval transfer"}, strong.ID},
		{"TraderLacksTransfers", authz.Request{Target: target("POST", "http://live.localhost/api/transfers"), Cookie: webTok}, policy.Forbidden, []string{"scope transfers:write", "aal 3"}, ""},
		{"DesktopTokenAsCookie", authz.Request{Target: orders, Cookie: deskTok}, policy.Unauthenticated, []string{"credential"}, ""},
		{"UnknownCookie", authz.Request{Target: orders, Cookie: "nope"}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DPoP", authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: proof("POST", "https://live.localhost:8443/api/orders", deskTok), DPoPCount: 1}, policy.Allowed, nil, desk.ID},
		{"DPoPWrongMethod", authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: proof("GET", "https://live.localhost:8443/api/orders", deskTok), DPoPCount: 1}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DPoPWrongURL", authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: proof("POST", "https://paper.localhost:8443/api/orders", deskTok), DPoPCount: 1}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DPoPWrongScheme", authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: proof("POST", "http://live.localhost:8443/api/orders", deskTok), DPoPCount: 1}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DPoPTwoProofs", authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: proof("POST", "https://live.localhost:8443/api/orders", deskTok), DPoPCount: 2}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DPoPNoProof", authz.Request{Target: orders, Authorization: "DPoP " + deskTok}, policy.Unauthenticated, []string{"credential"}, ""},
		{"WebTokenAsDPoP", authz.Request{Target: orders, Authorization: "DPoP " + webTok, DPoP: proof("POST", "https://live.localhost:8443/api/orders", webTok), DPoPCount: 1}, policy.Unauthenticated, []string{"credential"}, ""},
		{"DesktopTokenAsBearer", authz.Request{Target: orders, Authorization: "Bearer " + deskTok}, policy.Unauthenticated, []string{"credential"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := d.ask(t, tt.req)
			if res.Kind != tt.kind || !slices.Equal(res.Missing, tt.missing) {
				t.Fatalf("Authorize = %v %q (why %v), want %v %q", res.Kind, res.Missing, res.Why, tt.kind, tt.missing)
			}
			if tt.cred != "" && (res.Credential.SessionID != tt.cred || res.Credential.Kind != policy.SessionCredential) {
				t.Errorf("credential = %+v, want session %s", res.Credential, tt.cred)
			}
		})
	}

	// A replayed proof is refused.
	p := proof("POST", "https://live.localhost:8443/api/orders", deskTok)
	req := authz.Request{Target: orders, Authorization: "DPoP " + deskTok, DPoP: p, DPoPCount: 1}
	if res := d.ask(t, req); !res.Allow {
		t.Fatalf("fresh proof refused: %v", res.Why)
	}
	if res := d.ask(t, req); res.Kind != policy.Unauthenticated {
		t.Errorf("replayed proof: %v, want unauthenticated", res.Kind)
	}

	// A session's identity: the account the path names, the role's scopes.
	res := d.ask(t, authz.Request{Target: target("GET", "http://live.localhost/api/accounts/ACC-L"), Cookie: webTok})
	if c := res.Credential; c.UserID != d.trader.ID || c.AccountID != "ACC-L" || c.Environment != "live" || res.Scopes != "account:read marketdata:read orders:read orders:write" {
		t.Errorf("session identity = %+v, scopes %q", c, res.Scopes)
	}

	// Freshness: the owner's AAL3 goes stale after the rule's 5 minutes
	// and is asked to step up, not refused.
	d.clock.Add(6 * time.Minute)
	if res := d.ask(t, authz.Request{Target: target("POST", "http://live.localhost/api/transfers"), Cookie: strongTok}); res.Kind != policy.StepUp ||
		!slices.Equal(res.Missing, []string{"fresh step-up within 5m0s"}) {
		t.Errorf("stale AAL3 on transfers: %v %q, want step_up", res.Kind, res.Missing)
	}

	// Ending a session through this instance takes effect at once.
	if err := d.st.EndSession(ctx, web.ID, d.clock.Now(), session.EndRevoked); err != nil {
		t.Fatal(err)
	}
	d.sessions.Forget(web.ID)
	if res := d.ask(t, authz.Request{Target: orders, Cookie: webTok}); res.Kind != policy.Unauthenticated {
		t.Errorf("ended session: %v, want unauthenticated", res.Kind)
	}
}

func TestMembershipChangesReachWithinMaxAge(t *testing.T) {
	d := newDecider(t)
	tok, _ := d.newSession(t, d.outsider, session.Web, session.AAL2, "")
	req := authz.Request{Target: target("GET", "http://paper.localhost/api/accounts/ACC-P"), Cookie: tok}
	if res := d.ask(t, req); res.Kind != policy.Forbidden {
		t.Fatalf("non-member: %v", res.Kind)
	}
	d.st.AddMember(ctx, &account.Membership{UserID: d.outsider.ID, AccountID: "ACC-P", Role: account.Viewer, CreatedAt: d.clock.Now()})
	if res := d.ask(t, req); res.Kind != policy.Forbidden {
		t.Errorf("within the cache age of the membership: %v, want the cached answer", res.Kind)
	}
	d.clock.Add(maxAge + time.Millisecond)
	if res := d.ask(t, req); !res.Allow {
		t.Errorf("past the cache age: %v %q, want allowed", res.Kind, res.Missing)
	}
}

// otherLast is key with its last character changed: a checksum that no
// longer matches, whatever the key was.
func otherLast(key string) string {
	last := key[len(key)-1]
	repl := byte('z')
	if last == 'z' {
		repl = 'y'
	}
	return key[:len(key)-1] + string(repl)
}

// TestRefusedForwardAuthDoesNotExtendSession asks forward-auth, every 30
// seconds for longer than a desktop session's idle timeout, with its
// token refused: as a cookie, with a proof of another key, with a proof
// of another request, with a replayed proof. Then the honest request is
// refused too: the session idled out, as if nobody had asked.
func TestRefusedForwardAuthDoesNotExtendSession(t *testing.T) {
	d := newDecider(t)
	key, _ := dpop.GenerateKey()
	signer, _ := dpop.NewSigner(key)
	otherKey, _ := dpop.GenerateKey()
	other, _ := dpop.NewSigner(otherKey)
	tok, desk := d.newSession(t, d.trader, session.Desktop, session.AAL2, signer.JKT())
	const url = "https://live.localhost/api/orders"
	orders := target("GET", url)
	proven := func(s *dpop.Signer, url string) authz.Request {
		p, err := s.Proof("GET", url, tok, d.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return authz.Request{Target: orders, Authorization: "DPoP " + tok, DPoP: p, DPoPCount: 1}
	}
	first := proven(signer, url)
	if res := d.ask(t, first); !res.Allow {
		t.Fatalf("honest request: %v %v", res.Kind, res.Why)
	}
	for elapsed := time.Duration(0); elapsed <= desk.Idle; elapsed += 30 * time.Second {
		d.clock.Add(30 * time.Second)
		for _, req := range []authz.Request{
			{Target: orders, Cookie: tok},
			proven(other, url),
			proven(signer, "https://paper.localhost/api/orders"),
			first,
		} {
			if res := d.ask(t, req); res.Kind != policy.Unauthenticated {
				t.Fatalf("refused request at %v: %v, want unauthenticated", elapsed, res.Kind)
			}
		}
		if err := d.sessions.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if res := d.ask(t, proven(signer, url)); res.Kind != policy.Unauthenticated {
		t.Errorf("honest request after %v of refused ones: %v, want the session idled out", desk.Idle, res.Kind)
	}
	if s, err := d.st.SessionByID(ctx, desk.ID); err != nil || s.EndReason != session.EndIdle {
		t.Errorf("stored session = %+v, %v; want ended idle", s, err)
	}
}
