package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/clienttext"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

// hostileTests feed every backend the same hostile strings: NUL, invalid
// UTF-8 (PostgreSQL refuses both in text, SQLSTATE 22021) and very long
// text, as keys of every look-up and as every text a client can fill.
var hostileTests = []suiteTest{
	{"HostileKeysFindNothing", testHostileKeysFindNothing},
	{"HostileTextStoredClean", testHostileTextStoredClean},
}

// hostile is text a client may send where gatehouse expects an id or a
// name.
var hostile = []string{
	"\x00",
	"ses_\x00x",
	"\xff\xfe",
	"caf\xe9",                       // Latin-1
	"\xed\xa0\x80",                  // a UTF-16 surrogate, encoded
	"abc\xe6\x97",                   // a character cut short
	"%00",                           // harmless, but what a URL carries before decoding
	strings.Repeat("é\xff", 40_000), // long, and invalid
}

// short shows a hostile string in a failure message.
func short(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%.24q… (%d bytes)", s, len(s))
	}
	return fmt.Sprintf("%q", s)
}

// testHostileKeysFindNothing looks up every aggregate by each hostile
// key, on the store and inside a transaction: each finds nothing
// (ErrNotFound, or an empty list; a row that refers to a hostile user
// refers to no one), none fails otherwise, and the
// transaction is still usable afterwards (PostgreSQL aborts a transaction
// on a refused argument).
func testHostileKeysFindNothing(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	NewAccount(t, s, "acc-p", account.Paper)
	NewSession(t, s, u, "ses_1", T0)
	if err := s.CreateKey(ctx, NewKey("k000000000000000", "acc-p", account.Paper, T0)); err != nil {
		t.Fatal(err)
	}
	for i, h := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			probeHostileKey(t, s, u.ID, h)
			err := s.InTx(ctx, func(tx store.Tx) error {
				probeHostileKey(t, tx, u.ID, h)
				return tx.AppendAudit(ctx, &audit.Event{Time: T0, Type: audit.LoginFailed, UserID: u.ID})
			})
			if err != nil {
				t.Errorf("transaction after hostile look-ups: %v, want it to commit", err)
			}
		})
	}
	if ss, err := s.SessionsOfUser(ctx, u.ID); err != nil || len(ss) != 1 {
		t.Errorf("alice's sessions after the probes: %d, %v; want 1 (EndSessionsOfUser spares a hostile except)", len(ss), err)
	}
}

func probeHostileKey(t *testing.T, s store.Tx, userID, h string) {
	t.Helper()
	notFound := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(%s) = %v, want ErrNotFound", op, short(h), err)
		}
	}
	conflict := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s(%s) = %v, want ErrConflict (as for an unknown id)", op, short(h), err)
		}
	}
	empty := func(op string, n int, err error) {
		t.Helper()
		if err != nil || n != 0 {
			t.Errorf("%s(%s) = %d, %v; want none", op, short(h), n, err)
		}
	}
	_, err := s.UserByID(ctx, h)
	notFound("UserByID", err)
	_, err = s.UserByUsername(ctx, h)
	notFound("UserByUsername", err)
	notFound("SetPasswordHash", s.SetPasswordHash(ctx, h, "$argon2id$x", T0))

	_, err = s.AccountByID(ctx, h)
	notFound("AccountByID", err)
	notFound("SetPermissions", s.SetPermissions(ctx, h, account.Permissions{}))
	_, err = s.Membership(ctx, userID, h)
	notFound("Membership", err)
	ms, err := s.MembershipsOfUser(ctx, h)
	empty("MembershipsOfUser", len(ms), err)
	notFound("RemoveMember", s.RemoveMember(ctx, h, "acc-p"))
	notFound("AddMember", s.AddMember(ctx, &account.Membership{UserID: h, AccountID: "acc-p", Role: account.Viewer, CreatedAt: T0}))

	_, err = s.SessionByID(ctx, h)
	notFound("SessionByID", err)
	ss, err := s.SessionsOfUser(ctx, h)
	empty("SessionsOfUser", len(ss), err)
	notFound("EndSession", s.EndSession(ctx, h, T0, session.EndRevoked))
	ids, err := s.EndSessionsOfUser(ctx, h, "", T0, session.EndRevoked)
	empty("EndSessionsOfUser", len(ids), err)
	notFound("SetSessionAssurance", s.SetSessionAssurance(ctx, h, session.AAL2, T0))
	notFound("LowerSession", s.LowerSession(ctx, h, "pwd"))
	notFound("RaiseSession", s.RaiseSession(ctx, h, session.AAL2, "pwd otp", T0, []byte("new-hash"), ""))
	ids, err = s.EndSessionsOfDevice(ctx, h, T0, session.EndRevoked)
	empty("EndSessionsOfDevice", len(ids), err)

	_, err = s.DeviceByID(ctx, h)
	notFound("DeviceByID", err)
	_, err = s.DeviceByFingerprint(ctx, userID, h)
	notFound("DeviceByFingerprint", err)
	ds, err := s.DevicesOfUser(ctx, h)
	empty("DevicesOfUser", len(ds), err)
	notFound("SetDeviceStatus", s.SetDeviceStatus(ctx, h, device.Trusted))
	notFound("TouchDevice", s.TouchDevice(ctx, h, T0))

	es, err := s.AuditOfUser(ctx, h, 0, 10)
	empty("AuditOfUser", len(es), err)

	_, err = s.FactorByID(ctx, h)
	notFound("FactorByID", err)
	fs, err := s.FactorsOfUser(ctx, h)
	empty("FactorsOfUser", len(fs), err)
	notFound("UpdateFactor", s.UpdateFactor(ctx, &factor.Factor{ID: h, Name: "x"}))
	conflict("AdvanceTOTP", s.AdvanceTOTP(ctx, h, 100, T0))
	notFound("DeleteFactor", s.DeleteFactor(ctx, h))
	rc, err := s.RecoveryCodes(ctx, h)
	empty("RecoveryCodes", len(rc), err)
	notFound("UseRecoveryCode", s.UseRecoveryCode(ctx, h, 0, T0))
	notFound("SetRecoveryCodes", s.SetRecoveryCodes(ctx, h, [][]byte{[]byte("code")}, T0))
	notFound("CreatePushEnrolment", s.CreatePushEnrolment(ctx, h, []byte("enrol "+h), T0.Add(time.Hour)))
	notFound("CreateDeviceApproval", s.CreateDeviceApproval(ctx, []byte("link "+h), "dev_1", h, T0.Add(time.Hour)))

	_, err = s.FlowByID(ctx, h)
	notFound("FlowByID", err)
	conflict("UpdateFlow", s.UpdateFlow(ctx, &flow.Flow{ID: h}))

	_, err = s.PushRequestByID(ctx, h)
	notFound("PushRequestByID", err)
	ps, err := s.PendingPushRequests(ctx, h, T0)
	empty("PendingPushRequests", len(ps), err)
	notFound("AnswerPushRequest", s.AnswerPushRequest(ctx, h, push.RequestApproved, T0))
	ps, err = s.PushRequestsSince(ctx, h, T0)
	empty("PushRequestsSince", len(ps), err)

	_, err = s.KeyByID(ctx, h)
	notFound("KeyByID", err)
	ks, err := s.KeysOfAccount(ctx, h)
	empty("KeysOfAccount", len(ks), err)
	notFound("SetKeySuccessor", s.SetKeySuccessor(ctx, h, "k000000000000001", T0))
	notFound("RevokeKey", s.RevokeKey(ctx, h, T0, apikey.RevokedByUser))
	_, err = s.TouchKey(ctx, h, netip.MustParseAddr("192.0.2.1"), T0)
	notFound("TouchKey", err)

	// A hostile except spares no session, as an unknown id would not;
	// for alice's live one that means ending it, so ask a user with none.
	ids, err = s.EndSessionsOfUser(ctx, "usr_nobody", h, T0, session.EndRevoked)
	empty("EndSessionsOfUser(except)", len(ids), err)
}

// testHostileTextStoredClean stores each hostile string in every text a
// client can fill (user agent, device and factor names, what a push tells
// the phone, a key's name, the fields and details of an audit event, a
// throttle key) and reads it back: every backend keeps the same valid
// UTF-8 text ([clienttext.Clean]), the caller's value was cleaned alike,
// and the audit chain still verifies.
func testHostileTextStoredClean(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	NewAccount(t, s, "acc-p", account.Paper)
	rule := throttle.Rule{Free: 5, Base: time.Second, Max: time.Hour}
	for i, h := range hostile {
		want := clienttext.Clean(h)
		check := func(what, got string) {
			t.Helper()
			if got != want {
				t.Errorf("%s of %s read back as %s, want %s", what, short(h), short(got), short(want))
			}
		}
		id := func(prefix string) string { return fmt.Sprintf("%s_%d", prefix, i) }

		ses := &session.Session{ID: id("ses"), UserID: u.ID, Door: session.Web, TokenHash: []byte(id("hash")), DeviceName: h, IP: h, UserAgent: h,
			Assurance: session.AAL1, AuthTime: T0, CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour), Idle: time.Minute}
		if err := s.CreateSession(ctx, ses); err != nil {
			t.Fatalf("CreateSession with %s: %v", short(h), err)
		}
		check("the caller's session user agent", ses.UserAgent)
		if got, err := s.SessionByID(ctx, ses.ID); err != nil {
			t.Errorf("SessionByID: %v", err)
		} else {
			check("session device name", got.DeviceName)
			check("session IP", got.IP)
			check("session user agent", got.UserAgent)
		}

		fl := &flow.Flow{ID: id("flw"), UserID: u.ID, Door: session.Web, Binding: "cookie:b", IP: h, UserAgent: h, DeviceName: h,
			State: flow.Factor, Assurance: session.AAL1, AMR: "pwd", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}
		if err := s.CreateFlow(ctx, fl); err != nil {
			t.Fatalf("CreateFlow with %s: %v", short(h), err)
		}
		if got, err := s.FlowByID(ctx, fl.ID); err != nil {
			t.Errorf("FlowByID: %v", err)
		} else {
			check("flow IP", got.IP)
			check("flow user agent", got.UserAgent)
			check("flow device name", got.DeviceName)
		}

		d := &device.Device{ID: id("dev"), UserID: u.ID, Interface: "web", Fingerprint: id("cookie:"), Name: h, Status: device.Pending, CreatedAt: T0, LastSeenAt: T0}
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatalf("CreateDevice with %s: %v", short(h), err)
		}
		if got, err := s.DeviceByID(ctx, d.ID); err != nil {
			t.Errorf("DeviceByID: %v", err)
		} else {
			check("device name", got.Name)
		}

		p := &push.Request{Challenge: push.Challenge{ID: id("push"), UserID: u.ID, Number: 42, Interface: h, IP: h, DeviceName: h,
			CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}, Purpose: push.PurposeLogin, Outcome: push.RequestPending}
		if err := s.CreatePushRequest(ctx, p); err != nil {
			t.Fatalf("CreatePushRequest with %s: %v", short(h), err)
		}
		if got, err := s.PushRequestByID(ctx, p.ID); err != nil {
			t.Errorf("PushRequestByID: %v", err)
		} else {
			check("push interface", got.Interface)
			check("push IP", got.IP)
			check("push device name", got.DeviceName)
		}

		f := &factor.Factor{ID: id("fac"), UserID: u.ID, Kind: factor.SMS, Name: h, Status: factor.Active, Phone: h, Flag: h, CreatedAt: T0}
		if err := s.CreateFactor(ctx, f); err != nil {
			t.Fatalf("CreateFactor with %s: %v", short(h), err)
		}
		if got, err := s.FactorByID(ctx, f.ID); err != nil {
			t.Errorf("FactorByID: %v", err)
		} else {
			check("factor name", got.Name)
			check("factor phone", got.Phone)
			check("factor flag", got.Flag)
		}
		f.Name = "renamed " + h
		if err := s.UpdateFactor(ctx, f); err != nil {
			t.Fatalf("UpdateFactor with %s: %v", short(h), err)
		}
		if got, _ := s.FactorByID(ctx, f.ID); got == nil || got.Name != clienttext.Clean("renamed "+h) {
			t.Errorf("updated factor name = %+v, want it cleaned", got)
		}

		k := NewKey(fmt.Sprintf("key%013d", i), "acc-p", account.Paper, T0)
		k.Name = h
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey with %s: %v", short(h), err)
		}
		if got, err := s.KeyByID(ctx, k.ID); err != nil {
			t.Errorf("KeyByID: %v", err)
		} else {
			check("key name", got.Name)
		}

		e := &audit.Event{Time: T0, Type: audit.LoginFailed, UserID: u.ID, Actor: h, Interface: h, IP: h, Detail: map[string]string{"user_agent": h, h: "key"}}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit with %s: %v", short(h), err)
		}
		if es, err := s.AuditOfUser(ctx, u.ID, 0, 1); err != nil || len(es) != 1 {
			t.Errorf("AuditOfUser = %d, %v", len(es), err)
		} else {
			check("audit actor", es[0].Actor)
			check("audit interface", es[0].Interface)
			check("audit IP", es[0].IP)
			check("audit detail", es[0].Detail["user_agent"])
			if es[0].Detail[want] != "key" {
				t.Errorf("audit detail keys = %v, want %s cleaned", es[0].Detail, short(h))
			}
		}

		key := throttle.AccountKey(h)
		for n := 1; n <= 2; n++ {
			st, ok, err := s.Reserve(ctx, key, func(st throttle.State) (throttle.State, bool) {
				next, ok, _ := rule.Reserve(st, T0)
				return next, ok
			})
			if err != nil || !ok || st.Failures != n {
				t.Errorf("Reserve(%s) #%d = %+v, %v, %v; want %d failures", short(key), n, st, ok, err, n)
			}
		}
		if err := s.ResetThrottle(ctx, key); err != nil {
			t.Errorf("ResetThrottle(%s) = %v", short(key), err)
		}
	}
	if n, err := audit.Verify(s.AuditEvents(ctx)); err != nil || n != int64(len(hostile)) {
		t.Errorf("Verify = %d, %v; want %d events and an intact chain", n, err, len(hostile))
	}
}
