package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/approvalcheck"
)

// approvalsNginx returns the nginx lines docs/approvals.md adds to
// snippets/gatehouse-identity.conf for the worked example.
func approvalsNginx(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "approvals.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Worked example")
	if !ok {
		t.Fatal(`docs/approvals.md: no section "## Worked example"`)
	}
	_, block, ok := strings.Cut(section, "```nginx\n")
	if !ok {
		t.Fatal("docs/approvals.md: the worked example has no nginx block")
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// transfersAPI is the test trading API's POST /api/transfers: it
// executes a transfer only when approvalcheck accepts its body for the
// X-Gatehouse-Approved-Hash nginx passed, and says what it saw.
func transfersAPI(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	executed := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
		if err := approvalcheck.Verify(r.Header, body); err != nil {
			http.Error(w, "not the approved transfer", http.StatusForbidden)
			return
		}
		executed.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"executed": r.Header.Get(approvalcheck.HashHeader)})
	}))
	t.Cleanup(srv.Close)
	return srv, executed
}

// TestNginxApproval runs docs/approvals.md's worked example through
// Debian's nginx, configured as docs/integrations.md and the example
// say, in front of a trading API that checks bodies with approvalcheck:
// a transfer without a token is refused; with the phone's approval it is
// executed once; the same token again, or with a changed amount, is not;
// a client's own X-Gatehouse-Approved-Hash never reaches the upstream.
func TestNginxApproval(t *testing.T) {
	findNginx(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			api, executed := transfersAPI(t)
			s := startServer(t, b.flags(t), nil, "--config", approvalConfig(t))
			faSetup(t, s)
			u, _ := url.Parse(s.URL)
			port := startNginxWith(t, "127.0.0.1:"+u.Port(), strings.TrimPrefix(api.URL, "http://"), approvalsNginx(t))
			proxy := viaProxy(port)

			home, phone := phoneTrader(t, s, "olga", "wintry harbour lantern seventy")
			faMember(t, s, "olga", "ACC-L", "owner")
			ses := sessionHeader(t, s, home)
			details := `{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000","name":"Olga Berg"}}`
			send := func(details string, hdr http.Header) (int, string) {
				t.Helper()
				resp := call(t, proxy, "POST", "http://live.localhost/api/transfers", details, hdr, nil)
				return resp.StatusCode, body(resp)
			}
			approve := func(details string) (hash, token string) {
				t.Helper()
				var a approvalAnswer
				if resp := call(t, home, "POST", s.URL+"/v1/approvals", `{"account":"ACC-L","kind":"transfer","details":`+details+`}`, nil, &a); resp.StatusCode != 201 {
					t.Fatalf("POST /v1/approvals = %d %s", resp.StatusCode, body(resp))
				}
				if out, err := s.authenticator(t, phone, "approve", "--id", a.ID); err != nil {
					t.Fatalf("authenticator approve --id = %v %s", err, out)
				}
				var got approvalAnswer
				call(t, home, "GET", s.URL+"/v1/approvals/"+a.ID, nil, nil, &got)
				if got.Token == "" {
					t.Fatalf("no token after the phone's approval: %+v", got)
				}
				remember(got.Token)
				return a.Hash, got.Token
			}

			// 1. Without a token: refused by nginx on gatehouse's word.
			if code, _ := send(details, ses); code != 403 {
				t.Errorf("transfer without a token through nginx = %d, want 403", code)
			}
			// 2 to 4. Approved on the phone: executed once, with the hash.
			hash, tok := approve(details)
			code, out := send(details, with(ses, "Gatehouse-Approval", tok))
			if code != 200 || !strings.Contains(out, hash) || executed.Load() != 1 {
				t.Fatalf("approved transfer through nginx = %d %s (executed %d), want 200 naming %s", code, out, executed.Load(), hash)
			}
			if code, _ := send(details, with(ses, "Gatehouse-Approval", tok)); code != 403 || executed.Load() != 1 {
				t.Errorf("the same token again = %d (executed %d), want 403", code, executed.Load())
			}
			// A changed amount under a fresh token for the approved one:
			// forward-auth passes it (it never sees the body), the
			// upstream's check refuses it.
			_, tok = approve(details)
			changed := strings.Replace(details, "5000.00", "50000.00", 1)
			if code, out := send(changed, with(ses, "Gatehouse-Approval", tok)); code != 403 || !strings.Contains(out, "not the approved transfer") || executed.Load() != 1 {
				t.Errorf("changed amount with the approved token = %d %s (executed %d), want the upstream's 403", code, out, executed.Load())
			}
			// A client's own hash header is replaced by gatehouse's
			// answer, or by none: with no token nginx refuses before the
			// upstream, and with a spent one too.
			forged, _ := approval.Hash([]byte(changed))
			if code, _ := send(changed, with(ses, approvalcheck.HashHeader, forged)); code != 403 || executed.Load() != 1 {
				t.Errorf("a forged %s = %d (executed %d), want 403", approvalcheck.HashHeader, code, executed.Load())
			}
			_, tok = approve(details)
			if code, out := send(changed, with(ses, "Gatehouse-Approval", tok, approvalcheck.HashHeader, forged)); code != 403 || executed.Load() != 1 {
				t.Errorf("a forged %s beside a token for other details = %d %s (executed %d), want the upstream's 403", approvalcheck.HashHeader, code, out, executed.Load())
			}

			// A cool-down (docs/cooldown.md), started by a password change:
			// an approved transfer is refused by nginx on gatehouse's word,
			// and its token is not spent, so that once an administrator
			// lifts the cool-down the same token goes through, once.
			next := "wintry harbour lantern eighty"
			remember(next)
			if resp := call(t, home, "POST", s.URL+"/v1/password", map[string]string{"current": "wintry harbour lantern seventy", "new": next}, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("password change = %d %s", resp.StatusCode, body(resp))
			}
			hash, tok = approve(details)
			before := executed.Load()
			if code, _ := send(details, with(ses, "Gatehouse-Approval", tok)); code != 403 || executed.Load() != before {
				t.Errorf("approved transfer during the cool-down through nginx = %d (executed %d, was %d), want 403", code, executed.Load(), before)
			}
			s.cli(t, "cooldown", "lift", "--user", "olga", "--reason", "owner confirmed the password change by phone")
			time.Sleep(1100 * time.Millisecond) // the membership cache's bound, for a notification still on its way
			if code, out := send(details, with(ses, "Gatehouse-Approval", tok)); code != 200 || !strings.Contains(out, hash) || executed.Load() != before+1 {
				t.Errorf("the same token after the lift = %d %s (executed %d), want 200: the refusal must not have spent it", code, out, executed.Load())
			}
		})
	}
}
