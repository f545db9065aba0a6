package web_test

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

var secretRe = regexp.MustCompile(`id="key-secret">(gatehouse_[a-z0-9_]+)</code>`)

// addAccount stores an account and makes u a member with role.
func addAccount(t *testing.T, e *env, u *user.User, id string, env account.Environment, role account.Role) {
	t.Helper()
	now := e.clock.Now()
	err := e.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AccountByID(ctx, id); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateAccount(ctx, &account.Account{ID: id, Name: "Account " + id, Environment: env, EntityCode: "US", CreatedAt: now}); err != nil {
				return err
			}
		}
		return tx.AddMember(ctx, &account.Membership{UserID: u.ID, AccountID: id, Role: role, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// resolves reports whether forward-auth would take the key from addr.
func resolves(t *testing.T, e *env, secret, addr string) bool {
	t.Helper()
	p, err := apikey.Parse(secret)
	if err != nil {
		t.Fatalf("the page's key does not parse: %v", err)
	}
	_, _, err = e.keys.Resolve(ctx, p, netip.MustParseAddr(addr))
	if err != nil && !errors.Is(err, authz.ErrInvalidKey) {
		t.Fatal(err)
	}
	return err == nil
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Occasional)
	addAccount(t, e, alice, "ACC-P", account.Paper, account.Owner)
	addAccount(t, e, alice, "ACC-V", account.Live, account.Viewer)
	// An AAL1 session (no second factor) may not mint keys; see TestKeyNeedsAAL2.
	b := e.signedInBrowser(t, alice, session.Session{ID: "ses_keys", Assurance: session.AAL2, AMR: "pwd otp", IP: "127.0.0.1", CreatedAt: e.clock.Now()}, firefoxUA)

	golden(t, "keys-none", b.get(t, "/keys"), http.StatusOK)
	form := b.get(t, "/keys/ACC-P/new")
	golden(t, "key-new", form, http.StatusOK)
	tok := csrf(t, form)

	bad := b.post(t, "/keys/ACC-P", url.Values{"csrf": {tok}, "name": {"paper bot"}, "allow_ips": {"10.0.0.1/8\n0.0.0.0/0"}})
	golden(t, "key-new-errors", bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, `value="paper bot"`) || !strings.Contains(bad.Body, "10.0.0.1/8\n0.0.0.0/0</textarea>") {
		t.Error("the form does not keep what was typed")
	}

	made := b.post(t, "/keys/ACC-P", url.Values{"csrf": {tok}, "name": {"paper bot"}, "scopes": {"orders:read", "orders:write"},
		"allow_ips": {"203.0.113.0/24\n127.0.0.1"}, "expires": {"30"}})
	golden(t, "key-secret", made, http.StatusCreated)
	m := secretRe.FindStringSubmatch(made.Body)
	if m == nil {
		t.Fatal("no secret on the page")
	}
	secret := m[1]
	if !resolves(t, e, secret, "127.0.0.1") || resolves(t, e, secret, "198.51.100.1") {
		t.Error("the new key does not work from its allowlist, or works outside it")
	}
	if strings.Contains(b.get(t, "/keys").Body, secret) {
		t.Error("the keys page shows a secret")
	}
	e.keys.Flush(ctx)
	golden(t, "keys", b.get(t, "/keys"), http.StatusOK)

	// Rotation: a new secret, and the old key works through the overlap.
	list := b.get(t, "/keys")
	id := regexp.MustCompile(`action="/keys/ACC-P/([a-z0-9]+)/rotate"`).FindStringSubmatch(list.Body)[1]
	rot := b.post(t, "/keys/ACC-P/"+id+"/rotate", url.Values{"csrf": {tok}})
	next := secretRe.FindStringSubmatch(rot.Body)
	if rot.Code != http.StatusCreated || next == nil || next[1] == secret || !strings.Contains(rot.Body, "keeps working until") {
		t.Fatalf("rotate = %d", rot.Code)
	}
	if !resolves(t, e, secret, "127.0.0.1") || !resolves(t, e, next[1], "127.0.0.1") {
		t.Error("during the overlap both keys should work")
	}
	if again := b.post(t, "/keys/ACC-P/"+id+"/rotate", url.Values{"csrf": {tok}}); again.Code != http.StatusConflict || !strings.Contains(again.Body, "rotate its successor") {
		t.Errorf("rotating a rotated key = %d", again.Code)
	}

	// Revocation: refused from the next request on.
	nextID := regexp.MustCompile(`<dd class="mono">([a-z0-9]+)</dd>`).FindStringSubmatch(rot.Body)[1]
	if a := b.post(t, "/keys/ACC-P/"+nextID+"/revoke", url.Values{"csrf": {tok}}); a.Code != http.StatusSeeOther || a.Location() != "/keys?done=key-revoked" {
		t.Fatalf("revoke = %d → %q", a.Code, a.Location())
	}
	if resolves(t, e, next[1], "127.0.0.1") {
		t.Error("a revoked key still works")
	}

	// A viewer sees, and manages nothing; a stranger's account is not found.
	page := b.get(t, "/keys")
	if strings.Contains(page.Body, `href="/keys/ACC-V/new"`) || !strings.Contains(page.Body, "You are a viewer of this account") {
		t.Error("a viewer is offered to create keys")
	}
	if a := b.post(t, "/keys/ACC-V", url.Values{"csrf": {tok}, "name": {"x"}, "scopes": {"orders:read"}}); a.Code != http.StatusForbidden ||
		!strings.Contains(a.Body, "cannot manage its API keys") {
		t.Errorf("a viewer creating a key = %d", a.Code)
	}
	for _, p := range []string{"/keys/ACC-X/new", "/keys/ACC-V/nope/rotate"} {
		method := "GET"
		var a answer
		if strings.HasSuffix(p, "rotate") {
			method, a = "POST", b.post(t, p, url.Values{"csrf": {tok}})
		} else {
			a = b.get(t, p)
		}
		if a.Code != http.StatusNotFound && a.Code != http.StatusForbidden {
			t.Errorf("%s %s = %d, want 404 or 403", method, p, a.Code)
		}
	}
}

// TestLiveKeyStepUp: a live trading key asks for a fresh second factor.
func TestLiveKeyStepUp(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	alice, _ := e.st.UserByUsername(ctx, "alice")
	addAccount(t, e, alice, "ACC-L", account.Live, account.Trader)
	e.clock.Set(e.clock.Now().Add(10 * time.Minute))
	form := home.get(t, "/keys/ACC-L/new")
	want := url.Values{"csrf": {csrf(t, form)}, "name": {"live bot"}, "scopes": {"orders:write"}, "allow_ips": {"203.0.113.7"}}
	step := home.post(t, "/keys/ACC-L", want)
	if step.Code != http.StatusForbidden || !strings.Contains(step.Body, `name="back" value="/keys/ACC-L/new"`) {
		t.Fatalf("live trading key without a fresh proof = %d, want the step-up page back to the form\n%s", step.Code, step.Body)
	}
	up := home.post(t, "/stepup", url.Values{"csrf": {csrf(t, step)}, "back": {"/keys/ACC-L/new"}, "code": {code(t, e, secret)}})
	if up.Location() != "/keys/ACC-L/new?done=confirmed" {
		t.Fatalf("step-up → %q", up.Location())
	}
	want.Set("csrf", csrf(t, home.get(t, up.Location())))
	if a := home.post(t, "/keys/ACC-L", want); a.Code != http.StatusCreated || secretRe.FindStringSubmatch(a.Body) == nil {
		t.Errorf("live trading key after step-up = %d\n%s", a.Code, a.Body)
	}
}

// TestKeyNeedsAAL2: a password-only session is sent to confirm with a
// second factor before any key is made, paper and read-only included.
func TestKeyNeedsAAL2(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Occasional)
	addAccount(t, e, alice, "ACC-P", account.Paper, account.Owner)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	form := b.get(t, "/keys/ACC-P/new")
	a := b.post(t, "/keys/ACC-P", url.Values{"csrf": {csrf(t, form)}, "name": {"paper bot"}, "scopes": {"orders:read"}})
	if secretRe.MatchString(a.Body) || !strings.Contains(a.Body, "Confirm it is you") {
		t.Errorf("a key made from an AAL1 session: %d", a.Code)
	}
	keys, _ := e.st.KeysOfAccount(ctx, "ACC-P")
	if len(keys) != 0 {
		t.Errorf("%d keys stored, want none", len(keys))
	}
}

// TestEndOthersShowsKeysTheyMinted: a session the visitor does not
// recognise made a live key; after ending the other sessions, the
// sessions page lists the key with a revoke button, and revoking it
// works from there.
func TestEndOthersShowsKeysTheyMinted(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Occasional)
	addAccount(t, e, alice, "ACC-L", account.Live, account.Owner)
	thief := session.Session{ID: "ses_thief", Door: session.Web, UserID: alice.ID, Assurance: session.AAL2, AuthTime: e.clock.Now(), CreatedAt: e.clock.Now()}
	e.addSession(t, alice, thief)
	iss, err := e.keys.Create(ctx, authz.Actor{Session: &thief}, "ACC-L", apikey.Request{Name: "not mine", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signedInBrowser(t, alice, session.Session{ID: "ses_mine", Assurance: session.AAL2, AMR: "pwd otp", IP: "127.0.0.1", CreatedAt: e.clock.Now()}, firefoxUA)
	if page := b.get(t, "/sessions"); strings.Contains(page.Body, "API keys to review") {
		t.Errorf("keys to review while the minting session still runs")
	}
	if a := b.post(t, "/sessions/end-others", url.Values{"csrf": {csrf(t, b.get(t, "/sessions"))}}); a.Code != http.StatusSeeOther {
		t.Fatalf("end others = %d", a.Code)
	}
	page := b.get(t, "/sessions?done=ended-others")
	if !strings.Contains(page.Body, "API keys to review") || !strings.Contains(page.Body, `action="/keys/ACC-L/`+iss.Key.ID+`/revoke"`) {
		t.Fatalf("sessions page after ending the others does not offer key %s:\n%s", iss.Key.ID, page.Body)
	}
	if a := b.post(t, "/keys/ACC-L/"+iss.Key.ID+"/revoke", url.Values{"csrf": {csrf(t, page)}}); a.Code != http.StatusSeeOther {
		t.Fatalf("revoke from the sessions page = %d", a.Code)
	}
	if page := b.get(t, "/sessions"); strings.Contains(page.Body, "API keys to review") {
		t.Errorf("the revoked key is still offered")
	}
}

// TestPasswordChangeLeadsToKeysTheEndedSessionsMinted: a password change
// ends the other sessions, and one of them had made a live key; the
// visitor is taken to the sessions page, which lists it.
func TestPasswordChangeLeadsToKeysTheEndedSessionsMinted(t *testing.T) {
	const next = "a brand new passphrase"
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Occasional)
	addAccount(t, e, alice, "ACC-L", account.Live, account.Owner)
	other := session.Session{ID: "ses_other", Door: session.Web, UserID: alice.ID, Assurance: session.AAL2, AuthTime: e.clock.Now(), CreatedAt: e.clock.Now()}
	e.addSession(t, alice, other)
	iss, err := e.keys.Create(ctx, authz.Actor{Session: &other}, "ACC-L", apikey.Request{Name: "from the other session", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signedInBrowser(t, alice, session.Session{ID: "ses_strong", Assurance: session.AAL2, AMR: "pwd otp", IP: "192.0.2.9", CreatedAt: e.clock.Now()}, firefoxUA)
	a := b.post(t, "/password", url.Values{"csrf": {csrf(t, b.get(t, "/password"))}, "current": {alicePW}, "new": {next}, "confirm": {next}})
	if a.Code != http.StatusSeeOther || a.Location() != "/sessions?done=password" {
		t.Fatalf("password change = %d → %q, want the sessions page", a.Code, a.Location())
	}
	if page := b.get(t, a.Location()); !strings.Contains(page.Body, "Your password was changed.") || !strings.Contains(page.Body, iss.Key.ID) {
		t.Errorf("sessions page after the password change does not list key %s", iss.Key.ID)
	}
}

// TestKeysPageHeldNetwork: a live key with a hold shows the networks it
// is refused from (not the approved ones), and its owner allows one from
// the page, recorded as theirs.
func TestKeysPageHeldNetwork(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Occasional)
	addAccount(t, e, alice, "ACC-L", account.Live, account.Owner)
	iss, err := e.keys.Create(ctx, authz.Actor{}, "ACC-L", apikey.Request{Name: "bot on vm-3", Scopes: []string{"orders:read", "orders:write"}, HoldOnNewNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	for _, n := range []string{"203.0.113.0/24", "198.51.100.0/24"} {
		if _, _, err := e.st.AddKeyNetwork(ctx, iss.Key.ID, n, netip.MustParseAddr(strings.Replace(n, "0/24", "9", 1)), now, true); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signedInBrowser(t, alice, session.Session{ID: "ses_keys", Assurance: session.AAL2, AMR: "pwd otp", IP: "127.0.0.1", CreatedAt: now}, firefoxUA)
	page := b.get(t, "/keys")
	checkAccessible(t, "keys-held", page.Body)
	if !strings.Contains(page.Body, "New networks wait for you") || !strings.Contains(page.Body, `value="198.51.100.0/24"`) || strings.Contains(page.Body, `value="203.0.113.0/24"`) {
		t.Fatalf("keys page does not show the held network alone:\n%s", page.Body)
	}
	a := b.post(t, "/keys/ACC-L/"+iss.Key.ID+"/networks/approve", url.Values{"csrf": {csrf(t, page)}, "network": {"198.51.100.0/24"}})
	if a.Code != http.StatusSeeOther || a.Location() != "/keys?done=network-approved" {
		t.Fatalf("allow = %d → %q", a.Code, a.Location())
	}
	n, err := e.st.KeyNetwork(ctx, iss.Key.ID, "198.51.100.0/24")
	if err != nil || n.Held() || n.ApprovedBy != alice.ID {
		t.Errorf("after the portal's allow: %+v, %v; want approved by alice", n, err)
	}
	if strings.Contains(b.get(t, "/keys").Body, "Refused from") {
		t.Error("the keys page still lists the allowed network as refused")
	}
}
