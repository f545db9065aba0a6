package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// factorTests are the conformance tests of [store.Factors] and
// [store.RecoveryCodes], and of the session and device methods the factor
// flows need.
var factorTests = []suiteTest{
	{"Factors", testFactors},
	{"TOTPStepOnce", testTOTPStepOnce},
	{"RecoveryCodes", testRecoveryCodes},
	{"RaiseAndDeviceSessions", testRaiseAndDeviceSessions},
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
	bob := NewUser(t, s, "bob")
	if err := s.CreateFactor(ctx, &factor.Factor{ID: "fac_4", UserID: bob.ID, Kind: factor.SMS, Status: factor.Active, Phone: "+447700900123", CreatedAt: T0}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListFactors(ctx)
	var ids []string
	for _, f := range all {
		ids = append(ids, f.UserID+"/"+f.ID)
	}
	if want := []string{u.ID + "/fac_1", u.ID + "/fac_3", bob.ID + "/fac_4"}; err != nil || !slices.Equal(ids, want) && !slices.Equal(ids, []string{want[2], want[0], want[1]}) {
		t.Errorf("ListFactors = %v, %v; want every user's, each user's oldest first: %v", ids, err, want)
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
	b := &session.Session{ID: "ses_b", UserID: u.ID, Door: session.Web, TokenHash: []byte("hb"), DeviceID: "dev_1", Assurance: session.AAL1, AMR: "pwd",
		AuthTime: T0, CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour), Idle: time.Minute}
	s.CreateSession(ctx, b)
	if got, _ := s.SessionByID(ctx, "ses_b"); got.AMR != "pwd" {
		t.Errorf("AMR = %q, want pwd", got.AMR)
	}
	if err := s.RaiseSession(ctx, "ses_b", session.AAL3, "pwd hwk", T0.Add(time.Minute), []byte("hb2"), "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(ctx, []byte("hb")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old token still finds the raised session: %v", err)
	}
	got, _ := s.SessionByTokenHash(ctx, []byte("hb2"))
	if got == nil || got.Assurance != session.AAL3 || got.AMR != "pwd hwk" || !got.AuthTime.Equal(T0.Add(time.Minute)) || got.IP != "198.51.100.9" {
		t.Errorf("raised session = %+v; want AAL3, pwd hwk, the step-up's time and address", got)
	}
	// A raise without an address keeps the one stored.
	if err := s.RaiseSession(ctx, "ses_b", session.AAL3, "pwd hwk", T0.Add(2*time.Minute), []byte("hb3"), ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByID(ctx, "ses_b"); got.IP != "198.51.100.9" {
		t.Errorf("after a raise without an address, IP = %q; want 198.51.100.9 kept", got.IP)
	}
	ids, err := s.EndSessionsOfDevice(ctx, "dev_1", T0, session.EndRevoked)
	if err != nil || len(ids) != 1 || ids[0] != "ses_b" {
		t.Errorf("EndSessionsOfDevice = %v, %v; want [ses_b] (ses_a has no device)", ids, err)
	}
}
