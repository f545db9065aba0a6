// Package sqlite implements [store.Store] on an embedded SQLite database
// (the pure-Go modernc.org/sqlite driver), gatehouse's zero-set-up default.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite store.
type DB struct {
	db *sql.DB
	conn
	// revokedSince is RevokedSince's query, prepared once: forward-auth
	// asks it up to every authn.DefaultWatchEvery, and parsing it each
	// time was most of its cost.
	revokedSince *sql.Stmt
	stmts        *stmts
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file gatehouse.db in dir
// and brings its schema up to date.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dir, "gatehouse.db"))
}

// OpenFile opens the database at path.
func OpenFile(ctx context.Context, path string) (*DB, error) {
	// WAL lets readers go on while one writer writes; the busy timeout makes
	// writers queue instead of failing; immediate transactions take the
	// write lock at BEGIN, so read-then-write transactions (throttle
	// counters, the audit chain head) cannot interleave.
	v := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		v.Add("_pragma", p)
	}
	v.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{db: db, stmts: &stmts{db: db}}
	s.conn = conn{x: onDB{db: db, c: s.stmts}}
	s.conn.db = s
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.revokedSince, err = db.PrepareContext(ctx, `SELECT seq, kind, id FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return s, nil
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	latest := 0
	for _, f := range files {
		n, _ := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		latest = max(latest, n)
	}
	applied, current, err := s.appliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("%w: the database is at version %d, this gatehouse knows up to %d; run a newer gatehouse", store.ErrSchemaTooNew, current, latest)
	}
	// Every migration the database lacks is applied, in order, even one
	// numbered below the highest applied: migrations written side by side
	// may land in any order.
	for _, f := range files {
		n, _ := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if applied[n] {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		err = s.InTx(ctx, func(tx store.Tx) error {
			x := tx.(*conn).x
			if _, err := x.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := x.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, n, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// appliedMigrations returns the versions recorded in schema_migrations
// and the highest of them.
func (s *DB) appliedMigrations(ctx context.Context) (map[int]bool, int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	applied, top := map[int]bool{}, 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, 0, err
		}
		applied[v], top = true, max(top, v)
	}
	return applied, top, rows.Err()
}

// InTx implements [store.Store].
func (s *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer s.stmts.warm(ctx)
	if err := fn(&conn{x: newInTx(tx, s.stmts), db: s, inTx: true}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Ping implements [store.Store].
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Revocations implements [store.Store]. SQLite serves one instance, so
// every revocation is local and there is nothing to deliver.
func (s *DB) Revocations() <-chan store.Revocation { return nil }

// Backup writes a consistent copy of the database to path, which must not
// exist, while the store stays open to readers and writers (SQLite's
// VACUUM INTO: one read transaction, so the copy is the database as of
// one commit). The copy is a database of its own, openable with
// [OpenFile], with its sealed factor seeds sealed as they were: without
// the seal key (factors.seed_key) they are useless, with it they are the
// accounts.
func (s *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists; name a new file", path)
	}
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// Alone implements [store.Store]: one process serves a SQLite store, so
// its work has no other instance to wait for.
func (s *DB) Alone(ctx context.Context, _ string, fn func(context.Context) error) (bool, error) {
	return true, fn(ctx)
}

// RevokedSince implements [store.Store] from the revocations table, which
// triggers fill (migration 0004): another process on the same file, such
// as the command line, revokes there too.
func (s *DB) RevokedSince(ctx context.Context, seq int64, limit int) ([]store.Revocation, int64, error) {
	if seq < 0 {
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM revocations`).Scan(&seq)
		return nil, seq, err
	}
	rows, err := s.revokedSince.QueryContext(ctx, seq, limit)
	if err != nil {
		return nil, seq, err
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var r store.Revocation
		var kind, id string
		if err := rows.Scan(&r.Seq, &kind, &id); err != nil {
			return nil, seq, err
		}
		switch kind {
		case "key":
			r.Key = id
		case "user":
			r.User = id
		default:
			r.Session = id
		}
		out = append(out, r)
		seq = r.Seq
	}
	return out, seq, rows.Err()
}

// Close closes the database.
func (s *DB) Close() error {
	s.revokedSince.Close()
	s.stmts.close()
	return s.db.Close()
}

// execer runs the store's statements, prepared once (stmts.go).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs the aggregate methods on the database or inside a transaction.
type conn struct {
	x    execer
	db   *DB
	inTx bool
	// head is the audit event this transaction appended last: the write
	// lock (BEGIN IMMEDIATE) is held since, so the next append need not
	// read the head again. Outside a transaction it stays nil.
	head *audit.Event
}

// atomic runs fn in a transaction, or in the current one.
func (q *conn) atomic(ctx context.Context, fn func(*conn) error) error {
	if q.inTx {
		return fn(q)
	}
	return q.db.InTx(ctx, func(tx store.Tx) error { return fn(tx.(*conn)) })
}

// mapErr turns driver errors into the store's.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	return err
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func tm(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return tm(v.Int64)
}
