package posturegate_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/posture"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

var ctx = context.Background()

// now is when the tests assess: a month after the fixtures start.
var now = storetest.T0.Add(30 * 24 * time.Hour)

// fixture writes state into a real store.
type fixture struct {
	t  *testing.T
	st store.Store
}

func newFixture(t *testing.T) fixture {
	return fixture{t: t, st: storetest.SQLite(t)}
}

func (f fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f fixture) user(name string, p user.Profile) *user.User {
	f.t.Helper()
	u := &user.User{ID: "usr_" + name, Username: name, Email: name + "@example.com", Profile: p, PasswordHash: "$argon2id$x",
		CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
	f.must(f.st.CreateUser(ctx, u))
	return u
}

func (f fixture) account(id string, env account.Environment, entity string, p account.Permissions) *account.Account {
	f.t.Helper()
	a := &account.Account{ID: id, Name: "Account " + id, Environment: env, EntityCode: entity, CreatedAt: storetest.T0}
	f.must(f.st.CreateAccount(ctx, a))
	if p != (account.Permissions{}) {
		f.must(f.st.SetPermissions(ctx, id, p))
		a.Permissions = p
	}
	return a
}

func (f fixture) member(u *user.User, accountID string, r account.Role) {
	f.t.Helper()
	f.must(f.st.AddMember(ctx, &account.Membership{UserID: u.ID, AccountID: accountID, Role: r, CreatedAt: storetest.T0}))
}

func (f fixture) factor(u *user.User, id string, k factor.Kind, deviceBound bool) *factor.Factor {
	f.t.Helper()
	fc := &factor.Factor{ID: id, UserID: u.ID, Kind: k, Name: string(k) + " " + id, Status: factor.Active, DeviceBound: deviceBound,
		CreatedAt: storetest.T0, ConfirmedAt: storetest.T0}
	if k == factor.WebAuthn || k == factor.Push {
		fc.CredentialID = []byte("cred-" + id)
	}
	if k == factor.SMS {
		fc.Phone = "+447700900123"
	}
	f.must(f.st.CreateFactor(ctx, fc))
	return fc
}

func (f fixture) recoveryCodes(u *user.User, n, used int) {
	f.t.Helper()
	hashes := make([][]byte, n)
	for i := range hashes {
		hashes[i] = []byte{byte(i), 'h'}
	}
	f.must(f.st.SetRecoveryCodes(ctx, u.ID, hashes, storetest.T0))
	for i := range used {
		f.must(f.st.UseRecoveryCode(ctx, u.ID, i, storetest.T0))
	}
}

// clean gives u a device-bound security key and ten recovery codes: no
// high finding for any profile but professional's desktop rules.
func (f fixture) clean(u *user.User) {
	f.factor(u, "key-"+u.ID, factor.WebAuthn, true)
	f.recoveryCodes(u, 10, 0)
}

func TestSnapshotMapsTheStore(t *testing.T) {
	f := newFixture(t)
	u := f.user("alice", user.Professional)
	other := f.user("bob", user.Occasional)

	// Factors: only active, usable ones count.
	yubi := f.factor(u, "fac-key", factor.WebAuthn, true)
	yubi.LastUsedAt = now.Add(-time.Hour)
	f.must(f.st.UpdateFactor(ctx, yubi))
	f.factor(u, "fac-sms", factor.SMS, false)
	pending := &factor.Factor{ID: "fac-pending", UserID: u.ID, Kind: factor.TOTP, Status: factor.Pending, Secret: []byte("sealed"), CreatedAt: storetest.T0}
	f.must(f.st.CreateFactor(ctx, pending))
	clone := f.factor(u, "fac-clone", factor.WebAuthn, false)
	clone.Flag = factor.FlagPossibleClone
	f.must(f.st.UpdateFactor(ctx, clone))
	f.recoveryCodes(u, 5, 2)

	// Devices: revoked ones are gone.
	for _, d := range []*device.Device{
		{ID: "dev-desk", UserID: u.ID, Interface: "desktop", Fingerprint: "jkt:desk", Name: "Trading desk", Status: device.Trusted, CreatedAt: storetest.T0, LastSeenAt: storetest.T0},
		{ID: "dev-phone", UserID: u.ID, Interface: "mobile", Fingerprint: "jkt:phone", Name: "Pixel", Status: device.Pending, CreatedAt: storetest.T0, LastSeenAt: storetest.T0},
		{ID: "dev-old", UserID: u.ID, Interface: "web", Fingerprint: "cookie:old", Name: "Old laptop", Status: device.Revoked, CreatedAt: storetest.T0, LastSeenAt: storetest.T0},
	} {
		f.must(f.st.CreateDevice(ctx, d))
	}

	// Sessions: only those usable at now.
	mk := func(id string, iface session.Door, aal session.Assurance, created time.Time, life, idle time.Duration) *session.Session {
		s := &session.Session{ID: id, UserID: u.ID, Door: iface, TokenHash: []byte("hash-" + id), DeviceName: "dev " + id, IP: "192.0.2.1",
			Assurance: aal, AuthTime: created, CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(life), Idle: idle}
		if iface != session.Web {
			s.JKT = "jkt-" + id
		}
		f.must(f.st.CreateSession(ctx, s))
		return s
	}
	mk("ses-desk", session.Desktop, session.AAL3, now.Add(-30*time.Minute), 24*time.Hour, time.Hour)
	mk("ses-web", session.Web, session.AAL2, now.Add(-5*time.Minute), 12*time.Hour, 15*time.Minute)
	mk("ses-expired", session.Web, session.AAL2, now.Add(-13*time.Hour), 12*time.Hour, 0)
	mk("ses-idle", session.Mobile, session.AAL2, now.Add(-time.Hour), 12*time.Hour, 15*time.Minute)
	mk("ses-ended", session.Web, session.AAL2, now.Add(-time.Minute), 12*time.Hour, 15*time.Minute)
	f.must(f.st.EndSession(ctx, "ses-ended", now.Add(-time.Second), session.EndLogout))

	// Accounts and keys: those of the user's accounts that still work.
	f.account("LIVE", account.Live, "us", account.Permissions{Options: true, Margin: true})
	f.account("PAPER", account.Paper, "", account.Permissions{})
	f.account("ELSE", account.Live, "UK", account.Permissions{})
	f.member(u, "LIVE", account.Owner)
	f.member(u, "PAPER", account.Trader)
	f.member(other, "ELSE", account.Owner)
	created := now.Add(-10 * 24 * time.Hour)
	bot := storetest.NewKey("k-live", "LIVE", account.Live, created)
	bot.AllowIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	f.must(f.st.CreateKey(ctx, bot))
	if _, err := f.st.TouchKey(ctx, "k-live", netip.MustParseAddr("203.0.113.7"), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.must(f.st.CreateKey(ctx, storetest.NewKey("k-paper", "PAPER", account.Paper, created)))
	f.must(f.st.CreateKey(ctx, storetest.NewKey("k-revoked", "PAPER", account.Paper, created)))
	f.must(f.st.RevokeKey(ctx, "k-revoked", now.Add(-time.Hour), apikey.RevokedByUser))
	f.must(f.st.CreateKey(ctx, storetest.NewKey("k-expired", "LIVE", account.Live, now.Add(-100*24*time.Hour))))
	f.must(f.st.CreateKey(ctx, storetest.NewKey("k-else", "ELSE", account.Live, created)))

	// Push requests of the last 30 days; a pending one still open is left out.
	pushReq := func(id string, created time.Time, outcome string) {
		p := &push.Request{Challenge: push.Challenge{ID: id, UserID: u.ID, Number: 42, Interface: "web", CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute)},
			FlowID: "flw", Purpose: push.PurposeLogin, Outcome: push.RequestPending}
		f.must(f.st.CreatePushRequest(ctx, p))
		if outcome != push.RequestPending {
			f.must(f.st.AnswerPushRequest(ctx, id, outcome, created.Add(time.Second)))
		}
	}
	pushReq("p-ok", now.Add(-48*time.Hour), push.RequestApproved)
	pushReq("p-no", now.Add(-24*time.Hour), push.RequestDenied)
	pushReq("p-report", now.Add(-12*time.Hour), push.RequestReported)
	pushReq("p-unanswered", now.Add(-time.Hour), push.RequestPending)
	pushReq("p-open", now.Add(-30*time.Second), push.RequestPending)
	pushReq("p-old", now.Add(-31*24*time.Hour), push.RequestDenied)

	// Four wrong second-factor answers in a row, the last an hour ago.
	for range 4 {
		_, _, err := f.st.Reserve(ctx, throttle.FactorKey(u.ID), func(s throttle.State) (throttle.State, bool) {
			s.Failures++
			s.LastAt = now.Add(-time.Hour)
			return s, true
		})
		f.must(err)
	}

	got, err := posturegate.Snapshot(ctx, f.st, u.ID, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	us := posture.DefaultEntities()["US"]
	want := posture.Snapshot{
		UserID: u.ID, UserName: u.Username, Profile: posture.Professional,
		Factors: []posture.Factor{
			{ID: "fac-key", Kind: posture.WebAuthn, Name: "webauthn fac-key", DeviceBound: true, Created: storetest.T0, LastUsed: now.Add(-time.Hour)},
			{ID: "fac-sms", Kind: posture.SMS, Name: "sms fac-sms", Created: storetest.T0},
		},
		RecoveryCodesLeft: 3,
		Devices: []posture.Device{
			{ID: "dev-desk", Interface: "desktop", Name: "Trading desk", Trusted: true, Lock: posture.LockUnknown},
			{ID: "dev-phone", Interface: "mobile", Name: "Pixel", Lock: posture.LockUnknown},
		},
		Sessions: []posture.Session{
			{ID: "ses-desk", Interface: "desktop", Device: "dev ses-desk", Created: now.Add(-30 * time.Minute), LastSeen: now.Add(-30 * time.Minute), Expires: now.Add(24*time.Hour - 30*time.Minute), Assurance: 3},
			{ID: "ses-web", Interface: "web", Device: "dev ses-web", Created: now.Add(-5 * time.Minute), LastSeen: now.Add(-5 * time.Minute), Expires: now.Add(12*time.Hour - 5*time.Minute), Assurance: 2},
		},
		Keys: []posture.APIKey{
			{ID: "k-live", Name: "bot k-live", Account: "LIVE", Environment: "live", Scopes: []string{"orders:read", "orders:write"},
				Allowlist: []string{"203.0.113.0/24"}, Created: created, Expires: created.Add(90 * 24 * time.Hour), LastUsed: now.Add(-time.Minute),
				UsedEnvironments: []string{"live"}},
			{ID: "k-paper", Name: "bot k-paper", Account: "PAPER", Environment: "paper", Scopes: []string{"orders:read", "orders:write"},
				Created: created, Expires: created.Add(90 * 24 * time.Hour)},
		},
		Accounts: []posture.Account{
			{ID: "LIVE", Name: "Account LIVE", Environment: "live", Permissions: posture.Permissions{Options: true, Margin: true}, Entity: us},
			{ID: "PAPER", Name: "Account PAPER", Environment: "paper"},
		},
		Pushes: []posture.PushAttempt{
			{Time: now.Add(-time.Hour), Outcome: posture.PushExpired},
			{Time: now.Add(-12 * time.Hour), Outcome: posture.PushReported},
			{Time: now.Add(-24 * time.Hour), Outcome: posture.PushDenied},
			{Time: now.Add(-48 * time.Hour), Outcome: posture.PushApproved},
		},
		FactorFailures: 4,
		FactorLimit:    throttle.DefaultPolicy().Factor.Limit,
	}
	opts := cmp.Options{
		cmpopts.EquateApproxTime(time.Microsecond), // what the store keeps
		cmpopts.SortSlices(func(a, b posture.Session) bool { return a.ID < b.ID }),
		cmpopts.SortSlices(func(a, b posture.APIKey) bool { return a.ID < b.ID }),
		cmpopts.SortSlices(func(a, b posture.Device) bool { return a.ID < b.ID }),
		cmpopts.EquateEmpty(),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the mapped snapshot is not valid: %v", err)
	}
}

func TestSnapshotEntities(t *testing.T) {
	f := newFixture(t)
	u := f.user("carol", user.Occasional)
	f.account("A-DE", account.Live, "DE", account.Permissions{})
	f.account("A-XX", account.Live, "XX", account.Permissions{})
	f.account("A-CH", account.Live, "CH", account.Permissions{})
	for _, id := range []string{"A-DE", "A-XX", "A-CH"} {
		f.member(u, id, account.Owner)
	}
	table := posture.DefaultEntities()
	table["CH"] = posture.Entity{Code: "CH", Name: "Swiss securities firm", Jurisdiction: "Switzerland", Scheme: "esisuisse", Limit: "up to CHF 100,000"}
	r, err := posturegate.ForUser(ctx, f.st, u.ID, posturegate.Platform{Entities: table}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]posture.EntityReport{}
	for _, e := range r.Entities {
		got[e.Code] = e
	}
	if e := got["CH"]; e.Scheme != "esisuisse" || !strings.Contains(e.Reminder, "authenticated takeover is not covered") {
		t.Errorf("configured entity CH = %+v", e)
	}
	if e := got["DE"]; e.Name != table["DE"].Name || len(e.Accounts) != 1 || e.Accounts[0] != "A-DE" {
		t.Errorf("default entity DE = %+v", e)
	}
	if e := got["XX"]; e.Scheme != "" || !strings.Contains(e.Reminder, "Ask the firm") {
		t.Errorf("unknown entity XX = %+v; want no scheme and the ask-the-firm reminder", e)
	}
}

func TestForUserFindings(t *testing.T) {
	f := newFixture(t)
	sms := f.user("sunny", user.Occasional)
	f.factor(sms, "sms-1", factor.SMS, false)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.member(sms, "LIVE", account.Owner)
	clean := f.user("cleo", user.Occasional)
	f.clean(clean)

	r, err := posturegate.ForUser(ctx, f.st, sms.ID, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) == 0 || r.Findings[0].ID != "sms-only-second-factor" || r.Findings[0].Exposure != posture.High {
		t.Errorf("findings of an SMS-only user = %+v; want sms-only-second-factor first, high", r.Findings)
	}
	if r.User.Name != "sunny" || r.Profile != posture.Occasional || !r.AssessedAt.Equal(now) {
		t.Errorf("report header = %+v %q %v", r.User, r.Profile, r.AssessedAt)
	}
	if len(r.Entities) != 1 || r.Entities[0].Scheme != "SIPC" || !strings.Contains(r.Entities[0].Reminder, "authenticated takeover") {
		t.Errorf("entities = %+v; want SIPC with the takeover reminder", r.Entities)
	}

	r, err = posturegate.ForUser(ctx, f.st, clean.ID, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.HasHigh() {
		t.Errorf("a user with a security key and recovery codes has a high finding: %+v", r.Findings)
	}

	if _, err := posturegate.ForUser(ctx, f.st, "usr_nobody", posturegate.Platform{}, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ForUser(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCheckPermissions(t *testing.T) {
	f := newFixture(t)
	sms := f.user("sunny", user.Occasional)
	f.factor(sms, "sms-1", factor.SMS, false)
	clean := f.user("cleo", user.Occasional)
	f.clean(clean)
	// One authenticator app and no recovery codes: losing the phone is a
	// medium finding, until margin or options are on a live account.
	thin := f.user("tom", user.Occasional)
	f.factor(thin, "totp-1", factor.TOTP, false)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.account("PAPER", account.Paper, "US", account.Permissions{})
	for _, u := range []*user.User{sms, clean, thin} {
		f.member(u, "LIVE", account.Owner)
		f.member(u, "PAPER", account.Owner)
	}
	off := account.Permissions{}
	tests := []struct {
		name          string
		user          *user.User
		account       string
		want, current account.Permissions
		refused       []string // ids of the findings listed, nil: allowed
		turningOn     []string
	}{
		{"NothingChanges", sms, "LIVE", off, off, nil, nil},
		{"TurningOffWithHighFinding", sms, "LIVE", off, account.Permissions{Options: true, Withdrawals: true}, nil, nil},
		{"KeepingOnWithHighFinding", sms, "LIVE", account.Permissions{Options: true}, account.Permissions{Options: true, Margin: true}, nil, nil},
		{"SMSOnly", sms, "LIVE", account.Permissions{Options: true, Futures: true}, off, []string{"sms-only-second-factor"}, []string{"options", "futures"}},
		{"SMSOnlyPaper", sms, "PAPER", account.Permissions{Margin: true}, off, []string{"sms-only-second-factor"}, []string{"margin"}},
		{"Clean", clean, "LIVE", account.Permissions{Options: true, Margin: true, Futures: true, Withdrawals: true}, off, nil, nil},
		// Judged as it would be: margin on a live account makes a lost
		// phone a lock-out with positions open, and withdrawals make a
		// relayed code a way to move money out.
		{"ThinAfterMargin", thin, "LIVE", account.Permissions{Margin: true}, off, []string{"recovery-single-factor"}, []string{"margin"}},
		{"ThinAfterWithdrawals", thin, "LIVE", account.Permissions{Withdrawals: true}, off, []string{"phishing-no-resistant-factor", "recovery-single-factor"}, []string{"withdrawals"}},
		{"ThinPaper", thin, "PAPER", account.Permissions{Margin: true}, off, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := posturegate.CheckPermissions(ctx, f.st, tt.user.ID, tt.account, tt.want, tt.current, posturegate.Platform{}, now)
			if tt.refused == nil {
				if err != nil {
					t.Errorf("CheckPermissions = %v, want nil", err)
				}
				return
			}
			var ge *posturegate.GateError
			if !errors.As(err, &ge) {
				t.Fatalf("CheckPermissions = %v, want a *GateError", err)
			}
			var ids []string
			for _, fd := range ge.Findings {
				ids = append(ids, fd.ID)
				if fd.Exposure != posture.High || fd.NextStep == "" {
					t.Errorf("listed finding %s: exposure %s, next step %q", fd.ID, fd.Exposure, fd.NextStep)
				}
			}
			if diff := cmp.Diff(tt.refused, ids); diff != "" {
				t.Errorf("findings listed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.turningOn, ge.TurningOn); diff != "" {
				t.Errorf("TurningOn (-want +got):\n%s", diff)
			}
			if ge.UserID != tt.user.ID || ge.Account != tt.account {
				t.Errorf("GateError names %s on %s", ge.UserID, ge.Account)
			}
		})
	}
}

func TestTurningOn(t *testing.T) {
	tests := []struct {
		want, current account.Permissions
		on            []string
	}{
		{account.Permissions{}, account.Permissions{}, nil},
		{account.Permissions{Options: true, Withdrawals: true}, account.Permissions{Options: true}, []string{"withdrawals"}},
		{account.Permissions{Margin: true, Futures: true}, account.Permissions{Withdrawals: true}, []string{"margin", "futures"}},
		{account.Permissions{}, account.Permissions{Options: true, Margin: true, Futures: true, Withdrawals: true}, nil},
	}
	for _, tt := range tests {
		if got := posturegate.TurningOn(tt.want, tt.current); !cmp.Equal(got, tt.on, cmpopts.EquateEmpty()) {
			t.Errorf("TurningOn(%+v, %+v) = %v, want %v", tt.want, tt.current, got, tt.on)
		}
	}
}

func TestCheck(t *testing.T) {
	for in, want := range map[string]string{"key-no-allowlist/k1": "key-no-allowlist", "sms-enrolled": "sms-enrolled", "session-stale/a/b": "session-stale"} {
		if got := posturegate.Check(in); got != want {
			t.Errorf("Check(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKeyMintedByEndedSessionIsFlagged: a live key made by a session the
// user later revoked still works, and the report says so; one made by a
// session that merely logged out does not.
func TestKeyMintedByEndedSessionIsFlagged(t *testing.T) {
	f := newFixture(t)
	u := f.user("ada", user.Occasional)
	f.account("LIVE", account.Live, "US", account.Permissions{})
	f.member(u, "LIVE", account.Owner)
	for _, s := range []struct{ session, key, reason string }{
		{"ses_thief", "k-thief", session.EndRevoked},
		{"ses_gone", "k-gone", session.EndLogout},
	} {
		storetest.NewSession(t, f.st, u, s.session, now.Add(-time.Hour))
		k := storetest.NewKey(s.key, "LIVE", account.Live, now.Add(-time.Hour))
		k.CreatedBy, k.SessionID, k.AllowIPs = u.ID, s.session, []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32")}
		f.must(f.st.CreateKey(ctx, k))
		f.must(f.st.EndSession(ctx, s.session, now.Add(-time.Minute), s.reason))
	}
	r, err := posturegate.ForUser(ctx, f.st, u.ID, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fd := range r.Findings {
		if strings.HasPrefix(fd.ID, "key-minted-by-ended-session/") {
			got = append(got, fd.ID+" "+string(fd.Exposure))
		}
	}
	if want := []string{"key-minted-by-ended-session/k-thief high"}; !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// TestJapanPackFromTheStore: an account held by the built-in entity JP
// selects the Japan pack on the server as in a SETUP.yaml, so an
// authenticator app alone is a high finding citing the guidelines.
func TestJapanPackFromTheStore(t *testing.T) {
	f := newFixture(t)
	u := f.user("kenji", user.Occasional)
	f.factor(u, "totp-1", factor.TOTP, false)
	f.account("JP-NISA", account.Live, "JP", account.Permissions{})
	f.member(u, "JP-NISA", account.Owner)
	r, err := posturegate.ForUser(ctx, f.st, u.ID, posturegate.Platform{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Packs) != 2 || r.Packs[1].Code != posture.PackJP || len(r.Packs[1].Accounts) != 1 || r.Packs[1].Accounts[0] != "JP-NISA" {
		t.Errorf("packs = %+v; want NIST and jp-2025 for JP-NISA", r.Packs)
	}
	var phishing posture.Finding
	for _, fd := range r.Findings {
		if fd.ID == "phishing-no-resistant-factor" {
			phishing = fd
		}
	}
	cited := false
	for _, b := range phishing.Basis {
		cited = cited || strings.HasPrefix(b.Source, "JSDA")
	}
	if phishing.Exposure != posture.High || !cited {
		t.Errorf("phishing finding = %s %+v; want high, citing the JSDA guidelines", phishing.Exposure, phishing.Basis)
	}
}

// TestReportShowsSignalsInForce: an open, applied signal whose scope holds
// the user appears in the report with the steps the user still owes; a
// security key enrolled pays that step; a closed signal, one not yet
// applied or one for another profile does not appear.
func TestReportShowsSignalsInForce(t *testing.T) {
	f := newFixture(t)
	pro := f.user("pia", user.Professional)
	f.factor(pro, "sms-1", factor.SMS, false)
	occ := f.user("otto", user.Occasional)
	f.factor(occ, "sms-2", factor.SMS, false)

	steps := func(ss ...string) []signal.Step {
		var out []signal.Step
		for _, s := range ss {
			st, err := signal.ParseStep(s)
			f.must(err)
			out = append(out, st)
		}
		return out
	}
	add := func(id string, profiles []user.Profile, apply bool, ss ...string) {
		sg := &signal.Signal{ID: id, Title: "Advisory " + id, Kind: signal.Phishing, Severity: signal.High, Profiles: profiles,
			Link: "https://status.example.com/" + id, Steps: steps(ss...), State: signal.Open, CreatedAt: storetest.T0, CreatedBy: "usr_ops"}
		f.must(f.st.CreateSignal(ctx, sg))
		if apply {
			f.must(f.st.MarkSignalApplied(ctx, id, storetest.T0))
		}
	}
	add("sig_phish", []user.Profile{user.Professional}, true, "require-phishing-resistant:2027-01-31", "forbid-sms", "reauth:aal3")
	add("sig_draft", nil, false, "forbid-sms")
	add("sig_over", nil, true, "forbid-sms")
	f.must(f.st.CloseSignal(ctx, "sig_over", storetest.T0, "usr_ops"))

	r, err := posturegate.ForUser(ctx, f.st, pro.ID, posturegate.Platform{}, now)
	f.must(err)
	if len(r.Signals) != 1 || r.Signals[0].ID != "sig_phish" {
		t.Fatalf("signals of the professional = %+v; want sig_phish alone", r.Signals)
	}
	sg := r.Signals[0]
	if len(sg.Owed) != 2 || !strings.Contains(sg.Owed[0], "2027-01-31") || !strings.Contains(strings.ToLower(sg.Owed[1]), "sms") {
		t.Errorf("owed = %q; want the security key by 2027-01-31, then SMS replaced", sg.Owed)
	}
	if len(sg.Rules) != 1 || sg.Link != "https://status.example.com/sig_phish" || sg.Severity != "high" {
		t.Errorf("notice = %+v; want one rule (re-authentication), the link and the severity", sg)
	}
	var text strings.Builder
	f.must(posture.WriteText(&text, r))
	if !strings.Contains(text.String(), "Security notice in force (high)") || !strings.Contains(text.String(), "Advisory sig_phish") {
		t.Errorf("text report lacks the notice:\n%s", text.String())
	}

	f.factor(pro, "key-1", factor.WebAuthn, true)
	r, err = posturegate.ForUser(ctx, f.st, pro.ID, posturegate.Platform{}, now)
	f.must(err)
	if len(r.Signals) != 1 || len(r.Signals[0].Owed) != 1 || strings.Contains(r.Signals[0].Owed[0], "2027-01-31") {
		t.Errorf("after a security key, owed = %+v; want only SMS left", r.Signals)
	}

	r, err = posturegate.ForUser(ctx, f.st, occ.ID, posturegate.Platform{}, now)
	f.must(err)
	if len(r.Signals) != 0 {
		t.Errorf("signals of a user outside every scope in force = %+v; want none", r.Signals)
	}
}
