package web_test

import (
	"context"
	"flag"
	"fmt"
	"gatehouse/internal/cooldown"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const alicePW = "correct horse battery staple"

// at is a moment of the scenario, minutes after storetest.T0.
func at(min int) time.Time { return storetest.T0.Add(time.Duration(min) * time.Minute) }

// scenario is a trader's morning: an account made by the operator, the
// desktop app and the phone app signed in, a mistyped password in the
// browser, then a sign-in through the portal. It returns the signed-in
// browser.
func scenario(t *testing.T) (*env, *browser) {
	t.Helper()
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	e.clock.Set(at(2))
	e.addSession(t, alice, session.Session{ID: "ses_desktop", Door: session.Desktop, JKT: "desk-key", DeviceName: "Trading desk", IP: "203.0.113.7",
		UserAgent: "gatehouse-desktop/1.4 (Windows 11)", Assurance: session.AAL1, CreatedAt: at(2)})
	e.clock.Set(at(3))
	e.addSession(t, alice, session.Session{ID: "ses_phone", Door: session.Mobile, JKT: "phone-key", DeviceName: "Alice's iPhone", IP: "198.51.100.23",
		UserAgent: "gatehouse-mobile/2.0 (iOS 18.5)", Assurance: session.AAL1, CreatedAt: at(3)})
	b := e.browser(firefoxUA)
	e.clock.Set(at(4))
	if a := b.login(t, "alice", "correct horse battery"); a.Code != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password = %d, want 422", a.Code)
	}
	e.clock.Set(at(5))
	b.mustLogin(t, "alice", alicePW)
	e.clock.Set(at(6))
	return e, b
}

// Random identifiers and form tokens change from run to run; golden files
// hold placeholders numbered in order of appearance.
var (
	randomID  = regexp.MustCompile(`\b(ses|dev|flw)_[A-Za-z0-9_-]{16}\b`)
	formToken = regexp.MustCompile(`name="csrf" value="[A-Za-z0-9_-]{43}"`)
)

func normalise(body string) string {
	seen := map[string]string{}
	body = randomID.ReplaceAllStringFunc(body, func(id string) string {
		if p, ok := seen[id]; ok {
			return p
		}
		p := fmt.Sprintf("%sRANDOM%d", id[:4], len(seen)+1)
		seen[id] = p
		return p
	})
	return formToken.ReplaceAllString(body, `name="csrf" value="FORM-TOKEN"`)
}

// golden compares a page with testdata/name.golden; -update rewrites it.
func golden(t *testing.T, name string, a answer, wantCode int) {
	t.Helper()
	if a.Code != wantCode {
		t.Errorf("%s: status %d, want %d", name, a.Code, wantCode)
	}
	checkAccessible(t, name, a.Body)
	got := normalise(a.Body)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got; go test -update rewrites it):\n%s", name, path, diff)
	}
}

func TestPages(t *testing.T) {
	e, b := scenario(t)
	golden(t, "overview", b.get(t, "/"), http.StatusOK)
	golden(t, "sessions", b.get(t, "/sessions"), http.StatusOK)
	activity := b.get(t, "/activity")
	golden(t, "activity", activity, http.StatusOK)
	if strings.Contains(activity.Body, "bad_password") || strings.Contains(activity.Body, "unknown_user") {
		t.Error("the activity page tells why a sign-in failed")
	}
	golden(t, "password-aal1", b.get(t, "/password"), http.StatusOK)
	golden(t, "notfound", b.get(t, "/no/such/page"), http.StatusNotFound)

	// After ending a session, the confirmation and the shorter list.
	form := b.get(t, "/sessions")
	if a := b.post(t, "/sessions/ses_phone/end", url.Values{"csrf": {csrf(t, form)}}); a.Code != http.StatusSeeOther {
		t.Fatalf("end session = %d\n%s", a.Code, a.Body)
	}
	golden(t, "sessions-ended", b.get(t, "/sessions?done=ended"), http.StatusOK)

	// The password form, for a session confirmed with a second factor.
	alice, err := e.st.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	strong := e.signedInBrowser(t, alice, session.Session{ID: "ses_strong", DeviceName: "Firefox on Linux", IP: "192.0.2.9",
		Assurance: session.AAL2, AMR: "pwd otp", CreatedAt: e.clock.Now()}, firefoxUA)
	golden(t, "password", strong.get(t, "/password"), http.StatusOK)
	form = strong.get(t, "/password")
	golden(t, "password-mismatch", strong.post(t, "/password", url.Values{"csrf": {csrf(t, form)}, "current": {alicePW},
		"new": {"a brand new passphrase"}, "confirm": {"a brand new passphrase!"}}), http.StatusUnprocessableEntity)

	signedOut := e.browser(firefoxUA)
	golden(t, "login", signedOut.get(t, "/login"), http.StatusOK)
	golden(t, "login-wrong-password", signedOut.login(t, "alice", "not her password"), http.StatusUnprocessableEntity)
}

// TestLoginThrottled shows a throttled sign-in as a wait in seconds, the
// same number as in Retry-After.
func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Occasional)
	b := e.browser(firefoxUA)
	var a answer
	for range 20 {
		if a = b.login(t, "alice", "guess"); a.Code == http.StatusTooManyRequests {
			break
		}
	}
	if a.Code != http.StatusTooManyRequests {
		t.Fatalf("20 wrong passwords: last answer %d, want 429", a.Code)
	}
	secs := a.Header.Get("Retry-After")
	if secs == "" || !strings.Contains(a.Body, "Wait "+secs+" seconds") {
		t.Errorf("Retry-After %q; the page does not say the same wait:\n%s", secs, a.Body)
	}
	golden(t, "login-throttled", a, http.StatusTooManyRequests)
	// The right password does not get through the wait, and does not say it was right.
	if a := b.login(t, "alice", alicePW); a.Code != http.StatusTooManyRequests {
		t.Errorf("right password during the wait = %d, want 429", a.Code)
	}
}

// TestSecondFactorBanner warns an account with no second factor, or with
// SMS alone, on every page; a strong factor silences it.
func TestSecondFactorBanner(t *testing.T) {
	const none, weak = "Your account has no second factor yet.", "Your only second factor is SMS."
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	pages := []string{"/", "/sessions", "/activity", "/password"}
	for _, path := range pages {
		if a := b.get(t, path); !strings.Contains(a.Body, none) || strings.Contains(a.Body, weak) {
			t.Errorf("no factor: %s lacks the no-second-factor banner", path)
		}
	}
	addFactor(t, e, alice, &factor.Factor{ID: "fac_sms", Kind: factor.SMS, Name: "Work phone", Phone: "+15555550100"})
	for _, path := range pages {
		if a := b.get(t, path); !strings.Contains(a.Body, weak) || strings.Contains(a.Body, none) {
			t.Errorf("SMS only: %s lacks the weak-factor banner", path)
		}
	}
	e.clock.Set(at(1))
	addFactor(t, e, alice, &factor.Factor{ID: "fac_key", Kind: factor.WebAuthn, Name: "YubiKey", DeviceBound: true})
	addFactor(t, e, alice, &factor.Factor{ID: "fac_new", Kind: factor.TOTP, Status: factor.Pending}) // not confirmed: not counted
	strong := e.signedInBrowser(t, alice, session.Session{ID: "ses_strong", DeviceName: "Firefox on Linux", IP: "192.0.2.9",
		Assurance: session.AAL3, AMR: "pwd hwk", CreatedAt: e.clock.Now()}, firefoxUA)
	for _, c := range []*browser{b, strong} {
		for _, path := range pages {
			if a := c.get(t, path); strings.Contains(a.Body, none) || strings.Contains(a.Body, weak) {
				t.Errorf("with a security key: %s still warns", path)
			}
		}
	}
	golden(t, "overview-factors", strong.get(t, "/"), http.StatusOK)
}

// TestLoginAssurance: an account whose only factor cannot reach what the
// door needs (a security key, with security keys off) is told so, after
// the right password only, and gets no session.
func TestLoginAssurance(t *testing.T) {
	e := newEnv(t, noWebAuthn)
	bob := e.addUser(t, "bob", "bob's own long passphrase", user.Professional)
	addFactor(t, e, bob, &factor.Factor{ID: "fac_key", Kind: factor.WebAuthn, Name: "YubiKey", DeviceBound: true})
	tests := []struct {
		pw   string
		code int
		msg  string
	}{
		{"bob's own long passphrase", http.StatusForbidden, "has none that this door accepts"},
		{"a wrong passphrase", http.StatusUnprocessableEntity, "The username or password is wrong."},
	}
	for _, tt := range tests {
		b := e.browser(firefoxUA)
		a := b.login(t, "bob", tt.pw)
		if a.Code != tt.code || !strings.Contains(a.Body, tt.msg) || b.cookie("gatehouse_session") != "" || b.cookie("gatehouse_flow") != "" {
			t.Errorf("sign-in with %q = %d, session %v; want %d saying %q and no session", tt.pw, a.Code, b.cookie("gatehouse_session") != "", tt.code, tt.msg)
		}
	}
}

// addFactor stores an active factor of u.
func addFactor(t *testing.T, e *env, u *user.User, f *factor.Factor) {
	t.Helper()
	f.UserID, f.CreatedAt = u.ID, e.clock.Now()
	if f.Status == "" {
		f.Status, f.ConfirmedAt = factor.Active, e.clock.Now()
	}
	if err := e.st.CreateFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
}

// TestActivityPages pages through the trail with ?before=, newest first.
func TestActivityPages(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", alicePW, user.Professional)
	for i := range 30 {
		e.clock.Set(at(i + 1))
		e.addSession(t, alice, session.Session{ID: "ses_old" + string(rune('a'+i)), Door: session.Desktop, JKT: "k", DeviceName: "Desk", IP: "192.0.2.1",
			Assurance: session.AAL1, CreatedAt: e.clock.Now()})
	}
	e.clock.Set(at(40))
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)

	rows := regexp.MustCompile(`<time datetime="([^"]+)"`)
	older := regexp.MustCompile(`href="/activity\?before=(\d+)"`)
	first := b.get(t, "/activity")
	times := rows.FindAllStringSubmatch(first.Body, -1)
	if len(times) != 25 {
		t.Fatalf("first page has %d events, want 25", len(times))
	}
	for i := 1; i < len(times); i++ {
		if times[i][1] > times[i-1][1] {
			t.Fatalf("events not newest first: %s after %s", times[i][1], times[i-1][1])
		}
	}
	m := older.FindStringSubmatch(first.Body)
	if m == nil {
		t.Fatal("first page has no link to older events")
	}
	second := b.get(t, "/activity?before="+m[1])
	// 1 user.created + 30 session.started + the sign-in's events, less the first page.
	if n := len(rows.FindAllString(second.Body, -1)); n < 6 || strings.Contains(second.Body, "before=") {
		t.Errorf("second page: %d events, link to older: %v; want the rest and no older link", n, strings.Contains(second.Body, "before="))
	}
	if !strings.Contains(second.Body, "User created") {
		t.Error("the last page does not end with the oldest event")
	}
	for _, bad := range []string{"abc", "0", "-3", "99999999999999999999"} {
		if a := b.get(t, "/activity?before="+bad); a.Code != http.StatusBadRequest {
			t.Errorf("?before=%s = %d, want 400", bad, a.Code)
		}
	}
}

// TestOverviewShowsCooldown: while a cool-down runs, the overview says
// until when, why and what waits, and how to freeze if the change was not
// the visitor's; once it ends, the notice is gone.
func TestOverviewShowsCooldown(t *testing.T) {
	e, b := scenario(t)
	alice, err := e.st.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	until := at(6).Add(24 * time.Hour)
	if err := e.st.StartCooldown(context.Background(), alice.ID, until, cooldown.ReasonPassword); err != nil {
		t.Fatal(err)
	}
	a := b.get(t, "/")
	checkAccessible(t, "overview-cooldown", a.Body)
	for _, want := range []string{`<time datetime="` + until.Format(time.RFC3339) + `"`, "your password was changed", "no new live API key", "freeze the account now"} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("overview during a cool-down lacks %q", want)
		}
	}
	e.clock.Set(until.Add(time.Minute))
	b.mustLogin(t, "alice", alicePW)
	if a := b.get(t, "/"); strings.Contains(a.Body, "h-cooldown") {
		t.Error("the overview still shows a cool-down that has ended")
	}
}
