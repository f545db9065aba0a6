package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestReopenIsNoop(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.NewUser(t, db, "alice")
	db.Close()
	db, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("second Open = %v", err)
	}
	defer db.Close()
	if _, err := db.UserByUsername(ctx, "alice"); err != nil {
		t.Errorf("data lost across reopen: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := sql.Open("sqlite", dir+"/gatehouse.db")
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqlite.Open(ctx, dir); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

// A migration numbered below the highest applied one, missing from the
// database (written beside a later one that landed first), is applied on
// the next open.
func TestLowerMissingMigrationApplied(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := sql.Open("sqlite", dir+"/gatehouse.db")
	if _, err := raw.Exec(`DROP TABLE used_once; DELETE FROM schema_migrations WHERE version = 12`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.UseOnce(ctx, "test", []byte("h"), now.Add(time.Minute), now); err != nil {
		t.Errorf("used_once after the reopen: %v, want the table back", err)
	}
}

func TestAuditTamperDetected(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, _ := sqlite.Open(ctx, dir)
	for i := range 3 {
		db.AppendAudit(ctx, &audit.Event{Time: time.Now(), Type: audit.LoginFailed, UserID: "u", Detail: map[string]string{"n": string(rune('0' + i))}})
	}
	raw, _ := sql.Open("sqlite", dir+"/gatehouse.db")
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit SET type = 'login.succeeded' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	_, err := audit.Verify(db.AuditEvents(ctx))
	var be *audit.BrokenError
	if !errors.As(err, &be) || be.Seq != 2 {
		t.Errorf("Verify after tampering = %v, want broken at 2", err)
	}
	db.Close()
}

// TestRevocationLogSeesOtherProcesses revokes through a second handle on
// the same file, as the command line does while serve runs: the first
// handle's RevokedSince names every session ended, re-tokened or lowered and every
// key revoked or rotated, in order, and nothing for a mere last-seen.
func TestRevocationLogSeesOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	server, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	u := storetest.NewUser(t, server, "alice")
	for _, id := range []string{"ses_a", "ses_b", "ses_c", "ses_d"} {
		storetest.NewSession(t, server, u, id, storetest.T0)
	}
	storetest.NewAccount(t, server, "ACC-L", account.Live)
	for _, id := range []string{"key_a", "key_b"} {
		if err := server.CreateKey(ctx, storetest.NewKey(id, "ACC-L", account.Live, storetest.T0)); err != nil {
			t.Fatal(err)
		}
	}
	_, mark, err := server.RevokedSince(ctx, -1, 100)
	if err != nil {
		t.Fatal(err)
	}

	now := storetest.T0.Add(time.Minute)
	steps := []func() error{
		func() error { return cli.TouchSessions(ctx, map[string]time.Time{"ses_a": now}) }, // not a revocation
		func() error { return cli.EndSession(ctx, "ses_a", now, "revoked") },
		func() error { return cli.RaiseSession(ctx, "ses_b", 2, "pwd otp", now, []byte("new hash"), "") },
		func() error { return cli.LowerSession(ctx, "ses_b", "pwd") }, // a factor it proved removed
		func() error { _, err := cli.EndSessionsOfUser(ctx, u.ID, "ses_b", now, "revoked"); return err },
		func() error { return cli.RevokeKey(ctx, "key_a", now, apikey.RevokedByAdmin) },
		func() error { return cli.SetKeySuccessor(ctx, "key_b", "key_c", now.Add(time.Hour)) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, next, err := server.RevokedSince(ctx, mark, 100)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Session+r.Key)
	}
	want := []string{"ses_a", "ses_b", "ses_b", "ses_c", "ses_d", "key_a", "key_b"}
	if !slices.Equal(names, want) || next != got[len(got)-1].Seq {
		t.Errorf("RevokedSince(%d) = %q, next %d; want %q and the last seq", mark, names, next, want)
	}
	if again, same, err := server.RevokedSince(ctx, next, 100); err != nil || len(again) != 0 || same != next {
		t.Errorf("RevokedSince(next) = %v, %d, %v; want nothing new", again, same, err)
	}
	if page, _, err := server.RevokedSince(ctx, mark, 2); err != nil || len(page) != 2 {
		t.Errorf("RevokedSince with limit 2 = %d entries, %v", len(page), err)
	}
}

// TestMembershipChangeReachesTheKeyCache changes a membership through a
// second handle, as `gatehouse member add|remove` does while serve runs:
// the first handle's RevokedSince names the member's working keys on the
// account, so the server's key cache forgets them at once. A re-add with
// the same role, and another member's keys, are not named.
func TestMembershipChangeReachesTheKeyCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	server, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	alice := storetest.NewUser(t, server, "alice")
	bob := storetest.NewUser(t, server, "bob")
	storetest.NewAccount(t, server, "ACC-L", account.Live)
	for _, k := range []struct{ id, by string }{{"key_a", alice.ID}, {"key_b", bob.ID}, {"key_r", alice.ID}} {
		key := storetest.NewKey(k.id, "ACC-L", account.Live, storetest.T0)
		key.CreatedBy = k.by
		if err := server.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if err := server.RevokeKey(ctx, "key_r", storetest.T0, apikey.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	_, mark, err := server.RevokedSince(ctx, -1, 100)
	if err != nil {
		t.Fatal(err)
	}
	m := func(role account.Role) *account.Membership {
		return &account.Membership{UserID: alice.ID, AccountID: "ACC-L", Role: role, CreatedAt: storetest.T0}
	}
	steps := []func() error{
		func() error { return cli.AddMember(ctx, m(account.Trader)) },
		func() error { return cli.AddMember(ctx, m(account.Trader)) }, // no change
		func() error { return cli.AddMember(ctx, m(account.Viewer)) },
		func() error { return cli.RemoveMember(ctx, alice.ID, "ACC-L") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, _, err := server.RevokedSince(ctx, mark, 100)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Session+r.Key)
	}
	if want := []string{"key_a", "key_a", "key_a"}; !slices.Equal(names, want) {
		t.Errorf("RevokedSince(%d) = %q, want %q: added, demoted, removed", mark, names, want)
	}
}
