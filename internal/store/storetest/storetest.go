// Package storetest is the conformance suite every [store.Store]
// implementation runs, and helpers that open real stores for tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// SQLite opens a fresh SQLite store in a temporary directory, closed when
// the test ends. It is the default test double: the real thing.
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// T0 is the time the suite's fixtures start at.
var T0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// Run runs the conformance suite; open returns a new, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []suiteTest{
		{"Users", testUsers},
		{"Accounts", testAccounts},
		{"Sessions", testSessions},
		{"Devices", testDevices},
		{"AuditChain", testAuditChain},
		{"AuditConcurrent", testAuditConcurrent},
		{"ThrottleAtomic", testThrottleAtomic},
		{"TxRollback", testTxRollback},
	}
	tests = append(tests, factorTests...)
	tests = append(tests, flowTests...)
	tests = append(tests, hostileTests...)
	tests = append(tests, keyTests...)
	tests = append(tests, outboxTests...)
	tests = append(tests, freezeTests...)
	tests = append(tests, noticeTests...)
	tests = append(tests, ssfTests...)
	tests = append(tests, approvalTests...)
	tests = append(tests, onceTests...)
	tests = append(tests, recoveryTests...)
	tests = append(tests, signalTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// suiteTest is one test of the suite, run on a new, empty store.
type suiteTest struct {
	name string
	f    func(*testing.T, store.Store)
}

var ctx = context.Background()

// NewUser stores a user with the given name and returns it.
func NewUser(t testing.TB, s store.Tx, name string) *user.User {
	t.Helper()
	u := &user.User{ID: "usr_" + name, Username: name, Email: name + "@example.com", Profile: user.Occasional, PasswordHash: "$argon2id$x", CreatedAt: T0, UpdatedAt: T0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// NewSession stores an active web session of u and returns it.
func NewSession(t testing.TB, s store.Tx, u *user.User, id string, created time.Time) *session.Session {
	t.Helper()
	ss := &session.Session{ID: id, UserID: u.ID, Door: session.Web, TokenHash: []byte("hash-" + id), DeviceName: "Firefox", IP: "192.0.2.1", UserAgent: "test",
		Assurance: session.AAL2, AuthTime: created, CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(12 * time.Hour), Idle: 15 * time.Minute}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	return ss
}

func testUsers(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	got, err := s.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *u {
		t.Errorf("UserByUsername = %+v, want %+v", got, u)
	}
	if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByUsername(unknown) error = %v, want ErrNotFound", err)
	}
	dup := *u
	dup.ID = "usr_other"
	if err := s.CreateUser(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateUser(duplicate username) error = %v, want ErrConflict", err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$new", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, u.ID)
	if got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("after SetPasswordHash: %q at %v", got.PasswordHash, got.UpdatedAt)
	}
	if err := s.SetPasswordHash(ctx, "usr_nobody", "x", T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPasswordHash(unknown) = %v, want ErrNotFound", err)
	}
	all, err := s.ListUsers(ctx)
	if err != nil || len(all) != 1 {
		t.Errorf("ListUsers = %d users, %v; want 1", len(all), err)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	live := &account.Account{ID: "acc-live", Name: "Live", Environment: account.Live, EntityCode: "US", CreatedAt: T0}
	sub := &account.Account{ID: "acc-sub", Name: "Managed", Environment: account.Live, ParentID: "acc-live", CreatedAt: T0}
	for _, a := range []*account.Account{live, sub} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	orphan := &account.Account{ID: "acc-orphan", Name: "x", Environment: account.Paper, ParentID: "acc-missing", CreatedAt: T0}
	if err := s.CreateAccount(ctx, orphan); err == nil {
		t.Error("CreateAccount with unknown parent succeeded")
	}
	got, err := s.AccountByID(ctx, "acc-sub")
	if err != nil || *got != *sub {
		t.Errorf("AccountByID = %+v, %v; want %+v", got, err, sub)
	}
	perms := account.Permissions{Options: true, Withdrawals: true}
	if err := s.SetPermissions(ctx, "acc-live", perms); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AccountByID(ctx, "acc-live")
	if got.Permissions != perms {
		t.Errorf("Permissions = %+v, want %+v", got.Permissions, perms)
	}
	m := &account.Membership{UserID: u.ID, AccountID: "acc-live", Role: account.Viewer, CreatedAt: T0}
	if err := s.AddMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.Role = account.Owner
	if err := s.AddMember(ctx, m); err != nil {
		t.Fatalf("AddMember again (role change) = %v", err)
	}
	gm, err := s.Membership(ctx, u.ID, "acc-live")
	if err != nil || gm.Role != account.Owner {
		t.Errorf("Membership = %+v, %v; want owner", gm, err)
	}
	if _, err := s.Membership(ctx, u.ID, "acc-sub"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Membership(none) = %v, want ErrNotFound", err)
	}
	if err := s.AddMember(ctx, &account.Membership{UserID: "usr_nobody", AccountID: "acc-live", Role: account.Viewer, CreatedAt: T0}); err == nil {
		t.Error("AddMember for an unknown user succeeded")
	}
	ms, _ := s.MembershipsOfUser(ctx, u.ID)
	if len(ms) != 1 {
		t.Errorf("MembershipsOfUser = %d, want 1", len(ms))
	}
	if err := s.RemoveMember(ctx, u.ID, "acc-live"); err != nil {
		t.Fatalf("RemoveMember = %v", err)
	}
	if _, err := s.Membership(ctx, u.ID, "acc-live"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Membership after RemoveMember = %v, want ErrNotFound", err)
	}
	if err := s.RemoveMember(ctx, u.ID, "acc-live"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveMember twice = %v, want ErrNotFound", err)
	}
	as, _ := s.ListAccounts(ctx)
	if len(as) != 2 {
		t.Errorf("ListAccounts = %d, want 2", len(as))
	}
}

func testSessions(t *testing.T, s store.Store) {
	alice, bob := NewUser(t, s, "alice"), NewUser(t, s, "bob")
	a1 := NewSession(t, s, alice, "ses_a1", T0)
	NewSession(t, s, alice, "ses_a2", T0.Add(time.Minute))
	NewSession(t, s, alice, "ses_a3", T0.Add(2*time.Minute))
	NewSession(t, s, bob, "ses_b1", T0)

	got, err := s.SessionByTokenHash(ctx, []byte("hash-ses_a1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a1.ID || !got.ExpiresAt.Equal(a1.ExpiresAt) || got.Idle != a1.Idle || got.Assurance != session.AAL2 || !got.EndedAt.IsZero() {
		t.Errorf("SessionByTokenHash = %+v, want %+v", got, a1)
	}
	if _, err := s.SessionByTokenHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	list, _ := s.SessionsOfUser(ctx, alice.ID)
	if len(list) != 3 || list[0].ID != "ses_a3" {
		t.Errorf("SessionsOfUser = %d sessions (first %v), want 3 newest first", len(list), list)
	}

	seen := T0.Add(10 * time.Minute)
	if err := s.TouchSessions(ctx, map[string]time.Time{"ses_a1": seen}); err != nil {
		t.Fatal(err)
	}
	s.TouchSessions(ctx, map[string]time.Time{"ses_a1": T0.Add(time.Minute)}) // older: ignored
	got, _ = s.SessionByID(ctx, "ses_a1")
	if !got.LastSeenAt.Equal(seen) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, seen)
	}
	if err := s.SetSessionAssurance(ctx, "ses_a1", session.AAL3, seen); err != nil {
		t.Fatal(err)
	}
	got, _ = s.SessionByID(ctx, "ses_a1")
	if got.Assurance != session.AAL3 || !got.AuthTime.Equal(seen) {
		t.Errorf("after step-up: %v at %v", got.Assurance, got.AuthTime)
	}

	end := T0.Add(time.Hour)
	if err := s.EndSession(ctx, "ses_a2", end, session.EndLogout); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, "ses_a2", end, session.EndLogout); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndSession twice = %v, want ErrNotFound", err)
	}
	got, _ = s.SessionByID(ctx, "ses_a2")
	if !got.EndedAt.Equal(end) || got.EndReason != session.EndLogout {
		t.Errorf("ended session: %v %q", got.EndedAt, got.EndReason)
	}
	ids, err := s.EndSessionsOfUser(ctx, alice.ID, "ses_a1", end, session.EndPasswordChange)
	if err != nil || len(ids) != 1 || ids[0] != "ses_a3" {
		t.Errorf("EndSessionsOfUser = %v, %v; want [ses_a3]", ids, err)
	}
	counts, err := s.CountActiveSessions(ctx, end)
	if err != nil || counts[session.Web] != 2 {
		t.Errorf("CountActiveSessions = %v, %v; want web: 2", counts, err)
	}
	all, _ := s.ListSessions(ctx)
	if len(all) != 2 {
		t.Errorf("ListSessions = %d, want 2 (a1, b1)", len(all))
	}
	// EndSessions ends the live ones of the ids and says which: an ended,
	// an unknown and a hostile id are passed over.
	ids, err = s.EndSessions(ctx, []string{"ses_a1", "ses_a2", "ses_none", "ses_b1", "ses_\x00"}, end, session.EndRevoked)
	if slices.Sort(ids); err != nil || !slices.Equal(ids, []string{"ses_a1", "ses_b1"}) {
		t.Errorf("EndSessions = %v, %v; want [ses_a1 ses_b1]", ids, err)
	}
	if got, _ = s.SessionByID(ctx, "ses_b1"); !got.EndedAt.Equal(end) || got.EndReason != session.EndRevoked {
		t.Errorf("ses_b1 after EndSessions: %v %q", got.EndedAt, got.EndReason)
	}
	if all, _ = s.ListSessions(ctx); len(all) != 0 {
		t.Errorf("ListSessions after EndSessions = %d, want 0", len(all))
	}
}

func testDevices(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	d := &device.Device{ID: "dev_1", UserID: u.ID, Interface: "web", Fingerprint: "cookie:ab", Name: "Firefox", Status: device.Trusted, CreatedAt: T0, LastSeenAt: T0}
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDevice(ctx, &device.Device{ID: "dev_2", UserID: u.ID, Interface: "web", Fingerprint: "cookie:ab", Status: device.Trusted, CreatedAt: T0, LastSeenAt: T0}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate fingerprint: %v, want ErrConflict", err)
	}
	got, err := s.DeviceByFingerprint(ctx, u.ID, "cookie:ab")
	if err != nil || *got != *d {
		t.Errorf("DeviceByFingerprint = %+v, %v", got, err)
	}
	if _, err := s.DeviceByFingerprint(ctx, "usr_other", "cookie:ab"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's device found: %v", err)
	}
	if err := s.TouchDevice(ctx, "dev_1", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, _ := s.DevicesOfUser(ctx, u.ID)
	if len(ds) != 1 || !ds[0].LastSeenAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("DevicesOfUser = %+v", ds)
	}
}

func testAuditChain(t *testing.T, s store.Store) {
	if _, err := s.AuditHead(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AuditHead of an empty chain = %v, want ErrNotFound", err)
	}
	for i := range 5 {
		e := &audit.Event{Time: T0.Add(time.Duration(i) * time.Second), Type: audit.LoginSucceeded, UserID: fmt.Sprintf("usr_%d", i%2), Actor: "usr", IP: "192.0.2.1", Detail: map[string]string{"session": fmt.Sprint(i)}}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) {
			t.Errorf("event %d got Seq %d", i, e.Seq)
		}
	}
	n, err := audit.Verify(s.AuditEvents(ctx))
	if err != nil || n != 5 {
		t.Errorf("Verify = %d, %v; want 5, nil", n, err)
	}
	var last *audit.Event
	for e := range s.AuditEvents(ctx) {
		last = e
	}
	if head, err := s.AuditHead(ctx); err != nil || head.Seq != 5 || !bytes.Equal(head.Hash, last.Hash) {
		t.Errorf("AuditHead = %+v, %v; want event 5", head, err)
	}
	mine, err := s.AuditOfUser(ctx, "usr_0", 0, 10)
	if err != nil || len(mine) != 3 || mine[0].Seq != 5 {
		t.Fatalf("AuditOfUser = %d events, %v; want 3, newest first", len(mine), err)
	}
	if mine[0].Detail["session"] != "4" {
		t.Errorf("Detail = %v", mine[0].Detail)
	}
	page, _ := s.AuditOfUser(ctx, "usr_0", mine[0].Seq, 1)
	if len(page) != 1 || page[0].Seq != 3 {
		t.Errorf("second page = %+v, want seq 3", page)
	}
}

func testAuditConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AppendAudit(ctx, &audit.Event{Time: T0, Type: audit.LoginFailed, UserID: "u", Detail: map[string]string{"i": fmt.Sprint(i)}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := audit.Verify(s.AuditEvents(ctx))
	if err != nil || n != 20 {
		t.Errorf("Verify after concurrent appends = %d, %v; want 20, nil", n, err)
	}
}

func testThrottleAtomic(t *testing.T, s store.Store) {
	rule := throttle.Rule{Free: 2, Base: time.Minute, Max: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.Reserve(ctx, "k", func(st throttle.State) (throttle.State, bool) {
				next, ok, _ := rule.Reserve(st, T0)
				return next, ok
			})
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Two free failures, then the third starts a one-minute wait.
	if allowed != 3 {
		t.Errorf("parallel attempts allowed = %d, want 3", allowed)
	}
	if err := s.ResetThrottle(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	st, ok, _ := s.Reserve(ctx, "k", func(st throttle.State) (throttle.State, bool) {
		next, ok, _ := rule.Reserve(st, T0)
		return next, ok
	})
	if !ok || st.Failures != 1 {
		t.Errorf("after reset: ok=%v failures=%d, want true, 1", ok, st.Failures)
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		NewUser(t, tx, "carol")
		if err := tx.AppendAudit(ctx, &audit.Event{Time: T0, Type: audit.UserCreated, UserID: "usr_carol"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if _, err := s.UserByUsername(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user survived rollback: %v", err)
	}
	if n, _ := audit.Verify(s.AuditEvents(ctx)); n != 0 {
		t.Errorf("audit event survived rollback: %d events", n)
	}
}
