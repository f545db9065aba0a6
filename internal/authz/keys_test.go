package authz_test

import (
	"context"
	"errors"
	"hash/crc32"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

var ctx = context.Background()

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

const maxAge = time.Second

// fixture is a store with two accounts and three members of ACC-L (live):
// an owner, a trader and a viewer; the owner also owns ACC-P (paper).
type fixture struct {
	st                              store.Store
	clock                           *clock
	keys                            *authz.Keys
	owner, trader, viewer, outsider *user.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, storetest.SQLite(t))
}

// newFixtureOn is newFixture on the empty store st.
func newFixtureOn(t *testing.T, st store.Store) *fixture {
	t.Helper()
	f := &fixture{st: st, clock: &clock{t: storetest.T0}}
	storetest.NewAccount(t, st, "ACC-L", account.Live)
	storetest.NewAccount(t, st, "ACC-P", account.Paper)
	f.owner = storetest.NewUser(t, st, "olivia")
	f.trader = storetest.NewUser(t, st, "theo")
	f.viewer = storetest.NewUser(t, st, "vera")
	f.outsider = storetest.NewUser(t, st, "oscar")
	for _, m := range []account.Membership{
		{UserID: f.owner.ID, AccountID: "ACC-L", Role: account.Owner},
		{UserID: f.owner.ID, AccountID: "ACC-P", Role: account.Owner},
		{UserID: f.trader.ID, AccountID: "ACC-L", Role: account.Trader},
		{UserID: f.viewer.ID, AccountID: "ACC-L", Role: account.Viewer},
	} {
		m.CreatedAt = storetest.T0
		if err := st.AddMember(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	f.keys = authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), StepUpWindow: 5 * time.Minute, MaxAge: maxAge, Now: f.clock.Now})
	return f
}

// session returns a session of u at aal, proven at authTime.
func (f *fixture) session(u *user.User, aal session.Assurance, authTime time.Time) authz.Actor {
	return authz.Actor{Session: &session.Session{ID: "ses_" + u.Username, UserID: u.ID, Door: session.Web, Assurance: aal, AuthTime: authTime}, IP: "192.0.2.1"}
}

// create makes a key as the operator and fails the test on error.
func (f *fixture) create(t *testing.T, acct string, req apikey.Request) *authz.Issued {
	t.Helper()
	iss, err := f.keys.Create(ctx, authz.Actor{}, acct, req)
	if err != nil {
		t.Fatalf("Create(%s, %+v) = %v", acct, req, err)
	}
	return iss
}

func (f *fixture) resolve(secret string, addr string) error {
	p, err := apikey.Parse(secret)
	if err != nil {
		return err
	}
	_, _, err = f.keys.Resolve(ctx, p, netip.MustParseAddr(addr))
	return err
}

// forge returns secret with its secret part replaced and a valid
// checksum: a key that parses but was never issued.
func forge(secret string) string {
	body := secret[:len(secret)-apikey.SumLen]
	last := body[len(body)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	body = body[:len(body)-1] + string(repl)
	sum := crc32.ChecksumIEEE([]byte(body))
	var out [apikey.SumLen]byte
	v := uint64(sum)
	for i := apikey.SumLen - 1; i >= 0; i-- {
		out[i] = apikey.Alphabet[v%32]
		v /= 32
	}
	return body + string(out[:])
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	iss := f.create(t, "ACC-L", apikey.Request{Name: "bot", Environment: "live", Scopes: []string{"orders:read"}, AllowIPs: []string{"203.0.113.0/24", "2001:db8::/48"}})
	p, _ := apikey.Parse(iss.Secret)
	key, scopes, err := f.keys.Resolve(ctx, p, netip.MustParseAddr("203.0.113.7"))
	if err != nil {
		t.Fatalf("Resolve(new key) = %v", err)
	}
	if key.ID != iss.Key.ID || key.AccountID != "ACC-L" || scopes != "orders:read" {
		t.Errorf("Resolve = %s on %s with %q, want %s on ACC-L with orders:read", key.ID, key.AccountID, scopes, iss.Key.ID)
	}
	tests := []struct {
		name, secret, addr string
		ok                 bool
	}{
		{"Allowed", iss.Secret, "203.0.113.200", true},
		{"MappedIPv4", iss.Secret, "::ffff:203.0.113.1", true},
		{"IPv6", iss.Secret, "2001:db8:0:1::5", true},
		{"OutsideAllowlist", iss.Secret, "198.51.100.1", false},
		{"WrongSecret", forge(iss.Secret), "203.0.113.7", false},
	}
	for _, tt := range tests {
		err := f.resolve(tt.secret, tt.addr)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, authz.ErrInvalidKey)) {
			t.Errorf("%s: Resolve = %v, want ok=%v (or ErrInvalidKey)", tt.name, err, tt.ok)
		}
	}
}

func TestResolveCacheHitAllocs(t *testing.T) {
	f := newFixture(t)
	iss := f.create(t, "ACC-P", apikey.Request{Name: "bot", Scopes: []string{"orders:read"}})
	p, _ := apikey.Parse(iss.Secret)
	addr := netip.MustParseAddr("192.0.2.1")
	f.keys.Resolve(ctx, p, addr)
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := f.keys.Resolve(ctx, p, addr); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Resolve on a cache hit allocates %v times, want 0", n)
	}
}

func TestRevocationReach(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, "ACC-P", apikey.Request{Name: "a", Scopes: []string{"orders:read"}})
	b := f.create(t, "ACC-P", apikey.Request{Name: "b", Scopes: []string{"orders:read"}})
	for _, s := range []string{a.Secret, b.Secret} {
		if err := f.resolve(s, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	// Through this instance: refused on the very next request.
	if _, err := f.keys.Revoke(ctx, f.session(f.owner, 1, storetest.T0), "ACC-P", a.Key.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(a.Secret, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) {
		t.Errorf("key revoked through this instance: Resolve = %v, want ErrInvalidKey at once", err)
	}
	// Elsewhere (the store directly: the CLI, another instance): the
	// cached copy serves until it is maxAge old, not a moment longer.
	if err := f.st.RevokeKey(ctx, b.Key.ID, f.clock.Now(), apikey.RevokedByAdmin); err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(b.Secret, "192.0.2.1"); err != nil {
		t.Errorf("key revoked elsewhere, within the cache age: Resolve = %v, want the cached answer", err)
	}
	f.clock.Add(maxAge + time.Millisecond)
	if err := f.resolve(b.Secret, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) {
		t.Errorf("key revoked elsewhere, past the cache age: Resolve = %v, want ErrInvalidKey", err)
	}
}

func TestUnknownKeyCachedBriefly(t *testing.T) {
	f := newFixture(t)
	tok, err := apikey.Generate(account.Paper, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(tok.Key, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) {
		t.Fatalf("unknown key: Resolve = %v, want ErrInvalidKey", err)
	}
	// Created by another instance: unknown here for at most maxAge.
	spec, _ := apikey.Request{Name: "x", Scopes: []string{"orders:read"}}.Validate(apikey.DefaultLimits(), account.Paper, 1)
	k, _ := spec.NewKey(tok, "ACC-P", "admin", f.clock.Now())
	if err := f.st.CreateKey(ctx, &k); err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(tok.Key, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) {
		t.Errorf("within the cache age of a miss: Resolve = %v, want ErrInvalidKey", err)
	}
	f.clock.Add(maxAge + time.Millisecond)
	if err := f.resolve(tok.Key, "192.0.2.1"); err != nil {
		t.Errorf("past the cache age of a miss: Resolve = %v, want nil", err)
	}
}

func TestRotationOverlap(t *testing.T) {
	f := newFixture(t)
	old := f.create(t, "ACC-P", apikey.Request{Name: "bot", Scopes: []string{"orders:write"}})
	overlap := 10 * time.Minute
	next, err := f.keys.Rotate(ctx, f.session(f.owner, 2, storetest.T0), "ACC-P", old.Key.ID, &overlap)
	if err != nil {
		t.Fatal(err)
	}
	if next.Key.PredecessorID != old.Key.ID || next.Key.Scopes != old.Key.Scopes || next.Key.Name != "bot" {
		t.Errorf("successor = %+v, want the old key's powers and a link to it", next.Key)
	}
	if !next.OverlapEndsAt.Equal(f.clock.Now().Add(overlap)) {
		t.Errorf("OverlapEndsAt = %v, want now + %v", next.OverlapEndsAt, overlap)
	}
	for _, s := range []string{old.Secret, next.Secret} {
		if err := f.resolve(s, "192.0.2.1"); err != nil {
			t.Errorf("during the overlap: Resolve = %v, want both keys to work", err)
		}
	}
	f.clock.Add(overlap)
	if err := f.resolve(old.Secret, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) || !errors.Is(err, apikey.ErrRotated) {
		t.Errorf("after the overlap: old key Resolve = %v, want ErrInvalidKey (rotated)", err)
	}
	if err := f.resolve(next.Secret, "192.0.2.1"); err != nil {
		t.Errorf("after the overlap: successor Resolve = %v", err)
	}
	if _, err := f.keys.Rotate(ctx, authz.Actor{}, "", old.Key.ID, nil); !errors.Is(err, authz.ErrKeyState) {
		t.Errorf("rotating a rotated key = %v, want ErrKeyState", err)
	}
	tooLong := 25 * time.Hour
	var re *apikey.RequestError
	if _, err := f.keys.Rotate(ctx, authz.Actor{}, "", next.Key.ID, &tooLong); !errors.As(err, &re) {
		t.Errorf("overlap past the limit = %v, want a RequestError", err)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	iss := f.create(t, "ACC-P", apikey.Request{Name: "bot", Scopes: []string{"orders:read"}, ExpiresIn: time.Hour})
	if err := f.resolve(iss.Secret, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	if err := f.resolve(iss.Secret, "192.0.2.1"); !errors.Is(err, apikey.ErrExpired) {
		t.Errorf("expired key: Resolve = %v, want ErrExpired", err)
	}
}

func auditOf(t *testing.T, st store.Store, typ string) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for e, err := range st.AuditEvents(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestFlushRecordsUses(t *testing.T) {
	f := newFixture(t)
	iss := f.create(t, "ACC-P", apikey.Request{Name: "bot", Scopes: []string{"orders:read"}})
	for _, a := range []string{"192.0.2.1", "192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1"} {
		f.clock.Add(time.Second)
		if err := f.resolve(iss.Secret, a); err != nil {
			t.Fatal(err)
		}
	}
	last := f.clock.Now()
	// Not yet flushed: the list already shows the use.
	list, _ := f.keys.List(ctx, authz.Actor{}, "ACC-P")
	if !list[0].LastUsedAt.Equal(last) || list[0].LastUsedIP != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("List before flush: last used %v from %v, want %v from 2001:db8::1", list[0].LastUsedAt, list[0].LastUsedIP, last)
	}
	if err := f.keys.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := f.st.KeyByID(ctx, iss.Key.ID)
	if !k.LastUsedAt.Equal(last) || k.LastUsedIP != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("stored: last used %v from %v, want %v from 2001:db8::1", k.LastUsedAt, k.LastUsedIP, last)
	}
	events := auditOf(t, f.st, audit.KeyNewAddress)
	var ips []string
	for _, e := range events {
		ips = append(ips, e.Detail["ip"])
		if e.Detail["key"] != iss.Key.ID || e.Detail["account"] != "ACC-P" || e.Actor != "system" {
			t.Errorf("new-address event = %+v", e)
		}
	}
	if !slices.Equal(ips, []string{"192.0.2.1", "2001:db8::1"}) {
		t.Errorf("new-address events for %v, want 192.0.2.1 and 2001:db8::1, once each", ips)
	}
	// The same addresses again: no new event.
	f.resolve(iss.Secret, "192.0.2.1")
	f.keys.Flush(ctx)
	if n := len(auditOf(t, f.st, audit.KeyNewAddress)); n != 2 {
		t.Errorf("after a second flush from a known address: %d new-address events, want 2", n)
	}
	// An empty flush does nothing.
	if err := f.keys.Flush(ctx); err != nil {
		t.Error(err)
	}
}

func TestRevokeDormant(t *testing.T) {
	f := newFixture(t)
	never := f.create(t, "ACC-P", apikey.Request{Name: "never used", Scopes: []string{"orders:read"}})
	used := f.create(t, "ACC-P", apikey.Request{Name: "used", Scopes: []string{"orders:read"}})
	pending := f.create(t, "ACC-P", apikey.Request{Name: "pending", Scopes: []string{"orders:read"}})
	revoked := f.create(t, "ACC-P", apikey.Request{Name: "revoked", Scopes: []string{"orders:read"}})
	f.keys.Revoke(ctx, authz.Actor{}, "", revoked.Key.ID)

	f.clock.Add(20 * 24 * time.Hour)
	f.resolve(used.Secret, "192.0.2.1")
	f.keys.Flush(ctx)
	f.clock.Add(10 * 24 * time.Hour) // 30 days since creation, 10 since "used" was used
	f.resolve(pending.Secret, "192.0.2.1")

	n, err := f.keys.RevokeDormant(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RevokeDormant = %d, %v; want 1 (the never-used key)", n, err)
	}
	for _, tt := range []struct {
		iss     *authz.Issued
		revoked bool
	}{{never, true}, {used, false}, {pending, false}} {
		k, _ := f.st.KeyByID(ctx, tt.iss.Key.ID)
		if got := !k.RevokedAt.IsZero(); got != tt.revoked {
			t.Errorf("key %q revoked = %v, want %v", k.Name, got, tt.revoked)
		}
	}
	k, _ := f.st.KeyByID(ctx, never.Key.ID)
	if k.RevokeReason != apikey.RevokedDormant {
		t.Errorf("revoke reason %q, want dormant", k.RevokeReason)
	}
	var dormant []*audit.Event
	for _, e := range auditOf(t, f.st, audit.KeyRevoked) {
		if e.Detail["reason"] == "dormant" {
			dormant = append(dormant, e)
		}
	}
	if len(dormant) != 1 || dormant[0].Detail["key"] != never.Key.ID || dormant[0].Detail["last_used_at"] != "never" || dormant[0].Actor != "system" {
		t.Errorf("dormant revocation events = %+v", dormant)
	}
	if err := f.resolve(never.Secret, "192.0.2.1"); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("dormant key: Resolve = %v, want ErrRevoked", err)
	}
	// Turned off, nothing happens.
	off := authz.NewKeys(authz.KeysConfig{Store: f.st, Limits: apikey.Limits{DormantAfter: 0}, Now: f.clock.Now})
	f.clock.Add(365 * 24 * time.Hour)
	if n, err := off.RevokeDormant(ctx); n != 0 || err != nil {
		t.Errorf("RevokeDormant with DormantAfter 0 = %d, %v", n, err)
	}
}

func TestCreateChecks(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	stale := now.Add(-6 * time.Minute)
	trade := apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, AllowIPs: []string{"203.0.113.0/24"}}
	read := apikey.Request{Name: "bot", Scopes: []string{"orders:read"}}
	transfers := apikey.Request{Name: "bot", Scopes: []string{"transfers:write"}, AllowIPs: []string{"203.0.113.0/24"}}
	var (
		stepUp2 = &session.StepUpError{Need: session.AAL2, Within: 5 * time.Minute}
		stepUp3 = &session.StepUpError{Need: session.AAL3, Within: 5 * time.Minute}
	)
	tests := []struct {
		name  string
		actor authz.Actor
		acct  string
		req   apikey.Request
		want  any // nil, an error sentinel, *StepUpError or "forbidden"
	}{
		{"OwnerPaperAAL1", f.session(f.owner, 1, now), "ACC-P", trade, stepUp2}, // no key from a session without a second factor
		{"ReadOnlyLiveAAL1", f.session(f.trader, 1, now), "ACC-L", read, stepUp2},
		{"OwnerPaperAAL2Stale", f.session(f.owner, 2, stale), "ACC-P", trade, nil},
		// A live key outlives its session: even a read-only one needs a
		// fresh step-up, so an 8-hour-old cookie cannot mint a year of reads.
		{"ReadOnlyLiveAAL2EightHoursOldNeedsStepUp", f.session(f.trader, 2, now.Add(-8*time.Hour)), "ACC-L", read, stepUp2},
		{"ReadOnlyLiveAAL2Stale", f.session(f.trader, 2, stale), "ACC-L", read, stepUp2},
		{"ReadOnlyLiveAAL2Fresh", f.session(f.trader, 2, now.Add(-4*time.Minute)), "ACC-L", read, nil},
		{"LiveTradeAAL1", f.session(f.trader, 1, now), "ACC-L", trade, stepUp2},
		{"LiveTradeAAL2Stale", f.session(f.trader, 2, stale), "ACC-L", trade, stepUp2},
		{"LiveTradeAAL2Fresh", f.session(f.trader, 2, now.Add(-4*time.Minute)), "ACC-L", trade, nil},
		{"TransfersAAL2", f.session(f.owner, 2, now), "ACC-L", transfers, stepUp3},
		{"TransfersPaperAAL2", f.session(f.owner, 2, now), "ACC-P", transfers, stepUp3},
		{"TransfersAAL3", f.session(f.owner, 3, now), "ACC-L", transfers, nil},
		{"TraderCannotGrantTransfers", f.session(f.trader, 3, now), "ACC-L", transfers, "forbidden"},
		{"ViewerCannotManage", f.session(f.viewer, 3, now), "ACC-L", read, "forbidden"},
		{"OutsiderSeesNothing", f.session(f.outsider, 3, now), "ACC-L", read, authz.ErrNoAccount},
		{"NoSuchAccount", f.session(f.owner, 3, now), "ACC-X", read, authz.ErrNoAccount},
		{"OperatorSkipsStepUp", authz.Actor{}, "ACC-L", transfers, nil},
		{"OperatorStillValidated", authz.Actor{}, "ACC-L", apikey.Request{Name: "bot", Scopes: []string{"transfers:write"}}, apikey.ErrInvalidRequest},
		// Validation comes before step-up: fix the body, then step up.
		{"InvalidBeforeStepUp", f.session(f.trader, 1, stale), "ACC-L", apikey.Request{Name: "", Scopes: []string{"orders:write"}}, apikey.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := f.keys.Create(ctx, tt.actor, tt.acct, tt.req)
			switch want := tt.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("Create = %v, want a key", err)
				}
				by := "admin"
				if tt.actor.Session != nil {
					by = tt.actor.Session.UserID
				}
				if !strings.HasPrefix(iss.Secret, "gatehouse_") || iss.Key.CreatedBy != by {
					t.Errorf("Create = %v by %q", iss.Key, iss.Key.CreatedBy)
				}
			case *session.StepUpError:
				var se *session.StepUpError
				if !errors.As(err, &se) || *se != *want {
					t.Errorf("Create = %v, want %v", err, want)
				}
			case string:
				var fe *authz.ForbiddenError
				if !errors.As(err, &fe) {
					t.Errorf("Create = %v, want a ForbiddenError", err)
				}
			case error:
				if !errors.Is(err, want) {
					t.Errorf("Create = %v, want %v", err, want)
				}
			}
		})
	}
}

func TestProfessionalNeedsAAL3(t *testing.T) {
	f := newFixture(t)
	pro := &user.User{ID: "usr_pat", Username: "pat", Email: "pat@example.com", Profile: user.Professional, PasswordHash: "x", CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
	if err := f.st.CreateUser(ctx, pro); err != nil {
		t.Fatal(err)
	}
	f.st.AddMember(ctx, &account.Membership{UserID: pro.ID, AccountID: "ACC-L", Role: account.Trader, CreatedAt: storetest.T0})
	req := apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, AllowIPs: []string{"203.0.113.0/24"}}
	var se *session.StepUpError
	if _, err := f.keys.Create(ctx, f.session(pro, 2, f.clock.Now()), "ACC-L", req); !errors.As(err, &se) || se.Need != session.AAL3 {
		t.Errorf("professional at AAL2: Create = %v, want step-up to AAL3", err)
	}
	if _, err := f.keys.Create(ctx, f.session(pro, 3, f.clock.Now()), "ACC-L", req); err != nil {
		t.Errorf("professional at AAL3: Create = %v", err)
	}
}

func TestRequiredAssurance(t *testing.T) {
	tests := []struct {
		env  account.Environment
		s    apikey.Scopes
		p    user.Profile
		want session.Assurance
	}{
		{account.Paper, apikey.AllScopes &^ apikey.Scopes(apikey.TransfersWrite), user.Professional, 0},
		{account.Live, apikey.ReadScopes, user.Professional, session.AAL2},
		{account.Live, apikey.ScopesOf(apikey.OrdersRead), user.Occasional, session.AAL2},
		{account.Live, apikey.ScopesOf(apikey.OrdersWrite), user.Occasional, session.AAL2},
		{account.Live, apikey.ScopesOf(apikey.OrdersWrite), user.Mobile, session.AAL2},
		{account.Live, apikey.ScopesOf(apikey.OrdersWrite), user.Professional, session.AAL3},
		{account.Paper, apikey.ScopesOf(apikey.TransfersWrite), user.Occasional, session.AAL3},
	}
	for _, tt := range tests {
		if got := authz.RequiredAssurance(tt.env, tt.s, tt.p); got != tt.want {
			t.Errorf("RequiredAssurance(%s, %v, %s) = %v, want %v", tt.env, tt.s, tt.p, got, tt.want)
		}
	}
}

func TestManageOtherAccountsKey(t *testing.T) {
	f := newFixture(t)
	paper := f.create(t, "ACC-P", apikey.Request{Name: "bot", Scopes: []string{"orders:read"}})
	trader := f.session(f.trader, 3, f.clock.Now())
	// The trader is a member of ACC-L but not of ACC-P, where the key is.
	if _, err := f.keys.Revoke(ctx, trader, "ACC-L", paper.Key.ID); !errors.Is(err, authz.ErrNoKey) {
		t.Errorf("revoking another account's key through mine = %v, want ErrNoKey", err)
	}
	if _, err := f.keys.Revoke(ctx, trader, "ACC-P", paper.Key.ID); !errors.Is(err, authz.ErrNoAccount) {
		t.Errorf("revoking a key of an account I am not in = %v, want ErrNoAccount", err)
	}
	var fe *authz.ForbiddenError
	if _, err := f.keys.Revoke(ctx, f.session(f.viewer, 3, f.clock.Now()), "ACC-L", "nope"); !errors.As(err, &fe) {
		t.Errorf("viewer revoking any key = %v, want a ForbiddenError", err)
	}
	if _, err := f.keys.List(ctx, f.session(f.viewer, 1, f.clock.Now()), "ACC-L"); err != nil {
		t.Errorf("viewer listing = %v, want allowed", err)
	}
	if _, err := f.keys.List(ctx, f.session(f.outsider, 1, f.clock.Now()), "ACC-L"); !errors.Is(err, authz.ErrNoAccount) {
		t.Errorf("outsider listing = %v, want ErrNoAccount", err)
	}
	if _, err := f.keys.Revoke(ctx, f.session(f.owner, 1, f.clock.Now()), "ACC-P", paper.Key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Revoke(ctx, f.session(f.owner, 1, f.clock.Now()), "ACC-P", paper.Key.ID); !errors.Is(err, authz.ErrKeyState) {
		t.Errorf("revoking twice = %v, want ErrKeyState", err)
	}
}

func TestKeyStatus(t *testing.T) {
	now := storetest.T0
	k := storetest.NewKey("k", "A", account.Paper, now)
	tests := []struct {
		mut  func(k *apikey.Key)
		want string
	}{
		{func(*apikey.Key) {}, "active"},
		{func(k *apikey.Key) { k.SuccessorID, k.OverlapEndsAt = "n", now.Add(time.Hour) }, "rotating"},
		{func(k *apikey.Key) { k.SuccessorID, k.OverlapEndsAt = "n", now }, "rotated"},
		{func(k *apikey.Key) { k.ExpiresAt = now }, "expired"},
		{func(k *apikey.Key) { k.RevokedAt = now }, "revoked"},
		{func(k *apikey.Key) { k.Suspended = true }, "suspended"},
		{func(k *apikey.Key) { k.Suspended, k.RevokedAt = true, now }, "revoked"},
	}
	for _, tt := range tests {
		c := *k
		tt.mut(&c)
		if got := authz.KeyStatus(&c, now); got != tt.want {
			t.Errorf("KeyStatus = %q, want %q", got, tt.want)
		}
	}
}

func TestRotateChecks(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	money := f.create(t, "ACC-L", apikey.Request{Name: "treasury", Scopes: []string{"transfers:write"}, AllowIPs: []string{"203.0.113.0/24"}})
	var fe *authz.ForbiddenError
	if _, err := f.keys.Rotate(ctx, f.session(f.trader, 3, now), "ACC-L", money.Key.ID, nil); !errors.As(err, &fe) {
		t.Errorf("trader rotating a transfers:write key = %v, want a ForbiddenError: rotating mints those powers again", err)
	}
	var se *session.StepUpError
	if _, err := f.keys.Rotate(ctx, f.session(f.owner, 2, now), "ACC-L", money.Key.ID, nil); !errors.As(err, &se) || se.Need != session.AAL3 {
		t.Errorf("owner at AAL2 rotating a transfers:write key = %v, want step-up to AAL3", err)
	}
	if _, err := f.keys.Rotate(ctx, f.session(f.owner, 3, now), "ACC-L", money.Key.ID, nil); err != nil {
		t.Errorf("owner at fresh AAL3 rotating = %v", err)
	}
	// Revoking takes power away: a trader may, at any assurance.
	if _, err := f.keys.Revoke(ctx, f.session(f.trader, 1, now.Add(-time.Hour)), "ACC-L", money.Key.ID); err != nil {
		t.Errorf("trader revoking a transfers:write key = %v, want allowed", err)
	}
}
