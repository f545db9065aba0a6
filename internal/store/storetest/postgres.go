package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store/postgres"
)

// PostgresURLEnv names the environment variable that holds the URL of the
// PostgreSQL database tests may use (any database: each test works in a
// schema of its own).
const PostgresURLEnv = "GATEHOUSE_TEST_POSTGRES_URL"

// Postgres opens a PostgreSQL store on a fresh, empty schema (see
// [PostgresURL]), closed when the test ends.
func Postgres(t testing.TB) *postgres.DB {
	t.Helper()
	return OpenPostgres(t, PostgresURL(t))
}

// OpenPostgres opens a PostgreSQL store on url (from [PostgresURL]),
// closed when the test ends: called twice on one URL, it opens two
// instances' stores on one schema.
func OpenPostgres(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates a schema with a random name in the database named
// by $GATEHOUSE_TEST_POSTGRES_URL and returns a URL whose search_path is
// that schema, for tests that open several stores on one database. The
// schema is dropped, with everything in it, when the test ends; stores
// opened on it must be closed by then (register their Close with
// t.Cleanup after calling PostgresURL).
//
// Without the variable the test is skipped, except under CI (CI=true),
// where it fails: there a skip would hide that the backend went untested.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(PostgresURLEnv + " is not set; CI must provide a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		}
		t.Skip(PostgresURLEnv + " is not set; skipping PostgreSQL tests")
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "gatehouse_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE SCHEMA " + ident); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + ident + " CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// withSearchPath sets the search_path parameter of a connection string,
// which pgx passes to the server as a run-time parameter.
func withSearchPath(conn, schema string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		if u, err := url.Parse(conn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return conn + " search_path=" + schema // keyword/value form; the last value wins
}
