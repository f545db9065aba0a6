package login_test

import (
	"testing"

	"gatehouse/internal/user"
)

// TestStoreCallsPerLogin counts the store calls of a returning browser's
// password login (no second factor, and one needing TOTP) and of a TOTP
// answer, the figures docs/benchmarks.md reports (before the login
// refactor: 18, 10 and 17; InTx counts as one). A count above its budget
// fails: a change that adds store work to the login path must say so.
func TestStoreCallsPerLogin(t *testing.T) {
	f := newFixture(t)

	plain := f.addUser(t, "plain", user.Occasional)
	cookie := f.trustedBrowser(t, plain)
	f.count.n.take()
	if r := f.mustLogin(t, webLogin("plain", pw, cookie)); r.Status != "authenticated" {
		t.Fatalf("password login: status %q, want authenticated", r.Status)
	}
	password := f.count.n.take()

	strong := f.addUser(t, "strong", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, strong)
	f.count.n.take()
	r := f.mustLogin(t, webLogin("strong", pw, cookie))
	if r.Status != "factor_required" {
		t.Fatalf("TOTP user's login: status %q, want factor_required", r.Status)
	}
	factorLogin := f.count.n.take()
	r, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed))
	if err != nil || r.Status != "authenticated" {
		t.Fatalf("AnswerTOTP = %v, %v; want authenticated", r, err)
	}
	answer := f.count.n.take()

	for _, c := range []struct {
		name   string
		n      map[string]int
		budget int
	}{
		{"password login, web, no second factor", password, 13},
		{"password login, web, TOTP required", factorLogin, 10},
		{"TOTP answer", answer, 14},
	} {
		t.Logf("%s: %d store calls %v", c.name, total(c.n), sorted(c.n))
		if got := total(c.n); got > c.budget {
			t.Errorf("%s: %d store calls, want at most %d", c.name, got, c.budget)
		}
	}
}
