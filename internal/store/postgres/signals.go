package postgres

import (
	"context"
	"time"

	"gatehouse/internal/signal"
	"gatehouse/internal/store"
)

const signalCols = `id, title, kind, severity, doors, profiles, link, steps, state, created_at, created_by, applied_at, closed_at, closed_by`

func scanSignal(row scanner) (*signal.Signal, error) {
	var s signal.Signal
	var kind, severity, state, doors, profiles, steps string
	var created, applied, closed time.Time
	if err := row.Scan(&s.ID, &s.Title, &kind, &severity, &doors, &profiles, &s.Link, &steps, &state,
		&created, &s.CreatedBy, &applied, &closed, &s.ClosedBy); err != nil {
		return nil, mapErr(err)
	}
	s.Kind, s.Severity, s.State = signal.Kind(kind), signal.Severity(severity), signal.State(state)
	s.CreatedAt, s.AppliedAt, s.ClosedAt = tm(created), tm(applied), tm(closed)
	if err := store.DecodeSignal(&s, doors, profiles, steps); err != nil {
		return nil, err
	}
	return &s, nil
}

func (q *conn) CreateSignal(ctx context.Context, s *signal.Signal) error {
	doors, profiles, steps := store.EncodeSignal(s)
	return q.write(ctx, `INSERT INTO signals (`+signalCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, s.Title, string(s.Kind), string(s.Severity), doors, profiles, s.Link, steps, string(s.State),
		ts(s.CreatedAt), s.CreatedBy, ts(s.AppliedAt), ts(s.ClosedAt), s.ClosedBy)
}

func (q *conn) SignalByID(ctx context.Context, id string) (*signal.Signal, error) {
	return scanSignal(q.x.QueryRow(ctx, `SELECT `+signalCols+` FROM signals WHERE id = $1`, id))
}

func (q *conn) ListSignals(ctx context.Context) ([]*signal.Signal, error) {
	rows, err := q.x.Query(ctx, `SELECT `+signalCols+` FROM signals ORDER BY created_at DESC, id DESC`)
	return collect(rows, err, scanSignal)
}

func (q *conn) MarkSignalApplied(ctx context.Context, id string, at time.Time) error {
	return affected(q.x.Exec(ctx, `UPDATE signals SET applied_at = CASE WHEN applied_at = '0001-01-01 00:00:00+00' THEN $1 ELSE applied_at END WHERE id = $2 AND state = 'open'`, ts(at), id))
}

func (q *conn) CloseSignal(ctx context.Context, id string, at time.Time, by string) error {
	return affected(q.x.Exec(ctx, `UPDATE signals SET state = 'closed', closed_at = $1, closed_by = $2 WHERE id = $3 AND state = 'open'`, ts(at), by, id))
}

func (q *conn) AddSignalEffects(ctx context.Context, es []signal.Effect) error {
	if len(es) == 0 {
		return nil
	}
	// One statement over arrays: a hundred thousand rows are one round trip.
	sig, op, target, usr := make([]string, len(es)), make([]string, len(es)), make([]string, len(es)), make([]string, len(es))
	step, at := make([]int32, len(es)), make([]time.Time, len(es))
	for i, e := range es {
		sig[i], op[i], target[i], usr[i], step[i], at[i] = e.SignalID, e.Op, e.Target, e.UserID, int32(e.Step), ts(e.At)
	}
	return q.write(ctx, `INSERT INTO signal_effects (signal_id, step, op, target, user_id, at)
		SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])`,
		sig, step, op, target, usr, at)
}

func scanEffect(row scanner) (signal.Effect, error) {
	var e signal.Effect
	var at time.Time
	if err := row.Scan(&e.SignalID, &e.Step, &e.Op, &e.Target, &e.UserID, &at); err != nil {
		return e, err
	}
	e.At = tm(at)
	return e, nil
}

func (q *conn) SignalEffects(ctx context.Context, signalID string) ([]signal.Effect, error) {
	rows, err := q.x.Query(ctx, `SELECT signal_id, step, op, target, user_id, at FROM signal_effects WHERE signal_id = $1`, signalID)
	return collect(rows, err, scanEffect)
}

func (q *conn) SignalEffectsOfUser(ctx context.Context, userID string) ([]signal.Effect, error) {
	rows, err := q.x.Query(ctx, `SELECT signal_id, step, op, target, user_id, at FROM signal_effects WHERE user_id = $1`, userID)
	return collect(rows, err, scanEffect)
}
