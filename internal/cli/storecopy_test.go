package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/cli"
	"gatehouse/internal/store/storetest"
)

// freshDatabase creates a PostgreSQL database of its own for the test on
// the server of $GATEHOUSE_TEST_POSTGRES_URL and returns its URL; it is
// dropped when the test ends. store copy wants an empty database, not
// the schema of a shared one.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv(storetest.PostgresURLEnv)
	if base == "" {
		storetest.PostgresURL(t) // skips, or fails under CI, as every PostgreSQL test
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "gatehouse_copy_" + hex.EncodeToString(b[:])
	adminURL := u.String()
	admin := func(q string) {
		// Generous: CREATE and DROP DATABASE wait for a checkpoint, which
		// takes its time on a busy server.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	admin("CREATE DATABASE " + name)
	t.Cleanup(func() { admin("DROP DATABASE " + name + " WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// runCLI runs one verb in-process with no environment and returns its
// output, stdout and stderr together, with the error as the command
// would report it.
func runCLI(args ...string) (string, error) {
	var out bytes.Buffer
	err := cli.Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out)
	cli.Report(&out, err)
	return out.String(), err
}

// TestStoreCopy moves a store in use from SQLite to PostgreSQL: every
// table arrives whole, the audit chain verifies there, a TOTP factor's
// sealed seed still opens (its user signs in with a code on a server on
// the copy) and a second copy into the now full database is refused.
func TestStoreCopy(t *testing.T) {
	target := freshDatabase(t)
	dir := t.TempDir()
	s := startServer(t, []string{"--data", dir}, nil)
	faSetup(t, s)
	s.newTrader(t, "carla", "a long passphrase of hers")
	faMember(t, s, "carla", "ACC-P", "owner")
	faKey(t, s, "--account", "ACC-P", "--name", "bot", "--environment", "paper", "--scope", "orders:read")

	const pw = "totp user long passphrase"
	home, e := startTOTP(t, s, "tina", pw)
	if resp := call(t, home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpCode(t, e.Secret, -1)}, nil, &factorAnswer{}); resp.StatusCode != 200 {
		t.Fatalf("confirm totp = %d", resp.StatusCode)
	}

	copyArgs := []string{"store", "copy", "--from", dir, "--to", target}
	out, err := runCLI(copyArgs...)
	if err != nil || !strings.Contains(out, "audit chain intact") {
		t.Fatalf("store copy = %v\n%s", err, out)
	}

	// Every table the source has, with as many rows.
	src, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gatehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := pgx.Connect(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(context.Background())
	rows, err := src.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence', 'revocations')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	nonEmpty := 0
	for _, table := range tables {
		var want, got int64
		src.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&want)
		if err := dst.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&got); err != nil {
			t.Errorf("count %s in the copy: %v", table, err)
			continue
		}
		if got != want {
			t.Errorf("%s: %d rows in the copy, %d in the source", table, got, want)
		}
		if want > 0 {
			nonEmpty++
		}
	}
	for _, table := range []string{"users", "factors", "recovery_codes", "sessions", "devices", "api_keys", "audit", "accounts", "memberships"} {
		var n int64
		dst.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n)
		if n == 0 {
			t.Errorf("%s is empty in the copy: the test does not cover it", table)
		}
	}

	// A server on the copy: the TOTP seed opens, the chain verifies.
	p := startServer(t, []string{"--database-url", target}, nil)
	c := home // its device cookie was copied with the devices
	a := login(t, p, c, "tina", pw, nil)
	if a.Status != "factor_required" {
		t.Fatalf("login on the copy = %+v; want factor_required", a)
	}
	var done loginAnswer
	if resp := call(t, c, "POST", p.URL+"/v1/login/"+a.Flow+"/totp", map[string]string{"code": totpCode(t, e.Secret, 1)}, nil, &done); resp.StatusCode != 200 || done.Status != "authenticated" {
		t.Fatalf("totp on the copy = %d %+v %s", resp.StatusCode, done, body(resp))
	}
	if out, err := p.gatehouse(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "audit chain intact") {
		t.Errorf("audit verify on the copy = %v\n%s", err, out)
	}
	if out, err := p.gatehouse(t, "", "key", "list", "--account", "ACC-P"); err != nil || !strings.Contains(out, "bot") {
		t.Errorf("key list on the copy = %v\n%s", err, out)
	}

	// The target is no longer empty: refused, and nothing changes.
	var before int64
	dst.QueryRow(context.Background(), `SELECT count(*) FROM audit`).Scan(&before)
	if out, err := runCLI(copyArgs...); err == nil || !strings.Contains(out, "not empty") {
		t.Errorf("second store copy = %v\n%s; want refused, not empty", err, out)
	}
	var after int64
	dst.QueryRow(context.Background(), `SELECT count(*) FROM audit`).Scan(&after)
	if after != before {
		t.Errorf("audit events in the target after a refused copy = %d, want %d", after, before)
	}
	// No store at --from: refused rather than an empty copy.
	if out, err := runCLI("store", "copy", "--from", t.TempDir(), "--to", target); err == nil || !strings.Contains(out, "no SQLite store") {
		t.Errorf("store copy from an empty directory = %v\n%s", err, out)
	}
}

// TestStoreBackup backs a SQLite store up while its server serves and
// signs users in: the backup's audit chain verifies, a server restored
// from it signs the TOTP user in with a code (the sealed seed opens with
// the same seal key), and an existing file or a missing store is refused.
func TestStoreBackup(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, []string{"--data", dir}, nil)
	const pw = "totp user long passphrase"
	home, e := startTOTP(t, s, "tina", pw)
	if resp := call(t, home, "POST", s.URL+"/v1/factors/"+e.Factor.ID+"/confirm", map[string]string{"code": totpCode(t, e.Secret, -1)}, nil, &factorAnswer{}); resp.StatusCode != 200 {
		t.Fatalf("confirm totp = %d", resp.StatusCode)
	}
	// Writes go on while the backup reads.
	stop := make(chan struct{})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for {
			select {
			case <-stop:
				return
			default:
				resp, err := http.Post(s.URL+"/v1/login", "application/json", strings.NewReader(`{"username":"nobody","password":"wrong password","interface":"web"}`))
				if err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	backup := filepath.Join(t.TempDir(), "gatehouse-backup.db")
	out, err := runCLI("store", "backup", "--data", dir, "--to", backup)
	close(stop)
	<-busy
	if err != nil || !strings.Contains(out, "audit chain intact") {
		t.Fatalf("store backup = %v\n%s", err, out)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup's mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if out, err := runCLI("store", "backup", "--data", dir, "--to", backup); err == nil || !strings.Contains(out, "exists") {
		t.Errorf("backup over an existing file = %v\n%s; want refused", err, out)
	}
	if out, err := runCLI("store", "backup", "--data", t.TempDir(), "--to", backup+".2"); err == nil || !strings.Contains(out, "no SQLite store") {
		t.Errorf("backup of an empty directory = %v\n%s; want refused", err, out)
	}

	// Restored: the backup is the new store's database file.
	restored := t.TempDir()
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "gatehouse.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, []string{"--data", restored}, nil)
	a := login(t, p, home, "tina", pw, nil)
	if a.Status != "factor_required" {
		t.Fatalf("login on the restored store = %+v; want factor_required", a)
	}
	var done loginAnswer
	if resp := call(t, home, "POST", p.URL+"/v1/login/"+a.Flow+"/totp", map[string]string{"code": totpCode(t, e.Secret, 1)}, nil, &done); resp.StatusCode != 200 || done.Status != "authenticated" {
		t.Fatalf("totp on the restored store = %d %+v", resp.StatusCode, done)
	}
}
