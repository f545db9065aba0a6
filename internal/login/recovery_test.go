package login_test

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/factor"
	"gatehouse/internal/login"
	"gatehouse/internal/notify"
	"gatehouse/internal/recovery"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

func startReq(name, password string) login.RecoveryStart {
	return login.RecoveryStart{Username: name, Password: password, IP: netip.MustParseAddr("198.51.100.7"), Door: session.Web}
}

// TestRecoveryStartAnswers: only the right password learns of the
// request; a wrong one, an unknown user and a frozen account get the
// same empty answer, and a second start answers the first request with
// its clock.
func TestRecoveryStartAnswers(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	f.withTOTP(t, u)
	for _, tc := range []struct{ name, user, pass string }{
		{"WrongPassword", "alice", "not the password"},
		{"UnknownUser", "nobody", pw},
	} {
		r, err := f.svc.StartRecovery(ctx, startReq(tc.user, tc.pass))
		if err != nil || r != nil {
			t.Errorf("%s: StartRecovery = %v, %v; want nil, nil", tc.name, r, err)
		}
	}
	if _, err := f.st.PendingRecovery(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a wrong password started a recovery: %v", err)
	}
	r, err := f.svc.StartRecovery(ctx, startReq("Alice", pw))
	if err != nil || r == nil {
		t.Fatalf("StartRecovery(right password) = %v, %v", r, err)
	}
	if want := f.clock.Now().Add(recovery.DefaultWait.Trading); !r.CompletesAt.Equal(want) {
		t.Errorf("CompletesAt = %v, want %v", r.CompletesAt, want)
	}
	if e := f.lastEvent(t, u.ID, audit.RecoveryRequested); e == nil || e.Detail["request"] != r.ID {
		t.Errorf("recovery.requested = %+v, want one naming %s", e, r.ID)
	}
	f.clock.Add(20 * time.Hour)
	again, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
	if err != nil || again.ID != r.ID || !again.CompletesAt.Equal(r.CompletesAt) {
		t.Errorf("second StartRecovery = %+v, %v; want the first request and its clock", again, err)
	}
	// A frozen account: the same empty answer, nothing started.
	b := f.addUser(t, "bob", user.Occasional)
	if err := f.st.FreezeUser(ctx, b.ID, f.clock.Now(), b.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := f.svc.StartRecovery(ctx, startReq("bob", pw)); err != nil || r != nil {
		t.Errorf("StartRecovery(frozen) = %v, %v; want nil, nil", r, err)
	}
	if _, err := f.svc.StartRecoveryFor(ctx, b.ID, "lost phone"); err == nil {
		t.Errorf("StartRecoveryFor(frozen) = nil, want refused")
	}
}

// TestRecoveryStartsLimited: starts are counted per username before the
// password is checked, so a flood is refused alike for any user.
func TestRecoveryStartsLimited(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", user.Occasional)
	var refused []string
	for _, name := range []string{"alice", "nobody"} {
		for i := range 7 {
			req := startReq(name, "wrong")
			req.IP = netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}) // a new source each time
			if _, err := f.svc.StartRecovery(ctx, req); err != nil {
				var te *login.ThrottledError
				if !errors.As(err, &te) {
					t.Fatalf("StartRecovery = %v, want a throttle", err)
				}
				refused = append(refused, name)
			}
		}
	}
	if got := len(refused); got != 4 || refused[0] != "alice" || refused[3] != "nobody" {
		t.Errorf("refused %v; want the 6th and 7th start of each user", refused)
	}
}

// TestRecoveryCancelledBySignIn: a sign-in with a real factor cancels the
// pending request, in the sign-in's transaction.
func TestRecoveryCancelledBySignIn(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	cookie, seed, _ := f.withTOTP(t, u)
	r, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	lr := f.mustLogin(t, webLogin("alice", pw, cookie))
	if _, err := f.svc.AnswerTOTP(ctx, lr.Flow.ID, lr.Flow.Binding, f.code(t, seed)); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.RecoveryByID(ctx, r.ID)
	if err != nil || got.Status != recovery.Cancelled || got.EndedBy != "sign_in" {
		t.Errorf("after a TOTP sign-in: %+v, %v; want cancelled by sign_in", got, err)
	}
	if e := f.lastEvent(t, u.ID, audit.RecoveryCancelled); e == nil || e.Detail["by"] != "sign_in" {
		t.Errorf("recovery.cancelled = %+v", e)
	}
}

// TestRecoveryComplete: before the wait ends the right password learns
// only when; after, every session ends and the new session may enrol a
// strong factor and new codes, nothing else.
func TestRecoveryComplete(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	cookie, _, _ := f.withTOTP(t, u)
	r, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	f.clock.Add(47 * time.Hour)
	var we *login.WaitingError
	if _, err := f.svc.CompleteRecovery(ctx, r.ID, webLogin("alice", pw, cookie)); !errors.As(err, &we) || !we.CompletesAt.Equal(r.CompletesAt) {
		t.Errorf("CompleteRecovery before the wait ends = %v, want WaitingError until %v", err, r.CompletesAt)
	}
	f.clock.Add(time.Hour)
	for _, tc := range []struct{ name, id, pass string }{
		{"WrongPassword", r.ID, "not it"},
		{"UnknownRequest", "rcv_AAAAAAAAAAAAAAAAAAAAAA", pw},
	} {
		if _, err := f.svc.CompleteRecovery(ctx, tc.id, webLogin("alice", tc.pass, cookie)); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Errorf("%s: CompleteRecovery = %v, want ErrInvalidCredentials", tc.name, err)
		}
	}
	f.svc.Cooldown = &cooldown.Policy{Length: 24 * time.Hour}
	res, err := f.svc.CompleteRecovery(ctx, r.ID, webLogin("alice", pw, cookie))
	if err != nil || res.Status != "authenticated" || !res.Session.RecoveryOnly() || !res.EnrolmentRequired {
		t.Fatalf("CompleteRecovery = %+v, %v; want a recovery-only session", res, err)
	}
	if got, _ := f.st.UserByID(ctx, u.ID); !got.CooldownUntil.Equal(r.AccountAt) {
		t.Errorf("cool-down after completion until %v, want account_at %v", got.CooldownUntil, r.AccountAt)
	}
	live, err := f.st.SessionsOfUser(ctx, u.ID)
	if err != nil || len(live) != 1 || live[0].ID != res.Session.ID {
		t.Errorf("sessions after completion = %d, %v; want only the recovery's", len(live), err)
	}
	if _, err := f.svc.CompleteRecovery(ctx, r.ID, webLogin("alice", pw, cookie)); !errors.Is(err, login.ErrInvalidCredentials) {
		t.Errorf("CompleteRecovery twice = %v, want ErrInvalidCredentials", err)
	}
	sess := res.Session
	if _, err := f.svc.Enrol(ctx, sess, factor.SMS, "", "+15555550100"); !errors.Is(err, login.ErrFactorUnavailable) {
		t.Errorf("Enrol(sms) from a recovery session = %v, want ErrFactorUnavailable", err)
	}
	if _, err := f.svc.RegenerateRecovery(ctx, sess); err != nil {
		t.Errorf("RegenerateRecovery from a recovery session = %v", err)
	}
	fs, _ := f.st.FactorsOfUser(ctx, u.ID)
	if _, err := f.svc.RemoveFactor(ctx, sess, fs[0].ID); err == nil {
		t.Errorf("RemoveFactor from a recovery session succeeded")
	}
	f.enrolTOTP(t, sess)
	if e := f.lastEvent(t, u.ID, audit.RecoveryCompleted); e == nil || e.Detail["request"] != r.ID {
		t.Errorf("recovery.completed = %+v", e)
	}
}

// TestRecoveryReminders: a 2-day wait is reminded once, a day in, which
// is the day before; an 8-day wait daily, the last a day before.
func TestRecoveryReminders(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait recovery.Wait
		want int
	}{
		{"TwoDays", recovery.DefaultWait, 1},
		{"EightDays", recovery.Wait{Trading: 8 * 24 * time.Hour, Account: 8 * 24 * time.Hour}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.Recovery.Wait = func(user.Profile) recovery.Wait { return tc.wait }
			u := f.addUser(t, "alice", user.Occasional)
			r, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
			if err != nil || r == nil {
				t.Fatal(r, err)
			}
			sent := 0
			for range 24 * 10 {
				f.clock.Add(time.Hour)
				n, err := f.svc.RemindRecoveries(ctx)
				if err != nil {
					t.Fatal(err)
				}
				sent += n
			}
			if sent != tc.want {
				t.Errorf("reminders sent = %d, want %d", sent, tc.want)
			}
			var last *audit.Event
			es, _ := f.st.AuditOfUser(ctx, u.ID, 0, 1000)
			for _, e := range es {
				if e.Type == audit.RecoveryReminder && last == nil {
					last = e
				}
			}
			if last == nil || last.Detail["last_day"] != "true" || !last.Time.Before(r.CompletesAt) {
				t.Errorf("last reminder = %+v; want the one a day before completion", last)
			}
		})
	}
}

// TestRecoveryCancelLink: a notice's cancel link cancels the pending
// request once; a forged, reused or freeze link is refused alike.
func TestRecoveryCancelLink(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	r, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	var cancelTok, freezeTok string
	err = f.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if cancelTok, err = notify.NewLink(ctx, tx, nil, u.ID, store.LinkRecoveryCancel, f.clock.Now().Add(time.Hour)); err != nil {
			return err
		}
		freezeTok, err = notify.NewFreezeLink(ctx, tx, nil, u.ID, f.clock.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{freezeTok, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "short"} {
		if _, err := f.svc.CancelRecoveryByLink(ctx, tok); !errors.Is(err, login.ErrRecoveryLink) {
			t.Errorf("CancelRecoveryByLink(%.8s…) = %v, want ErrRecoveryLink", tok, err)
		}
	}
	if ok, err := f.svc.CancelRecoveryByLink(ctx, cancelTok); err != nil || !ok {
		t.Fatalf("CancelRecoveryByLink = %v, %v; want cancelled", ok, err)
	}
	if _, err := f.svc.CancelRecoveryByLink(ctx, cancelTok); !errors.Is(err, login.ErrRecoveryLink) {
		t.Errorf("CancelRecoveryByLink reused = %v, want ErrRecoveryLink", err)
	}
	got, _ := f.st.RecoveryByID(ctx, r.ID)
	if got.Status != recovery.Cancelled || got.EndedBy != "link" {
		t.Errorf("request after the link = %+v", got)
	}
	if !slices.Contains(f.events(t, u.ID), audit.RecoveryCancelled) {
		t.Errorf("no recovery.cancelled event")
	}
}

// TestRecoveryShortenFourEyes: one administrator cannot end a wait; a
// second, different one with a fresh AAL3 session can, and the user is
// told. A session of less, or of a non-administrator, changes nothing.
func TestRecoveryShortenFourEyes(t *testing.T) {
	f := newFixture(t)
	f.svc.Recovery.Admins = []string{"root", "ops"}
	u := f.addUser(t, "alice", user.Occasional)
	r, err := f.svc.StartRecovery(ctx, startReq("alice", pw))
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	admin := func(name string, aal session.Assurance) *session.Session {
		a := f.addUser(t, name, user.Professional)
		return &session.Session{ID: "ses_" + name, UserID: a.ID, Door: session.Web, Assurance: aal, AuthTime: f.clock.Now()}
	}
	root, ops, mallory := admin("root", session.AAL3), admin("ops", session.AAL2), admin("mallory", session.AAL3)
	if _, _, err := f.svc.ShortenRecovery(ctx, mallory, r.ID, "trust me"); !errors.Is(err, login.ErrNotAdmin) {
		t.Errorf("ShortenRecovery(not an admin) = %v, want ErrNotAdmin", err)
	}
	if _, _, err := f.svc.ShortenRecovery(ctx, ops, r.ID, "video call"); err == nil {
		t.Errorf("ShortenRecovery(AAL2 admin) succeeded")
	}
	if _, done, err := f.svc.ShortenRecovery(ctx, root, r.ID, "passport checked by video"); err != nil || done {
		t.Fatalf("first approval = %v, %v; want recorded, not done", done, err)
	}
	if _, _, err := f.svc.ShortenRecovery(ctx, root, r.ID, "again"); !errors.Is(err, login.ErrSameAdmin) {
		t.Errorf("second approval by the same admin = %v, want ErrSameAdmin", err)
	}
	if got, _ := f.st.RecoveryByID(ctx, r.ID); !got.CompletesAt.Equal(r.CompletesAt) {
		t.Errorf("one approval moved the clock to %v", got.CompletesAt)
	}
	ops.Assurance = session.AAL3
	got, done, err := f.svc.ShortenRecovery(ctx, ops, r.ID, "passport checked by video")
	if err != nil || !done || !got.Ready(f.clock.Now()) || got.ShortenedBy != "root,ops" {
		t.Fatalf("second admin = %+v, %v, %v; want the wait ended", got, done, err)
	}
	if e := f.lastEvent(t, u.ID, audit.RecoveryShortened); e == nil || e.Detail["admins"] != "root,ops" {
		t.Errorf("recovery.shortened = %+v", e)
	}
	if _, _, err := f.svc.ShortenRecovery(ctx, root, "rcv_AAAAAAAAAAAAAAAAAAAAAA", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ShortenRecovery(unknown) = %v, want ErrNotFound", err)
	}
}

// TestPasswordReset: a reset mails a link to a known user only; the link
// sets the new password once, ends every session and signs nobody in; a
// weak password spends nothing; the next login still asks for the
// second factor.
func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	cookie, _, _ := f.withTOTP(t, u)
	ip := netip.MustParseAddr("198.51.100.7")
	for _, name := range []string{"nobody", "alice"} {
		if err := f.svc.RequestPasswordReset(ctx, name, ip); err != nil {
			t.Fatalf("RequestPasswordReset(%s) = %v", name, err)
		}
	}
	ms, err := f.st.ListMessages(ctx, store.MessageFilter{Event: "password.reset_link", Limit: 10})
	if err != nil || len(ms) != 1 || ms[0].UserID != u.ID || ms[0].Destination != u.Email {
		t.Fatalf("reset mails = %d, %v; want one, to alice", len(ms), err)
	}
	var tok string
	f.st.InTx(ctx, func(tx store.Tx) error {
		tok, err = notify.NewLink(ctx, tx, nil, u.ID, store.LinkPasswordReset, f.clock.Now().Add(time.Hour))
		return err
	})
	var we *login.WeakPasswordError
	if err := f.svc.ResetPassword(ctx, tok, "short"); !errors.As(err, &we) {
		t.Errorf("ResetPassword(weak) = %v, want WeakPasswordError", err)
	}
	const next = "a new and long enough passphrase"
	f.svc.Cooldown = &cooldown.Policy{Length: 24 * time.Hour}
	if err := f.svc.ResetPassword(ctx, tok, next); err != nil {
		t.Fatalf("ResetPassword = %v", err)
	}
	if got, _ := f.st.UserByID(ctx, u.ID); !got.CoolingDown(f.clock.Now()) {
		t.Errorf("no cool-down after a reset")
	}
	if err := f.svc.ResetPassword(ctx, tok, next+"!"); !errors.Is(err, login.ErrResetLink) {
		t.Errorf("ResetPassword reused = %v, want ErrResetLink", err)
	}
	if live, _ := f.st.SessionsOfUser(ctx, u.ID); len(live) != 0 {
		t.Errorf("%d sessions live after the reset, want none", len(live))
	}
	r := f.mustLogin(t, webLogin("alice", next, cookie))
	if r.Status != "factor_required" {
		t.Errorf("login with the new password = %s, want factor_required", r.Status)
	}
	if e := f.lastEvent(t, u.ID, audit.PasswordChanged); e == nil || e.Detail["by"] != "reset" {
		t.Errorf("password.changed = %+v", e)
	}
}

// TestPasswordResetAnswersFirst: with the work deferred, a reset request
// for an unknown user and one for a known user make the same store calls
// before answering (the throttles alone), so the answer's time cannot tell
// them apart; the known user's link is mailed once the queue runs, and a
// full queue refuses everyone alike.
func TestPasswordResetAnswersFirst(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	f.svc.Later = login.NewLater(2, nil)
	ip := netip.MustParseAddr("198.51.100.7")
	f.count.n.take()
	var before []map[string]int
	for _, name := range []string{"nobody", "alice"} {
		if err := f.svc.RequestPasswordReset(ctx, name, ip); err != nil {
			t.Fatalf("RequestPasswordReset(%s) = %v", name, err)
		}
		before = append(before, f.count.n.take())
	}
	if !maps.Equal(before[0], before[1]) || before[1]["UserByUsername"] != 0 {
		t.Errorf("store calls before answering: unknown %v, known %v; want the same, no user look-up", before[0], before[1])
	}
	if err := f.svc.RequestPasswordReset(ctx, "carol", ip); !errors.Is(err, login.ErrBusy) {
		t.Errorf("RequestPasswordReset with the queue full = %v, want ErrBusy", err)
	}
	ms, _ := f.st.ListMessages(ctx, store.MessageFilter{Event: "password.reset_link", Limit: 10})
	if len(ms) != 0 {
		t.Fatalf("%d reset mails before the queue ran, want none", len(ms))
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	f.svc.Later.Run(done) // runs what is queued, then returns
	ms, err := f.st.ListMessages(ctx, store.MessageFilter{Event: "password.reset_link", Limit: 10})
	if err != nil || len(ms) != 1 || ms[0].UserID != u.ID {
		t.Fatalf("reset mails after the queue ran = %d, %v; want one, to alice", len(ms), err)
	}
}
