package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

// ErrNotEmpty is returned by [DB.Load] when the target already holds
// data: a copy goes into an empty database only, so that nothing there is
// overwritten or merged with what it copies.
var ErrNotEmpty = errors.New("postgres: the target database is not empty")

// Load copies every table of src into this database, which must be empty
// (freshly migrated, nothing else in it; [ErrNotEmpty] otherwise), in one
// transaction: a copy that fails leaves the target as empty as it was.
// It returns how many rows each table received.
//
// The two schemas have the same tables and columns (both stores are
// migrated by one binary); Load refuses a table or column on one side
// only, so that nothing is dropped in silence. Values are converted by
// the target column's type: SQLite's microseconds since the epoch (0 for
// "never") become timestamptz (0001-01-01 for "never"), its integers
// booleans where the column is boolean; bytes (a sealed factor seed, a
// hash of the audit chain) are copied as they are. Tables are copied
// parents first, by their foreign keys.
func (s *DB) Load(ctx context.Context, src store.Snapshot) (map[string]int64, error) {
	counts := map[string]int64{}
	err := s.lockedTx(ctx, lockAudit, func(tx pgx.Tx) error {
		types, err := columnTypes(ctx, tx)
		if err != nil {
			return err
		}
		for table := range types {
			var some bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{table}.Sanitize()+`)`).Scan(&some); err != nil {
				return fmt.Errorf("postgres: check %s is empty: %w", table, err)
			}
			if some {
				return fmt.Errorf("%w: table %s has rows; copy into a new database", ErrNotEmpty, table)
			}
		}
		order, err := parentsFirst(ctx, tx, types)
		if err != nil {
			return err
		}
		have := src.Tables()
		for _, t := range have {
			if _, ok := types[t]; !ok {
				return fmt.Errorf("postgres: the source has a table %s the target lacks; run the same gatehouse version on both", t)
			}
		}
		for _, table := range order {
			if !slices.Contains(have, table) {
				return fmt.Errorf("postgres: the target has a table %s the source lacks; run the same gatehouse version on both", table)
			}
			cols, rows, err := src.Rows(ctx, table)
			if err != nil {
				return err
			}
			want := types[table]
			conv := make([]string, len(cols))
			for i, c := range cols {
				typ, ok := want[c]
				if !ok {
					return fmt.Errorf("postgres: the source's %s.%s has no column in the target", table, c)
				}
				conv[i] = typ
			}
			if len(cols) != len(want) {
				return fmt.Errorf("postgres: the target's %s has %d columns, the source's %d", table, len(want), len(cols))
			}
			next, stop := iter.Pull2(rows)
			var rowErr error
			n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
				vals, err, ok := next()
				if !ok || err != nil {
					rowErr = err
					return nil, err
				}
				for i := range vals {
					if vals[i], err = convert(vals[i], conv[i]); err != nil {
						return nil, fmt.Errorf("%s.%s: %w", table, cols[i], err)
					}
				}
				return vals, nil
			}))
			stop()
			if rowErr != nil {
				return fmt.Errorf("postgres: read %s from the source: %w", table, rowErr)
			}
			if err != nil {
				return fmt.Errorf("postgres: copy %s: %w", table, err)
			}
			counts[table] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// columnTypes maps each table of the schema (the migration ledger left
// out) to its columns' data types.
func columnTypes(ctx context.Context, tx pgx.Tx) (map[string]map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND t.table_type IN ('BASE TABLE') AND c.table_name <> 'schema_migrations'`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read the schema: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]string{}
		}
		out[t][c] = typ
	}
	return out, rows.Err()
}

// parentsFirst orders the tables so that each comes after those its
// foreign keys name (a table naming itself, as a sub-account its parent,
// is loaded in the source's order).
func parentsFirst(ctx context.Context, tx pgx.Tx, tables map[string]map[string]string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
		WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read foreign keys: %w", err)
	}
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, err
		}
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	sort.Strings(names)
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("postgres: foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, p := range parents[t] {
			if _, ok := tables[p]; ok {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range names {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// convert readies a value read from SQLite for a column of type typ.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "timestamp with time zone":
		us, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("a time is %T, want microseconds", v)
		}
		if us == 0 {
			return time.Time{}, nil // "never", as this package writes it
		}
		return time.UnixMicro(us).UTC(), nil
	case "boolean":
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("a boolean is %T, want an integer", v)
		}
		return n != 0, nil
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	case "text", "jsonb":
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	}
	return v, nil
}
