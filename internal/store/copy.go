package store

import (
	"context"
	"iter"
)

// Snapshot is a consistent read of every table of a store, for copying
// it to another (gatehouse store copy): the source's rows as its driver
// reads them, with no business meaning attached. A Snapshot is valid only
// inside the call that hands it out.
type Snapshot interface {
	// Tables names the tables the snapshot holds, the store's own
	// bookkeeping (its migration ledger) left out.
	Tables() []string
	// Rows returns a table's column names and walks its rows, each a value
	// per column: int64, float64, string, []byte or nil.
	Rows(ctx context.Context, table string) (columns []string, rows iter.Seq2[[]any, error], err error)
}
