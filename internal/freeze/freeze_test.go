package freeze_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/freeze"
	"gatehouse/internal/login"
	"gatehouse/internal/notify"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

var ctx = context.Background()

var t0 = storetest.T0

// backends are the stores every flow test runs on.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"SQLite", func(t *testing.T) store.Store { return storetest.SQLite(t) }},
	{"PostgreSQL", func(t *testing.T) store.Store { return storetest.Postgres(t) }},
}

// fixture is alice, with a password, two live sessions and two API keys
// on a paper account; bob is another user with a session.
type fixture struct {
	st    store.Store
	svc   *freeze.Service
	alice *user.User
	bob   *user.User
	now   time.Time
	// own is alice's first session, the actor of her requests.
	own *session.Session
}

const alicePassword = "correct horse battery staple"

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	f := &fixture{st: st, now: t0.Add(time.Hour)}
	h := &password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	f.svc = &freeze.Service{Store: st, Hasher: h, Rules: password.DefaultRules(), Now: func() time.Time { return f.now }}
	hash, err := h.Hash(alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	f.alice = storetest.NewUser(t, st, "alice")
	if err := st.SetPasswordHash(ctx, f.alice.ID, hash, t0); err != nil {
		t.Fatal(err)
	}
	f.bob = storetest.NewUser(t, st, "bob")
	f.own = storetest.NewSession(t, st, f.alice, "ses_alice1", f.now.Add(-time.Minute))
	storetest.NewSession(t, st, f.alice, "ses_alice2", f.now.Add(-time.Minute))
	storetest.NewSession(t, st, f.bob, "ses_bob", f.now.Add(-time.Minute))
	storetest.NewAccount(t, st, "acc-paper", account.Paper)
	for _, id := range []string{"0123456789abcdef", "fedcba9876543210"} {
		if err := st.CreateKey(ctx, storetest.NewKey(id, "acc-paper", account.Paper, t0)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) actor() session.Actor { return session.Actor{Session: f.own, IP: "192.0.2.1"} }

// live returns the ids of the sessions of u that have not ended.
func (f *fixture) live(t *testing.T, u *user.User) int {
	t.Helper()
	ss, err := f.st.SessionsOfUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

func (f *fixture) events(t *testing.T, u *user.User, typ string) []*audit.Event {
	t.Helper()
	all, err := f.st.AuditOfUser(ctx, u.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []*audit.Event
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (f *fixture) key(t *testing.T, id string) *apikey.Key {
	t.Helper()
	k, err := f.st.KeyByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFreeze(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tests := []struct {
				name string
				run  func(t *testing.T, f *fixture)
			}{
				{"FromSession", testFromSession},
				{"AnotherUsersIsRefused", testAnotherUser},
				{"Again", testAgain},
				{"Link", testLink},
				{"UnfreezeNeedsTheStrongestFactorFresh", testUnfreezeStepUp},
				{"UnfreezeNeedsANewPassword", testUnfreezePassword},
				{"UnfreezeRestoresKeysNotRevokedOnes", testUnfreezeKeys},
				{"OperatorUnfreeze", testOperatorUnfreeze},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, newFixture(t, b.open(t))) })
			}
		})
	}
}

func testFromSession(t *testing.T, f *fixture) {
	got, err := f.svc.Freeze(ctx, f.actor(), f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Already || len(got.Sessions) != 2 || len(got.Keys) != 2 || got.By != f.alice.ID || !got.At.Equal(f.now) {
		t.Errorf("Freeze = %+v, want 2 sessions ended and 2 keys suspended by alice at now", got)
	}
	u, _ := f.st.UserByID(ctx, f.alice.ID)
	if !u.Frozen() || u.FrozenBy != f.alice.ID {
		t.Errorf("user after Freeze: frozen %v by %q, want frozen by alice", u.Frozen(), u.FrozenBy)
	}
	if n := f.live(t, f.alice); n != 0 {
		t.Errorf("alice has %d live sessions after Freeze, want 0", n)
	}
	if n := f.live(t, f.bob); n != 1 {
		t.Errorf("bob has %d live sessions after alice's Freeze, want 1", n)
	}
	ended, _ := f.st.SessionByID(ctx, "ses_alice2")
	if ended.EndReason != session.EndFrozen {
		t.Errorf("end reason %q, want %q", ended.EndReason, session.EndFrozen)
	}
	if k := f.key(t, "0123456789abcdef"); k.FrozenAt.IsZero() || !k.RevokedAt.IsZero() {
		t.Errorf("key after Freeze: frozen %v revoked %v, want suspended, not revoked", k.FrozenAt, k.RevokedAt)
	}
	if es := f.events(t, f.alice, audit.AccountFrozen); len(es) != 1 || es[0].Detail["by"] != f.alice.ID || es[0].Detail["keys_suspended"] != "2" || es[0].Actor != f.alice.ID {
		t.Errorf("account.frozen events = %+v, want one by alice with 2 keys suspended", es)
	}
	if es := f.events(t, f.alice, audit.SessionEnded); len(es) != 2 || es[0].Detail["reason"] != session.EndFrozen {
		t.Errorf("session.ended events = %+v, want 2 with reason frozen", es)
	}
}

func testAnotherUser(t *testing.T, f *fixture) {
	if _, err := f.svc.Freeze(ctx, f.actor(), f.bob.ID); !errors.Is(err, freeze.ErrNoUser) {
		t.Errorf("Freeze(bob) from alice's session = %v, want ErrNoUser", err)
	}
	if _, err := f.svc.Unfreeze(ctx, f.actor(), f.bob.ID, "a new passphrase for bob"); !errors.Is(err, freeze.ErrNoUser) {
		t.Errorf("Unfreeze(bob) from alice's session = %v, want ErrNoUser", err)
	}
	if n := f.live(t, f.bob); n != 1 {
		t.Errorf("bob has %d live sessions, want 1", n)
	}
	if _, err := f.svc.Freeze(ctx, session.Actor{}, "usr_nobody"); !errors.Is(err, freeze.ErrNoUser) {
		t.Errorf("operator Freeze(unknown) = %v, want ErrNoUser", err)
	}
}

func testAgain(t *testing.T, f *fixture) {
	if _, err := f.svc.Freeze(ctx, f.actor(), f.alice.ID); err != nil {
		t.Fatal(err)
	}
	// A session minted while frozen (unfreeze-only) ends with a new freeze.
	storetest.NewSession(t, f.st, f.alice, "ses_alice3", f.now)
	f.now = f.now.Add(time.Minute)
	got, err := f.svc.Freeze(ctx, session.Actor{}, f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Already || len(got.Sessions) != 1 || got.By != f.alice.ID || !got.At.Equal(f.now.Add(-time.Minute)) {
		t.Errorf("second Freeze = %+v, want already frozen (by alice, at the first freeze), 1 session ended", got)
	}
	if es := f.events(t, f.alice, audit.AccountFrozen); len(es) != 1 {
		t.Errorf("%d account.frozen events, want 1", len(es))
	}
}

// testLink spends a link as a notice makes it (notify.NewFreezeLink, a
// week's life as notices have by default).
func testLink(t *testing.T, f *fixture) {
	var tok string
	err := f.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		tok, err = notify.NewFreezeLink(ctx, tx, nil, f.alice.ID, f.now.Add(notify.DefaultFreezeLinkLifetime))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !freeze.ValidToken(tok) {
		t.Fatalf("a notice's link token %q is not one FreezeByLink takes (43 characters)", tok)
	}
	forged, _ := token.New(nil, 32)
	for _, tt := range []struct {
		name, tok string
		kind      fault.Kind
	}{
		{"Malformed", "not a token", fault.Invalid},
		{"Empty", "", fault.Invalid},
		{"NUL", tok[:42] + "\x00", fault.Invalid},
		{"Forged", forged, fault.NotFound},
	} {
		if _, err := f.svc.FreezeByLink(ctx, tt.tok, "198.51.100.7"); fault.Of(err) != tt.kind {
			t.Errorf("%s: FreezeByLink = %v (%v), want %v", tt.name, err, fault.Of(err), tt.kind)
		}
	}
	if n := f.live(t, f.alice); n != 2 {
		t.Fatalf("refused links changed something: %d live sessions, want 2", n)
	}
	// Expired: a week and a moment later.
	f.now = f.now.Add(notify.DefaultFreezeLinkLifetime + time.Second)
	if _, err := f.svc.FreezeByLink(ctx, tok, "198.51.100.7"); !errors.Is(err, freeze.ErrLink) {
		t.Errorf("expired link: FreezeByLink = %v, want ErrLink", err)
	}
	f.now = f.now.Add(-notify.DefaultFreezeLinkLifetime)
	got, err := f.svc.FreezeByLink(ctx, tok, "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != f.alice.ID || got.By != "link" || len(got.Sessions) != 2 {
		t.Errorf("FreezeByLink = %+v, want alice frozen by link, 2 sessions ended", got)
	}
	if es := f.events(t, f.alice, audit.AccountFrozen); len(es) != 1 || es[0].Actor != "link" || es[0].IP != "198.51.100.7" {
		t.Errorf("account.frozen events = %+v, want one by link from 198.51.100.7", es)
	}
	if _, err := f.svc.FreezeByLink(ctx, tok, "198.51.100.7"); !errors.Is(err, freeze.ErrLink) {
		t.Errorf("reused link: FreezeByLink = %v, want ErrLink", err)
	}
}

// frozenWithSecurityKey freezes alice, who holds a device-bound security
// key, and returns her unfreeze-only session with the proof given.
func frozenWithSecurityKey(t *testing.T, f *fixture, aal session.Assurance, authTime time.Time) session.Actor {
	t.Helper()
	if err := f.st.CreateFactor(ctx, &factor.Factor{ID: "fac_key", UserID: f.alice.ID, Kind: factor.WebAuthn, Name: "YubiKey", Status: factor.Active,
		DeviceBound: true, CreatedAt: t0, ConfirmedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Freeze(ctx, f.actor(), f.alice.ID); err != nil {
		t.Fatal(err)
	}
	s := storetest.NewSession(t, f.st, f.alice, "ses_unfreeze", f.now)
	s.Assurance, s.AuthTime = aal, authTime
	return session.Actor{Session: s, IP: "192.0.2.1"}
}

func testUnfreezeStepUp(t *testing.T, f *fixture) {
	frozenWithSecurityKey(t, f, session.AAL3, f.now)
	for _, tt := range []struct {
		name string
		aal  session.Assurance
		ago  time.Duration
	}{
		{"AAL2", session.AAL2, 0},
		{"StaleAAL3", session.AAL3, session.DefaultStepUpWindow + time.Second},
	} {
		s := storetest.NewSession(t, f.st, f.alice, "ses_"+tt.name, f.now)
		s.Assurance, s.AuthTime = tt.aal, f.now.Add(-tt.ago)
		a := session.Actor{Session: s}
		_, err := f.svc.Unfreeze(ctx, a, f.alice.ID, "a brand new passphrase")
		var se *session.StepUpError
		if !errors.As(err, &se) || se.Need != session.AAL3 {
			t.Errorf("%s: Unfreeze = %v, want a step-up to AAL3", tt.name, err)
		}
		st, err := f.svc.Status(ctx, a)
		if err != nil || !st.Frozen || st.Need != session.AAL3 || st.Fresh {
			t.Errorf("%s: Status = %+v, %v; want frozen, AAL3 needed, not fresh", tt.name, st, err)
		}
	}
	if u, _ := f.st.UserByID(ctx, f.alice.ID); !u.Frozen() {
		t.Errorf("refused unfreezes lifted the freeze")
	}
}

func testUnfreezePassword(t *testing.T, f *fixture) {
	a := frozenWithSecurityKey(t, f, session.AAL3, f.now)
	for _, pw := range []string{alicePassword, "short", "alice alice alice alice"} {
		_, err := f.svc.Unfreeze(ctx, a, f.alice.ID, pw)
		var we *login.WeakPasswordError
		if !errors.As(err, &we) {
			t.Errorf("Unfreeze(password %q) = %v, want a WeakPasswordError", pw, err)
		}
	}
	if u, _ := f.st.UserByID(ctx, f.alice.ID); !u.Frozen() {
		t.Errorf("refused unfreezes lifted the freeze")
	}
	st, err := f.svc.Status(ctx, a)
	if err != nil || !st.Fresh || st.Source() != "user" {
		t.Errorf("Status = %+v, %v; want fresh, frozen by the user", st, err)
	}
	got, err := f.svc.Unfreeze(ctx, a, f.alice.ID, "a brand new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 2 || len(got.Sessions) != 0 {
		t.Errorf("Unfreeze = %+v, want 2 keys restored, no other session to end", got)
	}
	u, _ := f.st.UserByID(ctx, f.alice.ID)
	if ok, _, _ := f.svc.Hasher.Verify("a brand new passphrase", u.PasswordHash); u.Frozen() || !ok {
		t.Errorf("after Unfreeze: frozen %v, new password set %v; want unfrozen with the new password", u.Frozen(), ok)
	}
	if es := f.events(t, f.alice, audit.AccountUnfrozen); len(es) != 1 || es[0].Detail["proven"] != "AAL3" || es[0].Detail["keys_restored"] != "2" {
		t.Errorf("account.unfrozen events = %+v", es)
	}
	if es := f.events(t, f.alice, audit.PasswordChanged); len(es) != 1 {
		t.Errorf("%d password.changed events, want 1", len(es))
	}
	if _, err := f.svc.Unfreeze(ctx, a, f.alice.ID, "yet another passphrase"); !errors.Is(err, freeze.ErrNotFrozen) {
		t.Errorf("Unfreeze when not frozen = %v, want ErrNotFrozen", err)
	}
}

func testUnfreezeKeys(t *testing.T, f *fixture) {
	a := frozenWithSecurityKey(t, f, session.AAL3, f.now)
	other := storetest.NewSession(t, f.st, f.alice, "ses_other", f.now)
	if err := f.st.RevokeKey(ctx, "fedcba9876543210", f.now, apikey.RevokedByAdmin); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Unfreeze(ctx, a, f.alice.ID, "a brand new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 1 || got.Keys[0] != "0123456789abcdef" || len(got.Sessions) != 1 || got.Sessions[0] != other.ID {
		t.Errorf("Unfreeze = %+v, want key 0123456789abcdef restored and %s ended", got, other.ID)
	}
	if k := f.key(t, "0123456789abcdef"); !k.FrozenAt.IsZero() || k.Usable(f.now) != nil {
		t.Errorf("restored key: frozen %v, usable %v", k.FrozenAt, k.Usable(f.now))
	}
	if k := f.key(t, "fedcba9876543210"); k.Usable(f.now) == nil {
		t.Errorf("the key revoked during the freeze works again")
	}
	if s, _ := f.st.SessionByID(ctx, a.Session.ID); !s.EndedAt.IsZero() {
		t.Errorf("the unfreezing session ended")
	}
}

func testOperatorUnfreeze(t *testing.T, f *fixture) {
	if _, err := f.svc.Freeze(ctx, session.Actor{}, f.alice.ID); err != nil {
		t.Fatal(err)
	}
	storetest.NewSession(t, f.st, f.alice, "ses_unfreeze", f.now)
	got, err := f.svc.Unfreeze(ctx, session.Actor{}, f.alice.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 2 || len(got.Sessions) != 1 {
		t.Errorf("operator Unfreeze = %+v, want 2 keys restored and the unfreeze-only session ended", got)
	}
	u, _ := f.st.UserByID(ctx, f.alice.ID)
	if ok, _, _ := f.svc.Hasher.Verify(alicePassword, u.PasswordHash); u.Frozen() || !ok {
		t.Errorf("after operator Unfreeze: frozen %v, password kept %v", u.Frozen(), ok)
	}
	if es := f.events(t, f.alice, audit.AccountUnfrozen); len(es) != 1 || es[0].Actor != "admin" {
		t.Errorf("account.unfrozen events = %+v, want one by admin", es)
	}
	if _, err := f.svc.Unfreeze(ctx, session.Actor{}, f.alice.ID, ""); !errors.Is(err, freeze.ErrNotFrozen) {
		t.Errorf("operator Unfreeze when not frozen = %v, want ErrNotFrozen", err)
	}
}
