package storetest

import (
	"errors"
	"testing"
	"time"

	"gatehouse/internal/factor/push"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

// flowTests are the conformance tests of [store.Flows], [store.Pushes],
// [store.Enrolments], [store.DeviceApprovals] and [store.Purger].
var flowTests = []suiteTest{
	{"Flows", testFlows},
	{"PushRequests", testPushRequests},
	{"OneTimeTokens", testOneTimeTokens},
	{"PurgeExpired", testPurgeExpired},
}

func testFlows(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	f := &flow.Flow{ID: "flw_1", UserID: u.ID, Door: session.Web, Binding: "cookie:ab", IP: "192.0.2.1", State: flow.Factor,
		Assurance: session.AAL1, AMR: "pwd", CreatedAt: T0, ExpiresAt: T0.Add(5 * time.Minute)}
	if err := s.CreateFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	a, _ := s.FlowByID(ctx, "flw_1")
	b, _ := s.FlowByID(ctx, "flw_1")
	a.Attempts, a.Challenge = 1, []byte(`{"n":42}`)
	if err := s.UpdateFlow(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Attempts = 1
	if err := s.UpdateFlow(ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	got, _ := s.FlowByID(ctx, "flw_1")
	if got.Attempts != 1 || got.Version != 1 || a.Version != 1 || string(got.Challenge) != `{"n":42}` || !got.ExpiresAt.Equal(f.ExpiresAt) {
		t.Errorf("flow = %+v", got)
	}
}

func testPushRequests(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	mk := func(id string, created time.Time) *push.Request {
		p := &push.Request{Challenge: push.Challenge{ID: id, UserID: u.ID, Number: 42, Interface: "web", IP: "192.0.2.1", DeviceName: "Firefox",
			CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute)}, FlowID: "flw_1", Purpose: push.PurposeLogin, Outcome: push.RequestPending}
		if err := s.CreatePushRequest(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk("p1", T0)
	mk("p2", T0.Add(time.Minute))
	mk("old", T0.Add(-time.Hour))
	pending, _ := s.PendingPushRequests(ctx, u.ID, T0.Add(30*time.Second))
	if len(pending) != 2 || pending[0].ID != "p1" || pending[0].Number != 42 {
		t.Errorf("PendingPushRequests = %+v", pending)
	}
	if err := s.AnswerPushRequest(ctx, "p1", push.RequestApproved, T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.AnswerPushRequest(ctx, "p1", push.RequestDenied, T0.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("answering twice: %v", err)
	}
	got, _ := s.PushRequestByID(ctx, "p1")
	if got.Outcome != push.RequestApproved || !got.AnsweredAt.Equal(T0.Add(time.Second)) || got.FlowID != "flw_1" {
		t.Errorf("answered request = %+v", got)
	}
	since, _ := s.PushRequestsSince(ctx, u.ID, T0)
	if len(since) != 2 || since[0].ID != "p2" {
		t.Errorf("PushRequestsSince = %d, want p2, p1", len(since))
	}
}

func testOneTimeTokens(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	if err := s.CreatePushEnrolment(ctx, u.ID, []byte("code"), T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemPushEnrolment(ctx, []byte("code"), T0.Add(2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired enrolment redeemed: %v", err)
	}
	if id, err := s.RedeemPushEnrolment(ctx, []byte("code"), T0); err != nil || id != u.ID {
		t.Errorf("RedeemPushEnrolment = %q, %v", id, err)
	}
	if _, err := s.RedeemPushEnrolment(ctx, []byte("code"), T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enrolment redeemed twice: %v", err)
	}
	s.CreateDeviceApproval(ctx, []byte("tok"), "dev_1", u.ID, T0.Add(time.Hour))
	if d, uid, err := s.UseDeviceApproval(ctx, []byte("tok"), T0); err != nil || d != "dev_1" || uid != u.ID {
		t.Errorf("UseDeviceApproval = %q %q %v", d, uid, err)
	}
	if _, _, err := s.UseDeviceApproval(ctx, []byte("tok"), T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approval link used twice: %v", err)
	}
}

func testPurgeExpired(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	flow := func(id string, expires time.Time) {
		if err := s.CreateFlow(ctx, &flow.Flow{ID: id, UserID: u.ID, Door: session.Web, Binding: "b", State: flow.Factor,
			Assurance: session.AAL1, CreatedAt: T0, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	flow("flw_old", T0.Add(time.Minute))
	flow("flw_live", T0.Add(time.Hour))
	s.CreatePushEnrolment(ctx, u.ID, []byte("c"), T0.Add(time.Minute))
	s.CreateDeviceApproval(ctx, []byte("t"), "dev", u.ID, T0.Add(time.Minute))
	s.CreatePushRequest(ctx, &push.Request{Challenge: push.Challenge{ID: "p_old", UserID: u.ID, Number: 11, CreatedAt: T0.Add(-100 * 24 * time.Hour),
		ExpiresAt: T0}, Purpose: push.PurposeLogin, Outcome: push.RequestExpired})
	s.CreatePushRequest(ctx, &push.Request{Challenge: push.Challenge{ID: "p_new", UserID: u.ID, Number: 12, CreatedAt: T0,
		ExpiresAt: T0.Add(time.Minute)}, Purpose: push.PurposeLogin, Outcome: push.RequestPending})
	rule := throttle.Rule{Free: 1, Base: time.Second, Max: time.Hour}
	for key, at := range map[string]time.Time{"idle": T0.Add(-100 * 24 * time.Hour), "busy": T0} {
		s.Reserve(ctx, key, func(st throttle.State) (throttle.State, bool) { n, ok, _ := rule.Reserve(st, at); return n, ok })
	}
	n, err := s.PurgeExpired(ctx, T0.Add(30*time.Minute), T0.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("PurgeExpired removed %d rows, want 5 (a flow, a code, a link, a push, a counter)", n)
	}
	if _, err := s.FlowByID(ctx, "flw_live"); err != nil {
		t.Errorf("live flow purged: %v", err)
	}
	if _, err := s.PushRequestByID(ctx, "p_new"); err != nil {
		t.Errorf("recent push purged: %v", err)
	}
	if st, _, _ := s.Reserve(ctx, "busy", func(st throttle.State) (throttle.State, bool) { return st, false }); st.Failures != 1 {
		t.Errorf("active throttle counter purged: %+v", st)
	}
}
