package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"

	"gatehouse/internal/store"
)

// Snapshot runs fn with a [store.Snapshot] of the whole database, read in
// one transaction: it holds the write lock (transactions here are
// immediate), so no writer can change the store while it is copied.
//
// The schema's bookkeeping stays behind: the migration ledger, SQLite's
// sqlite_sequence and the revocation log (revocations), which exists only
// so that other processes on one file learn of revocations and means
// nothing to another store.
func (s *DB) Snapshot(ctx context.Context, fn func(store.Snapshot) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT IN ('schema_migrations', 'sqlite_sequence', 'revocations') AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("sqlite: list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return fn(&snapshot{tx: tx, names: names})
}

type snapshot struct {
	tx    *sql.Tx
	names []string
}

func (s *snapshot) Tables() []string { return s.names }

func (s *snapshot) Rows(ctx context.Context, table string) ([]string, iter.Seq2[[]any, error], error) {
	known := false
	for _, n := range s.names {
		known = known || n == table
	}
	if !known {
		return nil, nil, fmt.Errorf("sqlite: no table %q to copy", table)
	}
	// The name is one of the schema's own, so quoting it is enough. In
	// rowid order, rows come as they were written: a sub-account after
	// its parent.
	rows, err := s.tx.QueryContext(ctx, `SELECT * FROM "`+table+`" ORDER BY rowid`)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: read %s: %w", table, err)
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, nil, err
	}
	seq := func(yield func([]any, error) bool) {
		defer rows.Close()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				yield(nil, err)
				return
			}
			if !yield(vals, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
		}
	}
	return cols, seq, nil
}
