package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCached bounds the statements kept prepared: the store's queries are
// constant text, bar a few with a variable IN list, which past the bound
// are parsed each time as before.
const maxCached = 512

// stmts keeps every statement the store runs prepared, once per
// connection: parsing the SQL was a third of the cost of a large
// transaction (a signal applied to 100 000 users) and much of a small one.
type stmts struct {
	db   *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
	want map[string]bool // asked for in a transaction, not yet prepared
}

// get returns the prepared statement of query, preparing it on the
// database, or nil past the bound or on an error (the caller then runs the
// text, which reports the error). Never called inside a transaction:
// preparing takes a connection of the pool, and a transaction holding one
// while every other waits on its write lock would wait for ever.
func (c *stmts) get(ctx context.Context, query string) *sql.Stmt {
	if s := c.lookup(query); s != nil {
		return s
	}
	c.mu.Lock()
	full := len(c.m) >= maxCached
	c.mu.Unlock()
	if full {
		return nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had, ok := c.m[query]; ok {
		s.Close()
		return had
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = s
	return s
}

// lookup returns the prepared statement of query if there is one, and
// otherwise notes query for [stmts.warm].
func (c *stmts) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s
	}
	if len(c.m)+len(c.want) < maxCached {
		if c.want == nil {
			c.want = map[string]bool{}
		}
		c.want[query] = true
	}
	return nil
}

// warm prepares the queries transactions asked for and did not find,
// once the transaction has given its connection back.
func (c *stmts) warm(ctx context.Context) {
	c.mu.Lock()
	want := c.want
	c.want = nil
	c.mu.Unlock()
	for q := range want {
		c.get(ctx, q)
	}
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// onDB runs statements outside a transaction. database/sql hands each
// use of a statement a connection of its own, so open rows of one query
// never share a SQLite statement with another use of it.
type onDB struct {
	db *sql.DB
	c  *stmts
}

func (x onDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := x.c.get(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return x.db.ExecContext(ctx, query, args...)
}

func (x onDB) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	if s := x.c.get(ctx, query); s != nil {
		r, err := s.QueryContext(ctx, args...)
		return wrapRows(r, nil), err
	}
	r, err := x.db.QueryContext(ctx, query, args...)
	return wrapRows(r, nil), err
}

func (x onDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := x.c.get(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return x.db.QueryRowContext(ctx, query, args...)
}

// inTx runs statements in one transaction, on its one connection. There
// a SQLite statement serves one use at a time: a query whose rows are
// still open when the same query runs again (a nested loop) runs the
// second time from its text.
type inTx struct {
	tx   *sql.Tx
	c    *stmts
	mine map[string]*sql.Stmt
	busy map[string]bool
}

func newInTx(tx *sql.Tx, c *stmts) *inTx {
	return &inTx{tx: tx, c: c, mine: map[string]*sql.Stmt{}, busy: map[string]bool{}}
}

func (x *inTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if x.busy[query] {
		return nil
	}
	if s, ok := x.mine[query]; ok {
		return s
	}
	var s *sql.Stmt
	if p := x.c.lookup(query); p != nil {
		s = x.tx.StmtContext(ctx, p)
	} else {
		// Prepared for this transaction only; the database's copy is
		// made once it ends.
		var err error
		if s, err = x.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
	}
	x.mine[query] = s
	return s
}

func (x *inTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := x.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return x.tx.ExecContext(ctx, query, args...)
}

func (x *inTx) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	if s := x.stmt(ctx, query); s != nil {
		r, err := s.QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		x.busy[query] = true
		return wrapRows(r, func() { delete(x.busy, query) }), nil
	}
	r, err := x.tx.QueryContext(ctx, query, args...)
	return wrapRows(r, nil), err
}

// QueryRowContext: the row is read (Scan) before anything else runs in
// the transaction, so its statement is free again by the next use.
func (x *inTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := x.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return x.tx.QueryRowContext(ctx, query, args...)
}

// rows are a query's rows, which free the query's statement for another
// use when closed.
type rows struct {
	*sql.Rows
	done func()
}

func wrapRows(r *sql.Rows, done func()) *rows {
	if r == nil {
		return nil
	}
	return &rows{Rows: r, done: done}
}

// Close closes the rows. database/sql closes rows at their end too, but
// the store's loops always defer Close.
func (r *rows) Close() error {
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return r.Rows.Close()
}
