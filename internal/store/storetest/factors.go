package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

// factorTests are the conformance tests of [store.Factors] and of the
// session and device methods the factor flows need.
var factorTests = []struct {
	name string
	f    func(*testing.T, store.Store)
}{
	{"Factors", testFactors},
	{"TOTPStepOnce", testTOTPStepOnce},
	{"RecoveryCodes", testRecoveryCodes},
	{"Flows", testFlows},
	{"PushRequests", testPushRequests},
	{"OneTimeTokens", testOneTimeTokens},
	{"RaiseAndDeviceSessions", testRaiseAndDeviceSessions},
	{"PurgeExpired", testPurgeExpired},
}

func testFactors(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	f := &factor.Factor{ID: "fac_1", UserID: u.ID, Kind: factor.WebAuthn, Name: "YubiKey", Status: factor.Pending, CredentialID: []byte{1, 2, 3},
		Data: []byte(`{"x":1}`), CreatedAt: T0}
	if err := s.CreateFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	dup := *f
	dup.ID = "fac_2"
	if err := s.CreateFactor(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate credential id: %v, want ErrConflict", err)
	}
	totp := &factor.Factor{ID: "fac_3", UserID: u.ID, Kind: factor.TOTP, Status: factor.Active, Secret: []byte("sealed"), CreatedAt: T0.Add(time.Second)}
	if err := s.CreateFactor(ctx, totp); err != nil {
		t.Fatal(err)
	}
	got, err := s.FactorByCredentialID(ctx, []byte{1, 2, 3})
	if err != nil || got.ID != "fac_1" || string(got.Data) != `{"x":1}` || got.Status != factor.Pending {
		t.Fatalf("FactorByCredentialID = %+v, %v", got, err)
	}
	f.Status, f.DeviceBound, f.ConfirmedAt, f.Flag = factor.Active, true, T0.Add(time.Minute), factor.FlagPossibleClone
	if err := s.UpdateFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, _ = s.FactorByID(ctx, "fac_1")
	if got.Status != factor.Active || !got.DeviceBound || !got.ConfirmedAt.Equal(f.ConfirmedAt) || got.Flag != factor.FlagPossibleClone {
		t.Errorf("after UpdateFactor: %+v", got)
	}
	list, _ := s.FactorsOfUser(ctx, u.ID)
	if len(list) != 2 || list[0].ID != "fac_1" || string(list[1].Secret) != "sealed" {
		t.Errorf("FactorsOfUser = %+v", list)
	}
	if err := s.DeleteFactor(ctx, "fac_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FactorByID(ctx, "fac_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted factor: %v", err)
	}
}

func testTOTPStepOnce(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	s.CreateFactor(ctx, &factor.Factor{ID: "fac_t", UserID: u.ID, Kind: factor.TOTP, Status: factor.Active, CreatedAt: T0})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.AdvanceTOTP(ctx, "fac_t", 1000, T0); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("one step accepted %d times in parallel, want once", ok)
	}
	if err := s.AdvanceTOTP(ctx, "fac_t", 999, T0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("older step: %v, want ErrConflict", err)
	}
	if err := s.AdvanceTOTP(ctx, "fac_t", 1001, T0); err != nil {
		t.Errorf("next step: %v", err)
	}
	f, _ := s.FactorByID(ctx, "fac_t")
	if f.LastStep != 1001 || !f.LastUsedAt.Equal(T0) {
		t.Errorf("LastStep = %d, LastUsedAt %v", f.LastStep, f.LastUsedAt)
	}
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	if err := s.SetRecoveryCodes(ctx, u.ID, [][]byte{[]byte("h0"), []byte("h1")}, T0); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, 1, T0); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, 1, T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second use: %v, want ErrNotFound", err)
	}
	codes, _ := s.RecoveryCodes(ctx, u.ID)
	if len(codes) != 2 || !codes[0].UsedAt.IsZero() || !codes[1].UsedAt.Equal(T0) || string(codes[0].Hash) != "h0" {
		t.Errorf("RecoveryCodes = %+v", codes)
	}
	s.SetRecoveryCodes(ctx, u.ID, [][]byte{[]byte("n0")}, T0)
	codes, _ = s.RecoveryCodes(ctx, u.ID)
	if len(codes) != 1 || string(codes[0].Hash) != "n0" {
		t.Errorf("after regeneration: %+v, want only the new code", codes)
	}
}

func testFlows(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	f := &session.Flow{ID: "flw_1", UserID: u.ID, Interface: session.Web, Binding: "cookie:ab", IP: "192.0.2.1", State: session.FlowFactor,
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
	mk := func(id string, created time.Time) *factor.PushRequest {
		p := &factor.PushRequest{Challenge: push.Challenge{ID: id, UserID: u.ID, Number: 42, Interface: "web", IP: "192.0.2.1", DeviceName: "Firefox",
			CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute)}, FlowID: "flw_1", Purpose: factor.PurposeLogin, Outcome: factor.PushPending}
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
	if err := s.AnswerPushRequest(ctx, "p1", factor.PushApproved, T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.AnswerPushRequest(ctx, "p1", factor.PushDenied, T0.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("answering twice: %v", err)
	}
	got, _ := s.PushRequestByID(ctx, "p1")
	if got.Outcome != factor.PushApproved || !got.AnsweredAt.Equal(T0.Add(time.Second)) || got.FlowID != "flw_1" {
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

func testRaiseAndDeviceSessions(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	d := &device.Device{ID: "dev_1", UserID: u.ID, Interface: "web", Fingerprint: "cookie:1", Status: device.Pending, CreatedAt: T0, LastSeenAt: T0}
	s.CreateDevice(ctx, d)
	if err := s.SetDeviceStatus(ctx, "dev_1", device.Trusted); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeviceByID(ctx, "dev_1"); err != nil || got.Status != device.Trusted {
		t.Errorf("DeviceByID = %+v, %v", got, err)
	}
	a := NewSession(t, s, u, "ses_a", T0)
	a.DeviceID = "dev_1"
	b := &session.Session{ID: "ses_b", UserID: u.ID, Interface: session.Web, TokenHash: []byte("hb"), DeviceID: "dev_1", Assurance: session.AAL1, AMR: "pwd",
		AuthTime: T0, CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour), Idle: time.Minute}
	s.CreateSession(ctx, b)
	if got, _ := s.SessionByID(ctx, "ses_b"); got.AMR != "pwd" {
		t.Errorf("AMR = %q, want pwd", got.AMR)
	}
	if err := s.RaiseSession(ctx, "ses_b", session.AAL3, "pwd hwk", T0.Add(time.Minute), []byte("hb2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, []byte("hb")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old token still finds the raised session: %v", err)
	}
	got, _ := s.SessionByTokenHash(ctx, []byte("hb2"))
	if got == nil || got.Assurance != session.AAL3 || got.AMR != "pwd hwk" || !got.AuthTime.Equal(T0.Add(time.Minute)) {
		t.Errorf("raised session = %+v", got)
	}
	ids, err := s.EndSessionsOfDevice(ctx, "dev_1", T0, session.EndRevoked)
	if err != nil || len(ids) != 1 || ids[0] != "ses_b" {
		t.Errorf("EndSessionsOfDevice = %v, %v; want [ses_b] (ses_a has no device)", ids, err)
	}
}

func testPurgeExpired(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	flow := func(id string, expires time.Time) {
		if err := s.CreateFlow(ctx, &session.Flow{ID: id, UserID: u.ID, Interface: session.Web, Binding: "b", State: session.FlowFactor,
			Assurance: session.AAL1, CreatedAt: T0, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	flow("flw_old", T0.Add(time.Minute))
	flow("flw_live", T0.Add(time.Hour))
	s.CreatePushEnrolment(ctx, u.ID, []byte("c"), T0.Add(time.Minute))
	s.CreateDeviceApproval(ctx, []byte("t"), "dev", u.ID, T0.Add(time.Minute))
	s.CreatePushRequest(ctx, &factor.PushRequest{Challenge: push.Challenge{ID: "p_old", UserID: u.ID, Number: 11, CreatedAt: T0.Add(-100 * 24 * time.Hour),
		ExpiresAt: T0}, Purpose: factor.PurposeLogin, Outcome: factor.PushExpired})
	s.CreatePushRequest(ctx, &factor.PushRequest{Challenge: push.Challenge{ID: "p_new", UserID: u.ID, Number: 12, CreatedAt: T0,
		ExpiresAt: T0.Add(time.Minute)}, Purpose: factor.PurposeLogin, Outcome: factor.PushPending})
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
