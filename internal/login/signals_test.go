package login_test

import (
	"errors"
	"testing"

	"gatehouse/internal/factor"
	"gatehouse/internal/login"
	"gatehouse/internal/playbook"
	"gatehouse/internal/signal"
	"gatehouse/internal/user"
)

// TestForbidSMSSignal: while a forbid-sms signal applied to a profile is
// open, its users cannot enrol SMS nor sign in with a code by text, and
// are offered their other factors; the
// close gives it back.
func TestForbidSMSSignal(t *testing.T) {
	f := newFixture(t)
	inForce := &signal.InForce{List: f.st.ListSignals}
	f.svc.Signals = inForce
	f.addUser(t, "maya", user.Occasional)
	first := f.mustLogin(t, webLogin("maya", pw, ""))
	e, err := f.svc.Enrol(ctx, first.Session, factor.SMS, "", "+441234567890")
	if err != nil {
		t.Fatalf("Enrol(sms) = %v", err)
	}
	if _, err := f.svc.Confirm(ctx, first.Session, e.Factor.ID, smsCode(t, f.texts.last()), nil); err != nil {
		t.Fatalf("Confirm(sms) = %v", err)
	}
	f.enrolTOTP(t, first.Session)

	pb := &playbook.Service{Store: f.st, InForce: inForce, Now: f.clock.Now}
	st, _ := signal.ParseStep("forbid-sms")
	sig, err := pb.Add(ctx, &signal.Signal{Title: "SIM swaps against our customers", Kind: signal.Phishing, Severity: signal.High,
		Profiles: []user.Profile{user.Occasional}, Steps: []signal.Step{st}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Apply(ctx, sig.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	r := f.mustLogin(t, webLogin("maya", pw, first.DeviceCookie))
	for _, fa := range r.Offers {
		if fa.Kind == factor.SMS {
			t.Errorf("SMS offered while a signal forbids it: %+v", r.Offers)
		}
	}
	if _, err := f.svc.SendSMS(ctx, r.Flow.ID, r.Flow.Binding); !errors.Is(err, login.ErrFactorUnavailable) {
		t.Errorf("SendSMS while forbidden = %v, want ErrFactorUnavailable", err)
	}
	f.addUser(t, "nia", user.Occasional)
	nia := f.mustLogin(t, webLogin("nia", pw, ""))
	if _, err := f.svc.Enrol(ctx, nia.Session, factor.SMS, "", "+441234567891"); !errors.Is(err, login.ErrFactorUnavailable) {
		t.Errorf("Enrol(sms) while forbidden = %v, want ErrFactorUnavailable", err)
	}
	if _, err := pb.Close(ctx, sig.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	r = f.mustLogin(t, webLogin("maya", pw, first.DeviceCookie))
	if _, err := f.svc.SendSMS(ctx, r.Flow.ID, r.Flow.Binding); err != nil {
		t.Errorf("SendSMS after the signal closed = %v", err)
	}

}
