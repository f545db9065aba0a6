package cli_test

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/internal/approval"
	"gatehouse/internal/approvalcheck"
)

// TestPortalApproval approves a withdrawal with a security key in
// Chromium's virtual authenticator: the portal page shows the details in
// words, the key signs a challenge that commits to their hash, and the
// token lets the transfer through forward-auth once; the upstream check
// refuses the same token's hash for a changed amount.
func TestPortalApproval(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil, "--config", approvalConfig(t))
	s.addUser(t, "alice", portalPW)
	remember(portalPW)
	faSetup(t, s)
	faMember(t, s, "alice", "ACC-L", "owner")

	c := newChrome(t, s.URL)
	c.securityKey(t)
	c.signIn(t, "alice", portalPW)
	c.enrolKeyInPortal(t)
	c.submit(t, `form[action="/logout"] button`)
	c.signIn(t, "alice", portalPW)
	c.submit(t, `[data-webauthn="login"] [data-webauthn-start]`)
	c.waitPath(t, "/")
	ses := http.Header{"Cookie": {"gatehouse_session=" + c.cookie(t, "gatehouse_session")}}

	details := `{"amount":"25000.00","currency":"EUR","destination":{"iban":"DE89370400440532013000","name":"Alice Example"}}`
	var a approvalAnswer
	if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"transfer","details":`+details+`}`, ses, &a); resp.StatusCode != 201 {
		t.Fatalf("POST /v1/approvals = %d %s", resp.StatusCode, body(resp))
	}
	var url string
	for _, w := range a.Approve {
		if w.Method == "security_key" {
			url = w.URL
		}
	}
	if url != "/approvals/"+a.ID {
		t.Fatalf("ways to approve = %+v, want the portal page", a.Approve)
	}

	c.open(t, url)
	shown := c.text(t, "#approval-details")
	if !strings.Contains(shown, "Transfer 25000.00 EUR to DE89370400440532013000 Alice Example") || !strings.Contains(shown, "amount: 25000.00") {
		t.Errorf("the approval page shows %q", shown)
	}
	if h := c.text(t, "#approval-hash"); h != a.Hash {
		t.Errorf("the page shows hash %q, want %q", h, a.Hash)
	}
	c.screenshot(t, "approval")
	c.submit(t, `[data-webauthn="approve"] [data-webauthn-start]`)
	c.waitPath(t, url+"?done=approved")
	c.screenshot(t, "approval-approved")

	var got approvalAnswer
	call(t, http.DefaultClient, "GET", s.URL+"/v1/approvals/"+a.ID, nil, ses, &got)
	if got.Status != "approved" || got.Factor != "webauthn" || got.Token == "" {
		t.Fatalf("approval after the key = %+v", got)
	}
	remember(got.Token)

	resp := faAsk(t, s, "POST", "https://live.localhost/api/transfers", with(ses, "Gatehouse-Approval", got.Token))
	if resp.StatusCode != 200 || resp.Header.Get(approvalcheck.HashHeader) != a.Hash {
		t.Fatalf("transfer with the key's token = %d hash %q", resp.StatusCode, resp.Header.Get(approvalcheck.HashHeader))
	}
	if err := approvalcheck.Verify(resp.Header, []byte(details)); err != nil {
		t.Errorf("upstream check of the approved withdrawal = %v", err)
	}
	changed := strings.Replace(details, "25000.00", "95000.00", 1)
	if err := approvalcheck.Verify(resp.Header, []byte(changed)); err == nil {
		t.Error("upstream accepted the token's hash for a changed amount")
	}
	if h, _ := approval.Hash([]byte(changed)); h == a.Hash {
		t.Error("a changed amount has the approved hash")
	}
	if resp := faAsk(t, s, "POST", "https://live.localhost/api/transfers", with(ses, "Gatehouse-Approval", got.Token)); resp.StatusCode != 403 {
		t.Errorf("the same token again = %d, want 403", resp.StatusCode)
	}

	// The page of a decided approval offers no key.
	c.open(t, url)
	if st := c.text(t, "#approval-state"); !strings.Contains(st, "used") {
		t.Errorf("the page of a used approval says %q", st)
	}
	if h := c.text(t, "h1"); h != "This transfer is used" {
		t.Errorf("the heading of a used approval is %q, want no question left", h)
	}

	// A withdrawal the owner did not ask for, denied on its page with one
	// button (no key): no token, forward-auth keeps refusing, the page
	// offers the freeze, the trail has the denial.
	var d approvalAnswer
	if resp := call(t, http.DefaultClient, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"transfer","details":`+changed+`}`, ses, &d); resp.StatusCode != 201 {
		t.Fatalf("POST /v1/approvals = %d %s", resp.StatusCode, body(resp))
	}
	c.open(t, "/approvals/"+d.ID)
	if shown := c.text(t, "#approval-details"); !strings.Contains(shown, "amount: 95000.00") {
		t.Errorf("the page to deny shows %q", shown)
	}
	c.submit(t, "#approval-deny")
	c.waitPath(t, "/approvals/"+d.ID+"?done=denied")
	c.screenshot(t, "approval-denied")
	if st := c.text(t, "#approval-state"); !strings.Contains(st, "denied") {
		t.Errorf("the page of a denied approval says %q", st)
	}
	if f := c.text(t, "#approval-freeze"); !strings.Contains(f, "freeze your account") {
		t.Errorf("the page of a denied approval offers %q, want the freeze", f)
	}
	var denied approvalAnswer
	call(t, http.DefaultClient, "GET", s.URL+"/v1/approvals/"+d.ID, nil, ses, &denied)
	if denied.Status != "denied" || denied.Token != "" || denied.Freeze == "" {
		t.Errorf("approval after the deny button = %+v, want denied, no token, the freeze named", denied)
	}
	if resp := faAsk(t, s, "POST", "https://live.localhost/api/transfers", ses); resp.StatusCode != 403 || !strings.Contains(body(resp), "approval-required") {
		t.Errorf("transfer after the denial = %d, want 403 approval-required", resp.StatusCode)
	}
	// The form needs the page's token: a POST without it is refused.
	resp = call(t, http.DefaultClient, "POST", s.URL+"/approvals/"+d.ID+"/deny", nil, ses, nil)
	if resp.StatusCode < 400 {
		t.Errorf("a form POST without its token = %d, want refused", resp.StatusCode)
	}
	var trail struct {
		Events []struct {
			Type   string            `json:"type"`
			Detail map[string]string `json:"detail"`
		} `json:"events"`
	}
	call(t, http.DefaultClient, "GET", s.URL+"/v1/audit", nil, ses, &trail)
	found := false
	for _, e := range trail.Events {
		found = found || e.Type == "approval.denied" && e.Detail["approval"] == d.ID && e.Detail["factor"] == "session"
	}
	if !found {
		t.Errorf("audit trail lacks the portal's approval.denied of %s", d.ID)
	}
}
