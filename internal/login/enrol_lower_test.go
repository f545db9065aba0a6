package login_test

import (
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// TestRemoveFactorLowersSessions: removing a factor drops to AAL1 every
// other session of the user that proved its method, striking the method
// from what the session proved, and leaves the sessions won with another
// factor and the session that removed it as they were; the event says
// how many.
func TestRemoveFactorLowersSessions(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "alice", user.Occasional)
	f.withTOTP(t, u)
	now := f.clock.Now()
	key := &factor.Factor{ID: "fac_key", UserID: u.ID, Kind: factor.WebAuthn, Name: "YubiKey", Status: factor.Active,
		CredentialID: []byte("cred"), DeviceBound: true, Data: []byte("{}"), CreatedAt: now, ConfirmedAt: now}
	if err := f.st.CreateFactor(ctx, key); err != nil {
		t.Fatal(err)
	}
	fs, err := f.st.FactorsOfUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var totpID string
	for _, x := range fs {
		if x.Kind == factor.TOTP {
			totpID = x.ID
		}
	}
	mk := func(id string, aal session.Assurance, amr string) *session.Session {
		ss := &session.Session{ID: id, UserID: u.ID, Door: session.Web, TokenHash: []byte("hash-" + id), Assurance: aal, AMR: amr,
			AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), Idle: time.Hour}
		if err := f.st.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		return ss
	}
	actor := mk("ses_actor", session.AAL2, "pwd otp")
	mk("ses_stolen", session.AAL2, "pwd otp")
	mk("ses_key", session.AAL3, "pwd hwk")
	mk("ses_both", session.AAL3, "pwd otp hwk")
	mk("ses_plain", session.AAL1, "pwd")
	if _, err := f.svc.RemoveFactor(ctx, actor, totpID); err != nil {
		t.Fatalf("RemoveFactor = %v", err)
	}
	want := map[string]struct {
		aal session.Assurance
		amr string
	}{
		"ses_actor":  {session.AAL2, "pwd otp"},
		"ses_stolen": {session.AAL1, "pwd"},
		"ses_key":    {session.AAL3, "pwd hwk"},
		"ses_both":   {session.AAL1, "pwd hwk"},
		"ses_plain":  {session.AAL1, "pwd"},
	}
	for id, w := range want {
		ss, err := f.st.SessionByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Assurance != w.aal || ss.AMR != w.amr {
			t.Errorf("%s after the removal: %s %q, want %s %q", id, ss.Assurance, ss.AMR, w.aal, w.amr)
		}
	}
	if e := f.lastEvent(t, u.ID, audit.FactorRemoved); e == nil || e.Detail["sessions_lowered"] != "2" {
		t.Errorf("factor.removed = %+v, want sessions_lowered 2", e)
	}
}
