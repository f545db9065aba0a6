package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipe runs a transaction's statements, holding back the inserts nothing
// waits on (the audit trail's, the outbox's, a notice's freeze link and
// rate) to send them with the next statement, in one round trip. Applying
// a signal to 100 000 users made a million round trips; this is most of
// them.
//
// A held insert that fails fails the statement it went with, and the
// transaction with it, as it would have done alone (PostgreSQL aborts a
// transaction on any failed statement): nothing is committed that was not
// written. Commit sends what is still held first.
type pipe struct {
	tx   pgx.Tx
	held []*pgx.QueuedQuery
}

// hold keeps an insert to send with the next statement.
func (p *pipe) hold(sql string, args ...any) {
	p.held = append(p.held, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// send sends what is held and then qs, and returns the results positioned
// at the first of qs, or the error of a held statement.
func (p *pipe) send(ctx context.Context, qs ...*pgx.QueuedQuery) (pgx.BatchResults, error) {
	b := &pgx.Batch{QueuedQueries: append(p.held, qs...)}
	n := len(p.held)
	p.held = nil
	br := p.tx.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

// flush sends what is held.
func (p *pipe) flush(ctx context.Context) error {
	if len(p.held) == 0 {
		return nil
	}
	b := &pgx.Batch{QueuedQueries: p.held}
	p.held = nil
	return p.tx.SendBatch(ctx, b).Close()
}

func (p *pipe) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if len(p.held) == 0 {
		return p.tx.Exec(ctx, sql, args...)
	}
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (p *pipe) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if len(p.held) == 0 {
		return p.tx.QueryRow(ctx, sql, args...)
	}
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return errRow{err}
	}
	return batchRow{br.QueryRow(), br}
}

func (p *pipe) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if len(p.held) == 0 {
		return p.tx.Query(ctx, sql, args...)
	}
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// SendBatch sends what is held with b, and returns b's results.
func (p *pipe) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if len(p.held) == 0 {
		return p.tx.SendBatch(ctx, b)
	}
	br, err := p.send(ctx, b.QueuedQueries...)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// batchRow is a row read at the end of a batch; reading it ends the batch.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchRows are rows read at the end of a batch; closing them ends it.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }

func (b errBatch) Tx() pgx.Tx { return nil }
