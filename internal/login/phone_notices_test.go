package login_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/login"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// phoneID returns the factor id of the user's one phone.
func phoneID(t *testing.T, f *fixture, userID string) string {
	t.Helper()
	fs, err := f.st.FactorsOfUser(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range fs {
		if x.Kind == "push" {
			return x.ID
		}
	}
	t.Fatal("no phone")
	return ""
}

// noticeTo stores a pending push notice of event to the phone, due at due.
func noticeTo(t *testing.T, f *fixture, id, userID, phone, event string, due time.Time) {
	t.Helper()
	m := &store.Message{ID: id, Channel: store.ChannelPush, Event: event, UserID: userID, Destination: phone, CreatedAt: f.clock.Now(), NextAttemptAt: due,
		Payload: []byte(`{"kind":"notice","notice":{"ID":"ntc_1","Event":"` + event + `","UserID":"` + userID + `","Interface":"web","IP":"192.0.2.10","Detail":{"key":"gh_live_1"}}}`)}
	if err := f.st.EnqueueMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// answerNotice sends the phone's signed answer to notice id.
func (p *phone) answerNotice(t *testing.T, id string, d push.Decision, number int, at time.Time) ([]byte, error) {
	t.Helper()
	body := p.signed(t, push.Response{ChallengeID: id, Decision: d, Number: number, SignedAt: at.Truncate(time.Second)})
	_, err := p.f.svc.PhoneAnswer(ctx, p.jkt, body)
	return body, err
}

// TestPhoneNoticeAnswers: the phone is given its own due notices only;
// its answers are taken when fresh, signed, about its own notice, and
// once; "This wasn't me" is audited and freezes the account in the
// answer's transaction.
func TestPhoneNoticeAnswers(t *testing.T) {
	f := newFixture(t)
	var frozen []string
	f.svc.Freeze = func(_ context.Context, tx store.Tx, userID, by string, now time.Time) (func(), error) {
		frozen = append(frozen, userID+" by "+by)
		return nil, tx.FreezeUser(ctx, userID, now, by)
	}
	u := f.addUser(t, "alice", user.Occasional)
	f.addUser(t, "bob", user.Occasional)
	ph := f.enrolPhone(t, f.mustLogin(t, webLogin("alice", pw, "")).Session)
	bobs := f.enrolPhone(t, f.mustLogin(t, webLogin("bob", pw, "")).Session)
	now := f.clock.Now()
	noticeTo(t, f, "msg_a1", u.ID, phoneID(t, f, u.ID), "key.created", now)
	noticeTo(t, f, "msg_a2", u.ID, phoneID(t, f, u.ID), "notice.summary", now.Add(time.Hour))
	noticeTo(t, f, "msg_b1", "usr_bob", phoneID(t, f, "usr_bob"), "key.created", now)

	ns, err := f.svc.PhoneNotices(ctx, ph.jkt)
	if err != nil || len(ns) != 1 || ns[0].ID != "msg_a1" || ns[0].Subject != "A new API key was created" || !ns[0].Critical || len(ns[0].Facts) == 0 {
		t.Fatalf("PhoneNotices = %+v, %v; want msg_a1 alone (bob's is his, the summary not due)", ns, err)
	}
	for _, tc := range []struct {
		name   string
		id     string
		d      push.Decision
		number int
		at     time.Time
		want   error
	}{
		{"Stale", "msg_a1", push.Seen, 0, now.Add(-10 * time.Minute), login.ErrInvalidCode},
		{"Future", "msg_a1", push.Report, 0, now.Add(10 * time.Minute), login.ErrInvalidCode},
		{"Number", "msg_a1", push.Report, 42, now, login.ErrInvalidCode},
		{"Approve", "msg_a1", push.Approve, 0, now, login.ErrInvalidCode},
		{"OthersNotice", "msg_b1", push.Report, 0, now, login.ErrFlow},
		{"Unknown", "msg_nothing", push.Report, 0, now, login.ErrFlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ph.answerNotice(t, tc.id, tc.d, tc.number, tc.at); !errors.Is(err, tc.want) {
				t.Errorf("PhoneAnswer = %v, want %v", err, tc.want)
			}
		})
	}
	if m, _ := f.st.MessageByID(ctx, "msg_b1"); m.State != store.MessagePending || len(frozen) != 0 {
		t.Fatalf("refused answers changed something: bob's notice %s, frozen %v", m.State, frozen)
	}

	body, err := ph.answerNotice(t, "msg_a1", push.Seen, 0, now)
	if err != nil {
		t.Fatalf("seen = %v", err)
	}
	if m, _ := f.st.MessageByID(ctx, "msg_a1"); m.State != store.MessageDelivered {
		t.Errorf("notice the phone has = %s, want delivered", m.State)
	}
	if _, err := f.svc.PhoneAnswer(ctx, ph.jkt, body); !errors.Is(err, login.ErrFlow) {
		t.Errorf("the same answer again = %v, want ErrFlow", err)
	}
	if ns, _ := f.svc.PhoneNotices(ctx, ph.jkt); len(ns) != 0 {
		t.Errorf("PhoneNotices after seen = %+v, want none", ns)
	}
	// Bob's phone cannot answer alice's notice.
	if _, err := bobs.answerNotice(t, "msg_a1", push.Report, 0, now); !errors.Is(err, login.ErrFlow) {
		t.Errorf("bob's phone reporting alice's notice = %v, want ErrFlow", err)
	}

	// "This wasn't me", to a notice already seen.
	f.clock.Add(time.Second)
	if _, err := ph.answerNotice(t, "msg_a1", push.Report, 0, f.clock.Now()); err != nil {
		t.Fatalf("report = %v", err)
	}
	if len(frozen) != 1 || frozen[0] != u.ID+" by phone:"+phoneID(t, f, u.ID) {
		t.Errorf("frozen = %v, want alice by her phone", frozen)
	}
	if e := f.lastEvent(t, u.ID, audit.NoticeReported); e == nil || e.Detail["notice"] != "msg_a1" || e.Detail["event"] != "key.created" {
		t.Errorf("notice.reported event = %+v", e)
	}
	// Reported again a minute on (another signed_at, so another answer):
	// refused, no second freeze.
	f.clock.Add(time.Minute)
	if _, err := ph.answerNotice(t, "msg_a1", push.Report, 0, f.clock.Now()); !errors.Is(err, login.ErrFlow) {
		t.Errorf("a second report of the notice = %v, want ErrFlow", err)
	}
	if len(frozen) != 1 {
		t.Errorf("frozen = %v after a second report, want one freeze", frozen)
	}
	// Too late: a week after the notice, it is no longer answered.
	f.clock.Add(login.PhoneNoticeAnswerable)
	if _, err := ph.answerNotice(t, "msg_a1", push.Report, 0, f.clock.Now()); !errors.Is(err, login.ErrFlow) && !errors.Is(err, login.ErrFactorUnavailable) {
		t.Errorf("report a week on = %v, want refused", err)
	}
}
