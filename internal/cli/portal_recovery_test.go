package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPortalRecovery drives a lost-factor recovery in Chromium: started
// from the sign-in page's link, its waiting page, a notice's cancel link
// (opening it changes nothing; its button cancels), a new request
// completed once its wait is over (the stored clock moved, as a fake
// clock would), and the session it gives, which may only enrol: a new
// authenticator app is added, other pages send it back to the factors.
func TestPortalRecovery(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)
	c.enrolTOTPInPortal(t) // her only factor, soon lost

	start := func() string {
		t.Helper()
		c.open(t, "/recovery") // the sign-in page links here (its golden file shows it)
		c.typeInto(t, "username", "alice")
		c.typeInto(t, "password", portalPW)
		c.submit(t, "#start-recovery")
		loc := c.location(t)
		if !strings.HasPrefix(loc, "/recovery/rcv_") {
			t.Fatalf("after starting a recovery the browser is at %s", loc)
		}
		return strings.TrimPrefix(loc, "/recovery/")
	}
	status := func(id string) string {
		t.Helper()
		var st recoveryState
		call(t, http.DefaultClient, "GET", s.URL+"/v1/recovery/"+id, nil, nil, &st)
		return st.Status
	}

	id := start()
	c.screenshot(t, "recovery-waiting")
	if got := c.attr(t, "#recovery-status", "data-status"); got != "pending" {
		t.Errorf("waiting page status = %q, want pending", got)
	}

	// The notice's cancel link: a page with one button.
	tok := "PORTAL-cancel-link-token-0123456789abcdefgh"
	h := sha256.Sum256([]byte(tok))
	s.sql(t, `INSERT INTO freeze_links (token_hash, user_id, expires_at, purpose) VALUES (X'`+hex.EncodeToString(h[:])+`', (SELECT id FROM users WHERE username = 'alice'), 9999999999999999, 'recovery_cancel')`)
	if resp := c.open(t, "/recovery/cancel?token="+tok); resp.Status != 200 {
		t.Fatalf("GET /recovery/cancel = %d", resp.Status)
	}
	if st := status(id); st != "pending" {
		t.Errorf("opening the cancel link changed the request to %s", st)
	}
	c.submit(t, "#cancel-link")
	if !strings.Contains(c.text(t, "#recovery-cancelled"), "was cancelled") {
		t.Errorf("the cancel link's button did not say the recovery was cancelled")
	}
	if st := status(id); st != "cancelled" {
		t.Errorf("after the cancel link: %s, want cancelled", st)
	}
	// Spent: a second press is refused and changes nothing.
	c.open(t, "/recovery/cancel?token="+tok)
	c.submit(t, "#cancel-link")
	if !strings.Contains(c.text(t, "p.error"), "unknown, used already or expired") {
		t.Errorf("a spent cancel link was not refused")
	}

	// A new request; its wait passes.
	id = start()
	s.sql(t, "UPDATE recovery_requests SET completes_at = 1 WHERE id = '"+id+"'")
	c.open(t, "/recovery/"+id)
	c.typeInto(t, "username", "alice")
	c.typeInto(t, "password", portalPW)
	c.submit(t, "#complete-recovery")
	c.waitPath(t, "/factors")
	c.screenshot(t, "recovery-enrol")
	c.open(t, "/sessions")
	if loc := c.location(t); loc != "/factors" {
		t.Errorf("the recovery's session reached %s; want it sent back to /factors", loc)
	}
	c.typeInto(t, "totp-name", "New phone")
	c.submit(t, `form[action="/factors/totp"] button`)
	secret := strings.ReplaceAll(c.text(t, "#totp-secret"), " ", "")
	remember(secret)
	c.typeInto(t, "code", totpNow(t, secret, 0))
	c.submit(t, `form[action$="/confirm"] button`)
	if n := s.sql(t, "SELECT count(*) FROM factors WHERE status = 'active' AND name = 'New phone'"); n != "1" {
		t.Errorf("active new factors = %s, want 1", n)
	}
	if st := status(id); st != "completed" {
		t.Errorf("request after completion: %s", st)
	}
}

// attr is the attribute name of the element sel.
func (c *chrome) attr(t *testing.T, sel, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("document.querySelector(%q).getAttribute(%q)", sel, name)))
	if err != nil {
		t.Fatalf("%s[%s]: %v", sel, name, err)
	}
	return v
}

// TestPortalPasswordReset opens a mailed reset link in Chromium: opening
// it changes nothing; the new password sent from its page works, the old
// one no longer does, and nobody was signed in by it.
func TestPortalPasswordReset(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	tok := "PORTAL-reset-link-token-0123456789abcdefghi"
	h := sha256.Sum256([]byte(tok))
	s.sql(t, `INSERT INTO freeze_links (token_hash, user_id, expires_at, purpose) VALUES (X'`+hex.EncodeToString(h[:])+`', (SELECT id FROM users WHERE username = 'alice'), 9999999999999999, 'password_reset')`)
	apiLogin := func(pw string) int {
		t.Helper()
		return call(t, newBrowser(t), "POST", s.URL+"/v1/login", map[string]any{"username": "alice", "password": pw, "interface": "web"}, nil, nil).StatusCode
	}
	if resp := c.open(t, "/recovery/password?token="+tok); resp.Status != 200 {
		t.Fatalf("GET /recovery/password = %d", resp.Status)
	}
	if code := apiLogin(portalPW); code != 200 {
		t.Errorf("after opening the link the old password answers %d, want 200: opening changes nothing", code)
	}
	const next = "another portal passphrase, long"
	remember(next)
	c.typeInto(t, "new", next)
	c.submit(t, "#reset-password")
	if !strings.Contains(c.text(t, "#reset-done"), "was changed") {
		t.Fatalf("the reset page did not say the password changed")
	}
	if ck := c.cookie(t, "gatehouse_session"); ck != "" {
		t.Errorf("the reset signed the browser in")
	}
	if code := apiLogin(portalPW); code != 401 {
		t.Errorf("the old password answers %d after the reset, want 401", code)
	}
	if code := apiLogin(next); code != 200 {
		t.Errorf("the new password answers %d, want 200", code)
	}
	c.open(t, "/recovery/password?token="+tok)
	c.typeInto(t, "new", next+" again")
	c.submit(t, "#reset-password")
	if !strings.Contains(c.text(t, "p.error"), "unknown, used already or expired") {
		t.Errorf("a spent reset link was not refused")
	}
}
