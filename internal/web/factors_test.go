package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

var confirmRe = regexp.MustCompile(`action="/factors/(fac_[^/"]+)/confirm"`)

// TestEnrolTOTP adds an authenticator app through the pages: the QR code
// and the key to type, a wrong first code, the right one, and the
// recovery codes that come with the first strong factor.
func TestEnrolTOTP(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Occasional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	list := b.get(t, "/factors")
	golden(t, "factors-none", list, http.StatusOK)
	tok := csrf(t, list)

	enrol := b.post(t, "/factors/totp", url.Values{"csrf": {tok}, "name": {"Work phone"}})
	golden(t, "factor-totp", enrol, http.StatusOK)
	if !strings.Contains(enrol.Body, `<img class="qr" src="data:image/png;base64,`) {
		t.Error("no QR code image in a data: URL")
	}
	secret := strings.ReplaceAll(totpSecretRe.FindStringSubmatch(enrol.Body)[1], " ", "")
	id := confirmRe.FindStringSubmatch(enrol.Body)[1]

	wrong := b.post(t, "/factors/"+id+"/confirm", url.Values{"csrf": {tok}, "code": {"000000"}})
	golden(t, "factor-totp-wrong", wrong, http.StatusUnprocessableEntity)
	if strings.Contains(wrong.Body, secret) {
		t.Error("the page after a wrong code shows the secret again")
	}
	done := b.post(t, "/factors/"+id+"/confirm", url.Values{"csrf": {tok}, "code": {code(t, e, secret)}})
	golden(t, "recovery", done, http.StatusOK)
	codes := codesRe.FindAllStringSubmatch(done.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes on the page, want 10", len(codes))
	}
	m := regexp.MustCompile(`href="(data:text/plain;charset=utf-8,[^"]+)" download="gatehouse-recovery-codes.txt"`).FindStringSubmatch(done.Body)
	if m == nil {
		t.Fatal("no download link for the codes")
	}
	file, err := url.PathUnescape(strings.TrimPrefix(strings.ReplaceAll(m[1], "&#43;", "+"), "data:text/plain;charset=utf-8,"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !strings.Contains(file, c[1]+"\n") {
			t.Errorf("the download lacks code %s", c[1])
		}
	}
	golden(t, "factors", b.get(t, "/factors?done=factor-added"), http.StatusOK)
}

// TestEnrolStartAgain: a pending factor that could not be confirmed is
// replaced, not left behind.
func TestEnrolStartAgain(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", alicePW, user.Occasional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "alice", alicePW)
	tok := csrf(t, b.get(t, "/factors"))
	first := confirmRe.FindStringSubmatch(b.post(t, "/factors/totp", url.Values{"csrf": {tok}}).Body)[1]
	wrong := b.post(t, "/factors/"+first+"/confirm", url.Values{"csrf": {tok}, "code": {"000000"}})
	if !strings.Contains(wrong.Body, `name="replace" value="`+first+`"`) {
		t.Fatal("the wrong-code page offers no start again")
	}
	again := b.post(t, "/factors/totp", url.Values{"csrf": {tok}, "replace": {first}})
	if again.Code != http.StatusOK || confirmRe.FindStringSubmatch(again.Body)[1] == first {
		t.Fatalf("start again = %d", again.Code)
	}
	fs, _ := e.st.FactorsOfUser(ctx, "usr_alice")
	if len(fs) != 1 || fs[0].ID == first {
		t.Errorf("after starting again: %d factors, want the new one only", len(fs))
	}
	// Another user's factor is not found, whatever the form says.
	e.addUser(t, "bob", "bob's own long passphrase", user.Occasional)
	bob := e.browser(safariUA)
	bob.mustLogin(t, "bob", "bob's own long passphrase")
	btok := csrf(t, bob.get(t, "/factors"))
	for _, path := range []string{"/factors/" + fs[0].ID + "/confirm", "/factors/" + fs[0].ID + "/remove"} {
		if a := bob.post(t, path, url.Values{"csrf": {btok}, "code": {"123456"}}); a.Code != http.StatusNotFound {
			t.Errorf("bob: POST %s = %d, want 404", path, a.Code)
		}
	}
	bob.post(t, "/factors/totp", url.Values{"csrf": {btok}, "replace": {fs[0].ID}})
	if _, err := e.st.FactorByID(ctx, fs[0].ID); err != nil {
		t.Error("bob's start again removed alice's factor")
	}
}

// TestRemoveFactor: removing a factor asks for a fresh proof, and the last
// strong factor stays.
func TestRemoveFactor(t *testing.T) {
	e := newEnv(t)
	home, secret, _ := totpUser(t, e)
	e.clock.Set(e.clock.Now().Add(10 * time.Minute)) // the proof of the sign-in grows old
	list := home.get(t, "/factors")
	id := regexp.MustCompile(`action="/factors/(fac_[^/"]+)/remove"`).FindStringSubmatch(list.Body)[1]
	step := home.post(t, "/factors/"+id+"/remove", url.Values{"csrf": {csrf(t, list)}})
	if step.Code != http.StatusForbidden || !strings.Contains(step.Body, "Removing a sign-in method needs a fresh confirmation") {
		t.Fatalf("remove with an old proof = %d, want the step-up page\n%s", step.Code, step.Body)
	}
	old := home.cookie("gatehouse_session")
	wrong := home.post(t, "/stepup", url.Values{"csrf": {csrf(t, step)}, "back": {"/factors"}, "code": {"000000"}})
	if wrong.Code != http.StatusUnprocessableEntity || !strings.Contains(wrong.Body, "That did not work") {
		t.Errorf("step-up with a wrong code = %d", wrong.Code)
	}
	up := home.post(t, "/stepup", url.Values{"csrf": {csrf(t, step)}, "back": {"https://evil.example/"}, "code": {code(t, e, secret)}})
	if up.Code != http.StatusSeeOther || up.Location() != "/?done=confirmed" {
		t.Fatalf("step-up = %d → %q; want home (a foreign back is not followed)", up.Code, up.Location())
	}
	if home.cookie("gatehouse_session") == old {
		t.Fatal("the step-up kept the old session token")
	}
	if _, err := e.sessions.Resolve(ctx, old); err == nil {
		t.Error("the token from before the step-up still works")
	}
	signedInAs(t, e, home, session.AAL2)
	list = home.get(t, "/factors")
	last := home.post(t, "/factors/"+id+"/remove", url.Values{"csrf": {csrf(t, list)}})
	if last.Code != http.StatusConflict || !strings.Contains(last.Body, "This is your last strong sign-in method.") {
		t.Errorf("removing the last strong factor = %d", last.Code)
	}
	// With a phone as well, the app can go.
	enrolPhone(t, e, home)
	if a := home.post(t, "/factors/"+id+"/remove", url.Values{"csrf": {csrf(t, list)}}); a.Code != http.StatusSeeOther || a.Location() != "/factors?done=factor-removed" {
		t.Fatalf("remove with another strong factor = %d → %q\n%s", a.Code, a.Location(), a.Body)
	}
	if _, err := e.st.FactorByID(ctx, id); err == nil {
		t.Error("the factor is still there")
	}
}

func TestRegenerateRecovery(t *testing.T) {
	e := newEnv(t)
	home, secret, codes := totpUser(t, e)
	e.clock.Set(e.clock.Now().Add(10 * time.Minute))
	list := home.get(t, "/factors")
	step := home.post(t, "/factors/recovery", url.Values{"csrf": {csrf(t, list)}})
	if step.Code != http.StatusForbidden {
		t.Fatalf("new codes with an old proof = %d, want the step-up page", step.Code)
	}
	home.post(t, "/stepup", url.Values{"csrf": {csrf(t, step)}, "back": {"/factors"}, "code": {code(t, e, secret)}})
	page := home.post(t, "/factors/recovery", url.Values{"csrf": {csrf(t, home.get(t, "/factors"))}})
	fresh := codesRe.FindAllStringSubmatch(page.Body, -1)
	if page.Code != http.StatusOK || len(fresh) != 10 || fresh[0][1] == codes[0] {
		t.Fatalf("new codes = %d, %d codes", page.Code, len(fresh))
	}
	if n := strings.Count(home.get(t, "/factors").Body, "10 of 10 codes unused"); n != 1 {
		t.Error("the factors page does not count the new codes")
	}
}

func TestEnrolPush(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "pat", alicePW, user.Mobile)
	b := e.browser(safariUA)
	b.mustLogin(t, "pat", alicePW)
	page := b.post(t, "/factors/push", url.Values{"csrf": {csrf(t, b.get(t, "/factors"))}})
	golden(t, "factor-push", page, http.StatusOK)
	for _, want := range []string{`<img class="qr" src="data:image/png;base64,`, "gatehouse authenticator enrol --server " + origin + " --code "} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the push enrolment page lacks %q", want)
		}
	}
}

// TestPolicyForbidsSMS: a professional is not offered SMS, and cannot add
// it by posting the form anyway.
func TestPolicyForbidsSMS(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "pro", alicePW, user.Professional)
	b := e.browser(firefoxUA)
	b.mustLogin(t, "pro", alicePW)
	list := b.get(t, "/factors")
	if strings.Contains(list.Body, `action="/factors/sms"`) {
		t.Error("a professional is offered SMS")
	}
	a := b.post(t, "/factors/sms", url.Values{"csrf": {csrf(t, list)}, "phone": {"+447700900123"}})
	if a.Code != http.StatusConflict || !strings.Contains(a.Body, "policy does not allow it") {
		t.Errorf("a professional adding SMS = %d", a.Code)
	}
	if len(e.texts.msgs) != 0 {
		t.Error("a text was sent anyway")
	}
}
