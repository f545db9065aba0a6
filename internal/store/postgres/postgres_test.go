package postgres_test

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Postgres(t) })
}

// open opens a store on url, closed when the test ends.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// raw connects to url directly, closed when the test ends.
func raw(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func TestReopenIsNoop(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	storetest.NewUser(t, db, "alice")
	db.Close()
	db = open(t, url)
	if _, err := db.UserByUsername(ctx, "alice"); err != nil {
		t.Errorf("data lost across reopen: %v", err)
	}
	var n int
	if err := raw(t, url).QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != migrationCount(t) {
		t.Errorf("schema_migrations rows = %d, %v; want one per migration, %d", n, err, migrationCount(t))
	}
}

func TestConcurrentOpen(t *testing.T) {
	// Instances starting at once against an empty database: the
	// migration lock lets one migrate and the others find it done.
	url := storetest.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(ctx, url)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d = %v", i, err)
		}
	}
	var n int
	if err := raw(t, url).QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != migrationCount(t) {
		t.Errorf("schema_migrations rows = %d, %v; want one per migration, %d", n, err, migrationCount(t))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := raw(t, url).Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, now())`); err != nil {
		t.Fatal(err)
	}
	if db, err := postgres.Open(ctx, url); !errors.Is(err, store.ErrSchemaTooNew) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

// A migration numbered below the highest applied one, missing from the
// database (written beside a later one that landed first), is applied on
// the next open.
func TestLowerMissingMigrationApplied(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := raw(t, url).Exec(ctx, `DROP TABLE used_once; DELETE FROM schema_migrations WHERE version = 10`); err != nil {
		t.Fatal(err)
	}
	db, err = postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.UseOnce(ctx, "test", []byte("h"), now.Add(time.Minute), now); err != nil {
		t.Errorf("used_once after the reopen: %v, want the table back", err)
	}
}

func TestMissingSchemaRefused(t *testing.T) {
	url := storetest.PostgresURL(t)
	if _, err := raw(t, url).Exec(ctx, `DROP SCHEMA `+pgx.Identifier{searchPath(t, url)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if db, err := postgres.Open(ctx, url); err == nil {
		db.Close()
		t.Error("Open with no schema on the search_path succeeded")
	}
	// Put it back for the cleanup to drop.
	if _, err := raw(t, url).Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{searchPath(t, url)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
}

func searchPath(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RuntimeParams["search_path"]
}

func TestAuditTamperDetected(t *testing.T) {
	url := storetest.PostgresURL(t)
	db := open(t, url)
	for i := range 3 {
		if err := db.AppendAudit(ctx, &audit.Event{Time: time.Now(), Type: audit.LoginFailed, UserID: "u", Detail: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := audit.Verify(db.AuditEvents(ctx)); err != nil || n != 3 {
		t.Fatalf("Verify before tampering = %d, %v; want 3, nil", n, err)
	}
	if _, err := raw(t, url).Exec(ctx, `UPDATE audit SET type = 'login.succeeded' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	_, err := audit.Verify(db.AuditEvents(ctx))
	var be *audit.BrokenError
	if !errors.As(err, &be) || be.Seq != 2 {
		t.Errorf("Verify after tampering = %v, want broken at 2", err)
	}
}

func TestTimesUTCMicroseconds(t *testing.T) {
	db := storetest.Postgres(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	at := time.Date(2026, 3, 2, 4, 30, 0, 123456789, ny)
	u := &user.User{ID: "usr_a", Username: "alice", Email: "a@example.com", Profile: user.Occasional, PasswordHash: "h", CreatedAt: at, UpdatedAt: at}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Truncate(time.Microsecond)
	if got.CreatedAt != want {
		t.Errorf("CreatedAt = %#v, want %#v (UTC, whole microseconds)", got.CreatedAt, want)
	}
	// The zero time reads back as the zero time.
	_, ok, err := db.Reserve(ctx, "k", func(s throttle.State) (throttle.State, bool) { return s, true })
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	st, _, err := db.Reserve(ctx, "k", func(s throttle.State) (throttle.State, bool) { return s, false })
	if err != nil || st != (throttle.State{Key: "k"}) {
		t.Errorf("stored zero state read back as %#v, %v", st, err)
	}
}

func TestThrottleRefusedStoresNothing(t *testing.T) {
	url := storetest.PostgresURL(t)
	db := open(t, url)
	if _, ok, err := db.Reserve(ctx, "k", func(s throttle.State) (throttle.State, bool) { return s, false }); ok || err != nil {
		t.Fatalf("Reserve = %v, %v; want false, nil", ok, err)
	}
	var n int
	if err := raw(t, url).QueryRow(ctx, `SELECT COUNT(*) FROM throttles`).Scan(&n); err != nil || n != 0 {
		t.Errorf("throttle rows after a refused reservation = %d, %v; want 0", n, err)
	}
}

func TestTxGoesOnAfterConflict(t *testing.T) {
	// As in SQLite, a constraint failure undoes only its statement: the
	// transaction can read the winner and commit.
	db := storetest.Postgres(t)
	u := storetest.NewUser(t, db, "alice")
	d := &device.Device{ID: "dev_1", UserID: u.ID, Interface: "web", Fingerprint: "fp", Status: device.Trusted, CreatedAt: storetest.T0, LastSeenAt: storetest.T0}
	if err := db.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	err := db.InTx(ctx, func(tx store.Tx) error {
		dup := *d
		dup.ID = "dev_2"
		if err := tx.CreateDevice(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("CreateDevice(duplicate) = %v, want ErrConflict", err)
		}
		if err := tx.CreateDevice(ctx, &device.Device{ID: "dev_3", UserID: "usr_nobody", Fingerprint: "x", Status: device.Trusted}); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("CreateDevice(unknown user) = %v, want ErrNotFound", err)
		}
		if _, err := tx.DeviceByFingerprint(ctx, u.ID, "fp"); err != nil {
			return fmt.Errorf("DeviceByFingerprint after the conflict: %w", err)
		}
		return tx.TouchDevice(ctx, "dev_1", storetest.T0.Add(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.DeviceByFingerprint(ctx, u.ID, "fp")
	if err != nil || !got.LastSeenAt.Equal(storetest.T0.Add(time.Hour)) {
		t.Errorf("after commit: %+v, %v; want last seen T0+1h", got, err)
	}
}

// TestInTxRetriesDeadlockVictim makes two transactions write two users in
// opposite orders, so that PostgreSQL aborts one of them as a deadlock
// victim (40P01): InTx runs the victim again, and both changes commit.
func TestInTxRetriesDeadlockVictim(t *testing.T) {
	db := storetest.Postgres(t)
	a := storetest.NewUser(t, db, "alice")
	b := storetest.NewUser(t, db, "bob")
	var wg sync.WaitGroup
	var first sync.WaitGroup // both hold their first row lock
	first.Add(2)
	runs := make([]int, 2)
	errs := make([]error, 2)
	for i, order := range [][]*user.User{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.InTx(ctx, func(tx store.Tx) error {
				runs[i]++
				if err := tx.SetPasswordHash(ctx, order[0].ID, fmt.Sprintf("h%d", i), storetest.T0); err != nil {
					return err
				}
				if runs[i] == 1 {
					first.Done()
					first.Wait()
				}
				return tx.SetPasswordHash(ctx, order[1].ID, fmt.Sprintf("h%d", i), storetest.T0)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v, want it retried to success", i, err)
		}
	}
	if runs[0]+runs[1] < 3 {
		t.Errorf("runs = %v, want one transaction run again after the deadlock", runs)
	}
	ga, _ := db.UserByID(ctx, a.ID)
	gb, _ := db.UserByID(ctx, b.ID)
	if ga.PasswordHash != gb.PasswordHash {
		t.Errorf("hashes after both commits: %q, %q; want the last transaction's on both", ga.PasswordHash, gb.PasswordHash)
	}
}

// receive waits for the next id on ch.
// receive returns the next session id Revocations delivers (see
// receiveAny).
func receive(t *testing.T, ch <-chan store.Revocation) string {
	t.Helper()
	r := receiveAny(t, ch)
	if r.Session == "" {
		t.Fatalf("revocation = %+v, want a session", r)
	}
	return r.Session
}

// receiveAny returns the next entry Revocations delivers, failing after 5 s.
func receiveAny(t *testing.T, ch <-chan store.Revocation) store.Revocation {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("Revocations closed")
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no revocation within 5s")
		return store.Revocation{}
	}
}

func TestRevocations(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	other := storetest.Postgres(t) // another schema of the same database
	alice, bob := storetest.NewUser(t, a, "alice"), storetest.NewUser(t, a, "bob")
	for _, id := range []string{"ses_1", "ses_2", "ses_3", "ses_4"} {
		storetest.NewSession(t, a, alice, id, storetest.T0)
	}
	storetest.NewSession(t, a, bob, "ses_bob", storetest.T0)

	// Rolled back: nothing is sent.
	boom := errors.New("boom")
	err := a.InTx(ctx, func(tx store.Tx) error {
		if err := tx.EndSession(ctx, "ses_1", storetest.T0, session.EndRevoked); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	// Not ended: nothing is sent.
	if err := a.EndSession(ctx, "ses_unknown", storetest.T0, session.EndRevoked); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EndSession(unknown) = %v, want ErrNotFound", err)
	}

	if err := a.EndSession(ctx, "ses_2", storetest.T0, session.EndRevoked); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, b.Revocations()); got != "ses_2" {
		t.Errorf("first revocation = %q, want ses_2 (the rolled-back end of ses_1 must not be sent)", got)
	}
	ids, err := a.EndSessionsOfUser(ctx, alice.ID, "ses_4", storetest.T0, session.EndPasswordChange)
	if err != nil || len(ids) != 2 {
		t.Fatalf("EndSessionsOfUser = %v, %v; want two ids", ids, err)
	}
	got := map[string]bool{receive(t, b.Revocations()): true, receive(t, b.Revocations()): true}
	if !got["ses_1"] || !got["ses_3"] {
		t.Errorf("revocations after EndSessionsOfUser = %v, want ses_1 and ses_3", got)
	}
	// The ending instance hears its own ends too.
	own := []string{receive(t, a.Revocations()), receive(t, a.Revocations()), receive(t, a.Revocations())}
	if own[0] != "ses_2" || !got[own[1]] || !got[own[2]] || own[1] == own[2] {
		t.Errorf("a's own revocations = %q, want ses_2, then ses_1 and ses_3", own)
	}
	select {
	case r := <-other.Revocations():
		t.Errorf("a store on another schema received %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestRevocationsReconnect(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	alice := storetest.NewUser(t, a, "alice")
	schema := searchPath(t, url)
	// Kill b's listening connection (and a's: they look alike).
	tag, err := raw(t, url).Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query ILIKE 'LISTEN %' AND position($1 in query) > 0`, schema)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 2 {
		t.Fatalf("terminated %d listeners, want 2", tag.RowsAffected())
	}
	// Ends sent before b listens again are lost, so once it listens b
	// says so (All) before anything it hears: end one session after
	// another until one arrives, and All must have come first.
	deadline := time.Now().Add(10 * time.Second)
	sawAll := false
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no revocation delivered within 10s of the listener's connection being killed (All seen: %v)", sawAll)
		}
		id := fmt.Sprintf("ses_%d", i)
		storetest.NewSession(t, a, alice, id, storetest.T0)
		if err := a.EndSession(ctx, id, storetest.T0, session.EndRevoked); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-b.Revocations():
			switch {
			case got.All:
				sawAll = true
			case !sawAll:
				t.Fatalf("revocation %+v after the reconnection, before All", got)
			case !strings.HasPrefix(got.Session, "ses_"):
				// (a late one may be an earlier end's, under load)
				t.Errorf("revocation = %+v, want one of the sessions ended", got)
				return
			default:
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestRevocationsUnreadNeverBlock(t *testing.T) {
	url := storetest.PostgresURL(t)
	a := open(t, url)
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.NewUser(t, a, "alice")
	ch := b.Revocations()
	// More ends than the channel holds, and nobody reading.
	n := cap(ch) + 50
	err = a.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			storetest.NewSession(t, tx, alice, fmt.Sprintf("ses_%04d", i), storetest.T0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := a.EndSessionsOfUser(ctx, alice.ID, "", storetest.T0, session.EndRevoked); err != nil || len(ids) != n {
		t.Fatalf("EndSessionsOfUser = %d ids, %v; want %d", len(ids), err, n)
	}
	for deadline := time.Now().Add(5 * time.Second); len(ch) < cap(ch); {
		if time.Now().After(deadline) {
			t.Fatalf("channel holds %d of %d after 5s", len(ch), cap(ch))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The listener is not stuck on the full channel: Close stops it.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked with an unread, full Revocations channel")
	}
	got := 0
	for range ch { // closed by Close once drained
		got++
	}
	if got != cap(ch) {
		t.Errorf("drained %d ids, want the %d buffered", got, cap(ch))
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestRevocationsLongSchemaName(t *testing.T) {
	// A channel named after a 63-byte schema would pass PostgreSQL's limit
	// on names; it is hashed instead, and ends still go out.
	u, err := neturl.Parse(storetest.PostgresURL(t))
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skip("needs " + storetest.PostgresURLEnv + " as a postgres:// URL")
	}
	schema := "gatehouse_test_long_" + strings.Repeat("x", 63-len("gatehouse_test_long_"))
	admin := raw(t, u.String())
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := open(t, u.String())
	alice := storetest.NewUser(t, db, "alice")
	storetest.NewSession(t, db, alice, "ses_1", storetest.T0)
	if err := db.EndSession(ctx, "ses_1", storetest.T0, session.EndRevoked); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, db.Revocations()); got != "ses_1" {
		t.Errorf("revocation = %q, want ses_1", got)
	}
}

// migrationCount is the number of migration files, each recorded once.
func migrationCount(t *testing.T) int {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}
