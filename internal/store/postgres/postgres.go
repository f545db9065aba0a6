// Package postgres implements [store.Store] on PostgreSQL with pgx, for
// deployments where several gatehouse instances share one database.
//
// It mirrors store/sqlite statement for statement; what differs is how
// atomicity is had when the instances are separate processes: throttle
// counters are locked row by row (SELECT … FOR UPDATE), the audit chain's
// head under a transaction-scoped advisory lock, and migrations under
// another, so two instances starting at once do not both migrate. Session
// ends are broadcast with NOTIFY in the ending transaction; see
// [DB.Revocations].
//
// The tables live in the first existing schema of the connection's
// search_path (a search_path parameter in the URL selects one), so several
// deployments, or parallel tests, can share a database in separate schemas.
package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"gatehouse/internal/audit"
	"gatehouse/internal/clienttext"
	"gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Classes of the advisory locks, the first half of a two-part key whose
// second half is a hash of the schema: deployments in separate schemas of
// one database do not wait on each other.
//
// Lock order: in a transaction, the audit lock is taken before any row of
// api_keys is written (see [conn.lockKeys]). Every change to a key appends
// its audit event in the same transaction, and the key-use flush writes
// many keys with events in between; taking the rows first and the chain
// second let a flush and a revocation each hold what the other wanted
// (SQLSTATE 40P01), and the revocation failed.
const (
	lockMigrate int32 = 0x67680001 // "gh", 1: the schema and its ledger
	lockAudit   int32 = 0x67680002 // "gh", 2: the audit chain's head
	// lockAlone is the high half of the classes of [DB.Alone]'s locks,
	// whose low half is a hash of the work's name.
	lockAlone int32 = 0x67690000 // "gi", 0
)

// revocationBuffer is how many revocations [DB.Revocations] holds for a
// slow reader; past it the listener waits for room to say All.
const revocationBuffer = 256

// DB is an open PostgreSQL store: a connection pool, plus one dedicated
// connection that LISTENs for session revocations.
//
// Open starts one goroutine, owned by the DB, that holds the listening
// connection, reconnects with backoff when it breaks, and feeds
// [DB.Revocations]. It lives until [DB.Close], which stops it and waits
// for it to return. A DB is safe for concurrent use.
type DB struct {
	pool    *pgxpool.Pool
	schema  string
	lockKey int32  // the schema's half of the advisory lock keys
	channel string // the NOTIFY channel of this schema's revocations
	conn

	revoked   chan store.Revocation
	probes    probes
	stop      context.CancelFunc
	done      chan struct{} // closed when the listener has returned
	closeOnce sync.Once
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string, as pgx reads them), brings the schema up to date and
// starts listening for revocations. It fails with [store.ErrSchemaTooNew]
// when a newer gatehouse has migrated the database.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse the database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &DB{pool: pool, conn: conn{x: textGuard{pool}}}
	s.conn.db = s
	if err := s.start(ctx, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *DB) start(ctx context.Context, cc *pgx.ConnConfig) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: connect (check the database URL and that the server is up): %w", err)
	}
	if schema == nil {
		return errors.New("postgres: no schema on the search_path exists: create it, or fix search_path in the database URL")
	}
	s.schema = *schema
	sum := sha256.Sum256([]byte(s.schema))
	s.lockKey = int32(binary.BigEndian.Uint32(sum[:4]))
	s.channel = channelName(s.schema)
	if err := s.migrate(ctx); err != nil {
		return err
	}
	// The first LISTEN is made before Open returns, so a session ended
	// after Open is delivered; only later reconnects can miss some.
	lc, err := s.connectListener(ctx, cc)
	if err != nil {
		return err
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.revoked = make(chan store.Revocation, revocationBuffer)
	s.done = make(chan struct{})
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	s.probes.id = hex.EncodeToString(id[:])
	go s.listen(lctx, cc, lc)
	return nil
}

// channelName is the NOTIFY channel of a schema's revocations, within
// PostgreSQL's 63-byte limit on names: a schema too long to show is hashed.
func channelName(schema string) string {
	const prefix = "gatehouse_revoked:"
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema
	}
	sum := sha256.Sum256([]byte(schema))
	return prefix + hex.EncodeToString(sum[:16])
}

type migration struct {
	version int
	name    string
}

func migrationFiles() ([]migration, int, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, 0, err
	}
	var out []migration
	latest := 0
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
		if err != nil {
			return nil, 0, fmt.Errorf("postgres: migration %s: bad name", f)
		}
		out = append(out, migration{n, f})
		latest = max(latest, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, latest, nil
}

// migrate applies the embedded migrations the database lacks, each in its
// own transaction, recorded in schema_migrations. Every step holds the
// migration lock and rereads the version under it, so instances starting
// at once apply each migration exactly once.
func (s *DB) migrate(ctx context.Context) error {
	files, latest, err := migrationFiles()
	if err != nil {
		return err
	}
	tooNew := func(current int) error {
		return fmt.Errorf("%w: the database is at version %d, this gatehouse knows up to %d; run a newer gatehouse", store.ErrSchemaTooNew, current, latest)
	}
	version := func(tx pgx.Tx) (int, error) {
		var v int
		err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
		return v, err
	}
	var current int
	applied := map[int]bool{}
	err = s.lockedTx(ctx, lockMigrate, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
		for _, v := range vs {
			applied[v], current = true, max(current, v)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if current > latest {
		return tooNew(current)
	}
	// Every migration the database lacks is applied, in order, even one
	// numbered below the highest applied: migrations written side by side
	// may land in any order.
	for _, m := range files {
		if applied[m.version] {
			continue
		}
		body, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		err = s.lockedTx(ctx, lockMigrate, func(tx pgx.Tx) error {
			v, err := version(tx)
			if err != nil {
				return err
			}
			if v > latest {
				return tooNew(v)
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil // applied before, or by another instance just now
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, ts(time.Now()))
			return err
		})
		if errors.Is(err, store.ErrSchemaTooNew) {
			return err
		}
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", path.Base(m.name), err)
		}
	}
	return nil
}

// lockedTx runs fn in a transaction that first takes the advisory lock of
// class on this schema; the lock is released at commit or rollback.
func (s *DB) lockedTx(ctx context.Context, class int32, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, class, s.lockKey); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Alone implements [store.Store] with a session-level advisory lock,
// tried without waiting, on a connection of its own held while fn runs:
// if the instance dies, PostgreSQL ends its session and the lock with it.
func (s *DB) Alone(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: acquire a connection: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	class := lockAlone | int32(h.Sum32()&0xffff)
	var got bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, class, s.lockKey).Scan(&got); err != nil {
		c.Release()
		return false, fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	if !got {
		c.Release()
		return false, nil
	}
	defer func() {
		if _, err := c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, class, s.lockKey); err != nil {
			// Closing the session is what releases the lock then.
			_ = c.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
		c.Release()
	}()
	return true, fn(ctx)
}

func lock(ctx context.Context, x querier, class, key int32) error {
	_, err := x.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, class, key)
	return err
}

// maxAttempts bounds how often InTx runs a transaction that PostgreSQL
// aborted as a deadlock victim or a serialization failure.
const maxAttempts = 4

// InTx implements [store.Store]. The transaction is READ COMMITTED, as
// PostgreSQL's default; the methods that read then write lock what they
// read.
//
// A transaction that PostgreSQL aborts with a deadlock or a serialization
// failure (SQLSTATE 40P01, 40001) was rolled back whole and is run again,
// up to maxAttempts times with a short random pause, so a lock cycle this
// package did not foresee costs latency, not a failed change. fn may
// therefore run more than once, and must start afresh each time. What an
// aborted attempt changed in memory stays changed: a flow that UpdateFlow
// raised is refused on the retry with ErrConflict, which is the answer
// the race that caused the deadlock would give anyway.
func (s *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		// Up to 10, 20, 40 ms: long enough for the winner to commit.
		var b [2]byte
		rand.Read(b[:]) // never fails
		pause := time.Duration(1+int(binary.BigEndian.Uint16(b[:]))%(10<<(attempt-1))) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// retryable reports whether err means PostgreSQL aborted the transaction
// so that running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlockDetected || pe.Code == codeSerializationFailure)
}

func (s *DB) inTx(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	// Rolls back when fn fails or panics; a no-op after Commit.
	defer tx.Rollback(ctx)
	p := &pipe{tx: tx}
	if err := fn(&conn{x: textGuard{p}, tx: tx, pipe: p, db: s}); err != nil {
		return err
	}
	if err := p.flush(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", mapErr(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", mapErr(err))
	}
	return nil
}

// Ping implements [store.Store].
func (s *DB) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Revocations implements [store.Store]: it delivers every session that
// any instance on this database and schema ends (or whose token changes,
// or whose assurance drops), every key revoked, rotated, suspended or
// thawed, and every user frozen, unfrozen or whose memberships change,
// this instance's own included, once the transaction commits (a rolled
// back one delivers nothing).
//
// Nothing is lost silently. The channel holds a fixed number of entries;
// when a reader falls that far behind, the entries that do not fit are
// dropped and the listener then waits for room to deliver one entry with
// All set; and after the listening connection is re-established (what
// was sent meanwhile is lost) it delivers All before anything else. A
// reader that empties its caches on All misses nothing; the caches'
// bounded age stays as the net for a notification PostgreSQL itself
// loses. An unread channel costs its buffer. The channel is closed once
// [DB.Close] has stopped the listener.
//
// The entries travel on the NOTIFY channel "gatehouse_revoked:" followed
// by the schema's name (or a hash of it, where the name would pass
// PostgreSQL's 63-byte limit), so deployments in separate schemas do not
// hear each other: a session's id bare, "key:" or "user:" and an id
// (migration 0011). LISTEN needs a session of its own: a pooler between
// gatehouse and PostgreSQL must not be in transaction mode.
func (s *DB) Revocations() <-chan store.Revocation { return s.revoked }

// RevokedSince implements [store.Store] with no log: revocations reach
// every instance, and the command line's too, through [DB.Revocations].
func (s *DB) RevokedSince(ctx context.Context, seq int64, limit int) ([]store.Revocation, int64, error) {
	return nil, max(seq, 0), nil
}

// Close stops the revocation listener, waits for it to return and closes
// the pool. It is safe to call more than once.
func (s *DB) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.done
		s.pool.Close()
	})
	return nil
}

// querier is what *pgxpool.Pool and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// textGuard answers a statement with a text argument that is not valid
// text ([clienttext.Valid]: invalid UTF-8, or a NUL) without sending it.
// PostgreSQL refuses such an argument (SQLSTATE 22021) and aborts the
// transaction around it, where SQLite finds no row. Every backend cleans
// the text it stores ([store.CleanSession] and its kin), so such an
// argument is a key that matches no row: a read returns none, an update or
// delete changes none, as in SQLite. Inserts go through [conn.write],
// which refuses one. The guard reads every text argument as a key
// compared for equality; a statement that compares one with <> must
// replace an invalid argument first (see EndSessionsOfUser).
type textGuard struct{ querier }

func (g textGuard) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !validText(args) {
		return pgconn.CommandTag{}, nil // no row affected
	}
	return g.querier.Exec(ctx, sql, args...)
}

func (g textGuard) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !validText(args) {
		return noRows{}, nil
	}
	return g.querier.Query(ctx, sql, args...)
}

func (g textGuard) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !validText(args) {
		return noRow{}
	}
	return g.querier.QueryRow(ctx, sql, args...)
}

// validText reports whether every text argument is valid text.
func validText(args []any) bool {
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if !clienttext.Valid(v) {
				return false
			}
		case []string:
			for _, s := range v {
				if !clienttext.Valid(s) {
					return false
				}
			}
		case nil, []byte, int, int64, bool, time.Time, *time.Time:
		default:
			if r := reflect.ValueOf(a); r.Kind() == reflect.String && !clienttext.Valid(r.String()) {
				return false
			}
		}
	}
	return true
}

// noRow is the row of a query that matched nothing.
type noRow struct{}

func (noRow) Scan(...any) error { return pgx.ErrNoRows }

// noRows is the result of a query that matched nothing.
type noRows struct{}

func (noRows) Close()                                       {}
func (noRows) Err() error                                   { return nil }
func (noRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (noRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (noRows) Next() bool                                   { return false }
func (noRows) Scan(...any) error                            { return pgx.ErrNoRows }
func (noRows) Values() ([]any, error)                       { return nil, pgx.ErrNoRows }
func (noRows) RawValues() [][]byte                          { return nil }
func (noRows) Conn() *pgx.Conn                              { return nil }
func (noRows) TypeMap() *pgtype.Map                         { return nil }

// conn runs the aggregate methods on the pool or inside a transaction.
type conn struct {
	x    querier
	tx   pgx.Tx // nil outside a transaction
	pipe *pipe  // the transaction's statements; nil outside one
	db   *DB
	// head is the audit event this transaction appended last: the chain's
	// lock is held since, so the next append needs neither the lock nor
	// the head read again.
	head *audit.Event
}

// atomic runs fn in a transaction, or in the current one.
func (q *conn) atomic(ctx context.Context, fn func(*conn) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return q.db.InTx(ctx, func(tx store.Tx) error { return fn(tx.(*conn)) })
}

// write runs a statement that may break a constraint. In a transaction it
// runs under a savepoint: PostgreSQL aborts the whole transaction on a
// failed statement where SQLite undoes only the statement, and callers
// written against either may go on after an ErrConflict (to read the row
// that won a race, say).
//
// A text argument that is not valid text (see [textGuard]) is refused
// with [store.ErrNotFound]: every text a client chose has been cleaned, so
// it is a key, which can only name a row that cannot exist.
func (q *conn) write(ctx context.Context, sql string, args ...any) error {
	if !validText(args) {
		return fmt.Errorf("%w: a key is not valid UTF-8 text", store.ErrNotFound)
	}
	if q.tx == nil {
		_, err := q.x.Exec(ctx, sql, args...)
		return mapErr(err)
	}
	// The savepoint, the statement and the release go in one round trip,
	// with what the transaction holds back; only a failure costs two more,
	// to roll back to the savepoint and drop it, which leaves the
	// transaction usable.
	br, err := q.pipe.send(ctx, &pgx.QueuedQuery{SQL: `SAVEPOINT gatehouse_write`},
		&pgx.QueuedQuery{SQL: sql, Arguments: args}, &pgx.QueuedQuery{SQL: `RELEASE SAVEPOINT gatehouse_write`})
	if err != nil {
		return err
	}
	_, errSave := br.Exec()
	_, errStmt := br.Exec()
	_, errRelease := br.Exec()
	errClose := br.Close()
	switch {
	case errSave != nil:
		return errSave
	case errStmt != nil:
		if _, err := q.tx.Exec(ctx, `ROLLBACK TO SAVEPOINT gatehouse_write`); err != nil {
			return errors.Join(mapErr(errStmt), err)
		}
		if _, err := q.tx.Exec(ctx, `RELEASE SAVEPOINT gatehouse_write`); err != nil {
			return errors.Join(mapErr(errStmt), err)
		}
		return mapErr(errStmt)
	}
	return errors.Join(errRelease, errClose)
}

// insert runs an insert that nothing in the transaction waits on and that
// breaks no constraint but by a fault (a fresh random id taken): in a
// transaction it is held back to go with the next statement (see
// [pipe]); its failure then fails the transaction. Invalid text is
// refused as [conn.write] refuses it.
func (q *conn) insert(ctx context.Context, sql string, args ...any) error {
	if !validText(args) {
		return fmt.Errorf("%w: a key is not valid UTF-8 text", store.ErrNotFound)
	}
	if q.pipe == nil {
		_, err := q.x.Exec(ctx, sql, args...)
		return mapErr(err)
	}
	q.pipe.hold(sql, args...)
	return nil
}

// PostgreSQL error codes mapped to the store's errors.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// mapErr turns driver errors into the store's.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case codeForeignKeyViolation:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	return err
}

// ts readies a time for a timestamptz column: UTC, truncated to the
// microseconds PostgreSQL keeps. The zero time is stored as 0001-01-01 UTC.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// tm is a time read from a timestamptz column, in UTC; 0001-01-01 UTC
// reads back as the zero time.
func tm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nullTime reads a nullable timestamptz; NULL is the zero time.
func nullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return tm(*t)
}

// scanner is what pgx.Row and pgx.Rows share.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row of a query; nil when there are none, as store/sqlite.
func collect[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows[T, []T](nil, rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
