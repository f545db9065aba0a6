package sqlite

import (
	"context"
	"strings"
	"time"

	"gatehouse/internal/signal"
	"gatehouse/internal/store"
)

const signalCols = `id, title, kind, severity, doors, profiles, link, steps, state, created_at, created_by, applied_at, closed_at, closed_by`

func scanSignal(row interface{ Scan(...any) error }) (*signal.Signal, error) {
	var s signal.Signal
	var doors, profiles, steps string
	var created, applied, closed int64
	if err := row.Scan(&s.ID, &s.Title, &s.Kind, &s.Severity, &doors, &profiles, &s.Link, &steps, &s.State,
		&created, &s.CreatedBy, &applied, &closed, &s.ClosedBy); err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.AppliedAt, s.ClosedAt = tm(created), tm(applied), tm(closed)
	if err := store.DecodeSignal(&s, doors, profiles, steps); err != nil {
		return nil, err
	}
	return &s, nil
}

func (q *conn) CreateSignal(ctx context.Context, s *signal.Signal) error {
	doors, profiles, steps := store.EncodeSignal(s)
	_, err := q.x.ExecContext(ctx, `INSERT INTO signals (`+signalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Title, s.Kind, s.Severity, doors, profiles, s.Link, steps, s.State,
		us(s.CreatedAt), s.CreatedBy, us(s.AppliedAt), us(s.ClosedAt), s.ClosedBy)
	return mapErr(err)
}

func (q *conn) SignalByID(ctx context.Context, id string) (*signal.Signal, error) {
	return scanSignal(q.x.QueryRowContext(ctx, `SELECT `+signalCols+` FROM signals WHERE id = ?`, id))
}

func (q *conn) ListSignals(ctx context.Context) ([]*signal.Signal, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+signalCols+` FROM signals ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*signal.Signal
	for rows.Next() {
		s, err := scanSignal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (q *conn) MarkSignalApplied(ctx context.Context, id string, at time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE signals SET applied_at = CASE WHEN applied_at = 0 THEN ? ELSE applied_at END WHERE id = ? AND state = 'open'`, us(at), id)
	return affected(res, err)
}

func (q *conn) CloseSignal(ctx context.Context, id string, at time.Time, by string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE signals SET state = 'closed', closed_at = ?, closed_by = ? WHERE id = ? AND state = 'open'`, us(at), by, id)
	return affected(res, err)
}

// effectBatch rows go in one INSERT: 6 parameters each, well under
// SQLite's limit of 32766.
const effectBatch = 500

func (q *conn) AddSignalEffects(ctx context.Context, es []signal.Effect) error {
	return q.atomic(ctx, func(q *conn) error {
		for len(es) > 0 {
			n := min(len(es), effectBatch)
			var b strings.Builder
			b.WriteString(`INSERT INTO signal_effects (signal_id, step, op, target, user_id, at) VALUES `)
			args := make([]any, 0, 6*n)
			for i, e := range es[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?)")
				args = append(args, e.SignalID, e.Step, e.Op, e.Target, e.UserID, us(e.At))
			}
			if _, err := q.x.ExecContext(ctx, b.String(), args...); err != nil {
				return mapErr(err)
			}
			es = es[n:]
		}
		return nil
	})
}

func (q *conn) effects(ctx context.Context, where string, arg string) ([]signal.Effect, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT signal_id, step, op, target, user_id, at FROM signal_effects WHERE `+where+` = ?`, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []signal.Effect
	for rows.Next() {
		var e signal.Effect
		var at int64
		if err := rows.Scan(&e.SignalID, &e.Step, &e.Op, &e.Target, &e.UserID, &at); err != nil {
			return nil, err
		}
		e.At = tm(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (q *conn) SignalEffects(ctx context.Context, signalID string) ([]signal.Effect, error) {
	return q.effects(ctx, "signal_id", signalID)
}

func (q *conn) SignalEffectsOfUser(ctx context.Context, userID string) ([]signal.Effect, error) {
	return q.effects(ctx, "user_id", userID)
}
