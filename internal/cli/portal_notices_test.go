package cli_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPortalNotifications sets the anti-phishing phrase and chooses the
// channels per event on the notifications page, in Chromium; the API then
// answers the same choice, says a phrase is set and never shows it, and
// the security-critical notices stay locked on.
func TestPortalNotifications(t *testing.T) {
	s := portalServer(t)
	c := newChrome(t, s.URL)
	c.signIn(t, "alice", portalPW)
	c.submit(t, `nav a[href="/notifications"]`)
	if h := c.text(t, "h1"); h != "Notifications" {
		t.Fatalf("the menu's Notifications link led to a page headed %q", h)
	}
	eval := func(expr string) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	box := func(id string) string { return `document.getElementById("` + id + `")` }
	if !eval(box("n-password.changed-mail") + `.disabled && ` + box("n-password.changed-mail") + `.checked`) {
		t.Error("the password-changed mail box is not checked and locked")
	}

	const phrase = "herons at the old mill"
	c.do(t, chromedp.SendKeys(chromedp.ID("phrase"), phrase))
	c.submit(t, `form[action="/notifications/phrase"] button[value="save"]`)
	if loc := c.location(t); loc != "/notifications?done=phrase-saved" {
		t.Errorf("after saving the phrase the browser is at %s", loc)
	}
	if st := c.text(t, "#phrase-state"); !strings.Contains(st, "A phrase is set") {
		t.Errorf("phrase state = %q", st)
	}

	// Switch key.rotated off, take push off new sign-ins, add push to
	// key revocations.
	for _, id := range []string{"n-key.rotated-mail", "n-key.rotated-webhook", "n-session.created-push", "n-key.revoked-push"} {
		c.do(t, chromedp.Click(chromedp.CSS(`input[id="`+id+`"]`), chromedp.NodeVisible))
	}
	c.screenshot(t, "chosen")
	c.submit(t, `form[action="/notifications/preferences"] button[type=submit]`)
	if loc := c.location(t); loc != "/notifications?done=notices-saved" {
		t.Errorf("after saving the choices the browser is at %s", loc)
	}
	if n := c.text(t, ".notice"); n != "Your notice choices were saved." {
		t.Errorf("notice = %q", n)
	}
	for id, want := range map[string]bool{"n-key.rotated-mail": false, "n-key.rotated-webhook": false, "n-session.created-push": false,
		"n-session.created-mail": true, "n-key.revoked-push": true, "n-password.changed-push": true} {
		if got := eval(box(id) + `.checked`); got != want {
			t.Errorf("after saving, %s checked = %v, want %v", id, got, want)
		}
	}

	// The API, with the browser's session, answers what the page saved.
	req, _ := http.NewRequest("GET", s.URL+"/v1/notifications/preferences", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: c.cookie(t, "gatehouse_session")})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/notifications/preferences = %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`"key.rotated":[]`, `"session.created":["mail","webhook"]`, `"key.revoked":["mail","push","webhook"]`,
		`"password.changed":["mail","push","webhook"]`, `"phrase_set":true`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the API's preferences lack %s: %s", want, body)
		}
	}
	if strings.Contains(string(body), "herons") {
		t.Errorf("the API reads the phrase back: %s", body)
	}
}
