package login_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/login"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// TestSecondFactorGuessingIsCappedAcrossFlows: wrong TOTP codes over many
// logins (each a new flow, after the password again) close the second
// factor at the cap, even to the right code, until the count is
// forgotten; the user is told after a few, and when it closes.
func TestSecondFactorGuessingIsCappedAcrossFlows(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	rule := throttle.DefaultPolicy().Factor
	for i := range rule.Limit {
		f.clock.Add(rule.Max + time.Minute) // past every delay: only the cap stops guessing
		r := f.mustLogin(t, webLogin("maya", pw, cookie))
		if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, wrongCode(f.code(t, seed))); !errors.Is(err, login.ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v, want ErrInvalidCode", i+1, err)
		}
	}
	f.clock.Add(rule.Max + time.Minute)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	var te *login.ThrottledError
	if _, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed)); !errors.As(err, &te) {
		t.Fatalf("right code after %d wrong ones over many logins = %v, want ThrottledError", rule.Limit, err)
	}

	var told []string
	es, err := f.st.AuditOfUser(ctx, u.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if e := es[i]; e.Type == audit.FactorGuessing {
			told = append(told, e.Detail["failures"]+"/"+e.Detail["closed"])
		}
	}
	want := []string{strconv.Itoa(throttle.DefaultPolicy().FactorNotice) + "/false", strconv.Itoa(rule.Limit) + "/true"}
	if len(told) != len(want) || told[0] != want[0] || told[1] != want[1] {
		t.Errorf("factor.guessing events (failures/closed) %v, want %v", told, want)
	}

	f.clock.Add(rule.Forget)
	r = f.mustLogin(t, webLogin("maya", pw, cookie))
	if got, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed)); err != nil || got.Status != "authenticated" {
		t.Errorf("right code once the count is forgotten = %v, %v; want authenticated", got, err)
	}
}
