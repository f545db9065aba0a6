package login_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/login"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// closeAfter makes the account counter close after n wrong passwords, so
// a test need not make a hundred.
func (f *fixture) closeAfter(n int) {
	f.svc.Throttle.Account = throttle.Rule{Limit: n, Max: time.Minute, Forget: 7 * 24 * time.Hour}
}

// fromAddress is req from another address, so the per-source counters
// stay out of the way and only the account counter is at work.
func fromAddress(req login.Request, i int) login.Request {
	req.IP = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
	return req
}

// TestClosedAccountLetsAValidatedNewDeviceIn: strangers' wrong passwords
// close the account to new devices, and the user is told; the owner on a
// new browser still gets in with the right password, the second factor
// and an approval from a trusted device.
func TestClosedAccountLetsAValidatedNewDeviceIn(t *testing.T) {
	f := newFixture(t)
	f.closeAfter(3)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	trusted := f.mustLogin(t, webLogin("maya", pw, cookie))
	trusted, err := f.svc.AnswerTOTP(ctx, trusted.Flow.ID, trusted.Flow.Binding, f.code(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)

	for i := range 3 {
		if _, err := f.svc.Login(ctx, fromAddress(webLogin("maya", "guess", ""), i)); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("stranger's guess %d = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	if e := f.lastEvent(t, u.ID, audit.AccountClosed); e == nil {
		t.Error("no login.account_closed event: the user is not told")
	}
	var te *login.ThrottledError
	if _, err := f.svc.Login(ctx, fromAddress(webLogin("maya", "guess", ""), 10)); !errors.As(err, &te) {
		t.Fatalf("a guess once closed = %v, want ThrottledError", err)
	}

	r, err := f.svc.Login(ctx, fromAddress(webLogin("maya", pw, ""), 20))
	if err != nil || r.Status != "factor_required" {
		t.Fatalf("the owner on a new browser, right password = %+v, %v; want factor_required", r, err)
	}
	r, err = f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed))
	if err != nil || r.Status != "device_approval_required" {
		t.Fatalf("after the second factor = %+v, %v; want device_approval_required", r, err)
	}
	if _, err := f.svc.ApproveDevice(ctx, trusted.Session, r.Device.ID); err != nil {
		t.Fatalf("ApproveDevice from the trusted browser = %v", err)
	}
	if got, state, err := f.svc.Poll(ctx, r.Flow.ID, r.Flow.Binding); err != nil || state != "authenticated" || got.Session == nil {
		t.Errorf("Poll after approval = %+v, %q, %v; want a session", got, state, err)
	}
}

// TestClosedAccountRefusesFirstUseTrust: with the account closed, a new
// device is not trusted on first use: with no trusted device to approve
// it, the closure stands.
func TestClosedAccountRefusesFirstUseTrust(t *testing.T) {
	f := newFixture(t)
	f.closeAfter(3)
	f.addUser(t, "maya", user.Occasional)
	for i := range 3 {
		f.svc.Login(ctx, fromAddress(webLogin("maya", "guess", ""), i))
	}
	var te *login.ThrottledError
	if r, err := f.svc.Login(ctx, fromAddress(webLogin("maya", pw, ""), 20)); !errors.As(err, &te) {
		t.Errorf("right password, no device ever trusted = %+v, %v; want ThrottledError", r, err)
	}
}

// TestPasswordChangeGuessesDoNotCloseTheAccount: wrong current passwords
// through a (stolen) session are counted apart, so they cannot close the
// account to the owner's new devices.
func TestPasswordChangeGuessesDoNotCloseTheAccount(t *testing.T) {
	f := newFixture(t)
	f.closeAfter(3)
	u := f.addUser(t, "maya", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	r := f.mustLogin(t, webLogin("maya", pw, cookie))
	r, err := f.svc.AnswerTOTP(ctx, r.Flow.ID, r.Flow.Binding, f.code(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := f.svc.ChangePassword(ctx, r.Session, "guess", "a new password of some length"); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("wrong current password %d = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	if _, err := f.svc.Login(ctx, fromAddress(webLogin("maya", "guess", ""), 1)); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Errorf("a new device's wrong password after 3 wrong current passwords = %v, want ErrInvalidCredentials (the account is not closed)", err)
	}
}
