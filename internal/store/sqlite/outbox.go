package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"gatehouse/internal/store"
)

const outboxCols = `id, channel, event, user_id, destination, payload, state, attempts, next_attempt_at, last_error, created_at, delivered_at, bulk`

func scanMessage(row interface{ Scan(...any) error }) (*store.Message, error) {
	var m store.Message
	var next, created, delivered int64
	if err := row.Scan(&m.ID, &m.Channel, &m.Event, &m.UserID, &m.Destination, &m.Payload, &m.State, &m.Attempts, &next, &m.LastError, &created, &delivered, &m.Bulk); err != nil {
		return nil, mapErr(err)
	}
	m.NextAttemptAt, m.CreatedAt, m.DeliveredAt = tm(next), tm(created), tm(delivered)
	return &m, nil
}

func (q *conn) messages(ctx context.Context, query string, args ...any) ([]*store.Message, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (q *conn) EnqueueMessage(ctx context.Context, m *store.Message) error {
	store.CleanMessage(m)
	_, err := q.x.ExecContext(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Channel, m.Event, m.UserID, m.Destination, m.Payload, m.State, m.Attempts, us(m.NextAttemptAt), m.LastError, us(m.CreatedAt), us(m.DeliveredAt), m.Bulk)
	return mapErr(err)
}

// ClaimMessages implements [store.Outbox]. The transaction is immediate
// (see OpenFile): it holds the write lock from its start, so two workers,
// even in two processes on one file, claim one after the other. It reads
// the workers' index in its order and stops at the limit; without the
// hint SQLite's planner, which has no statistics, took the index on
// state and sorted every pending message, a hundred thousand after a
// signal's apply.
func (q *conn) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Message, error) {
	var out []*store.Message
	err := q.atomic(ctx, func(q *conn) error {
		var err error
		out, err = q.messages(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?
			WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_due WHERE state = 'pending' AND channel <> 'push' AND next_attempt_at <= ? ORDER BY bulk, next_attempt_at, id LIMIT ?)
			RETURNING `+outboxCols, us(now.Add(lease)), us(now), limit)
		return err
	})
	store.SortClaimed(out)
	return out, err
}

func (q *conn) MarkDelivered(ctx context.Context, id string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET state = 'delivered', delivered_at = ?, last_error = '' WHERE id = ? AND state = 'pending'`, us(now), id)
	return affected(res, err)
}

func (q *conn) MarkFailed(ctx context.Context, id, lastError string, next time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'`, us(next), store.CleanErrorText(lastError), id)
	return affected(res, err)
}

func (q *conn) ReleaseMessage(ctx context.Context, id string, next time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET attempts = MAX(attempts - 1, 0), next_attempt_at = ? WHERE id = ? AND state = 'pending'`, us(next), id)
	return affected(res, err)
}

func (q *conn) ParkMessage(ctx context.Context, id, lastError string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ? AND state = 'pending'`, store.CleanErrorText(lastError), id)
	return affected(res, err)
}

func (q *conn) RetryMessage(ctx context.Context, id string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND state = 'failed'`, us(now), id)
	return affected(res, err)
}

func (q *conn) MessageByID(ctx context.Context, id string) (*store.Message, error) {
	return scanMessage(q.x.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id))
}

func (q *conn) ListMessages(ctx context.Context, f store.MessageFilter) ([]*store.Message, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	channels, err := json.Marshal(f.Channels)
	if err != nil {
		return nil, err
	}
	after := !f.After.IsZero()
	return q.messages(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE (? = '' OR state = ?) AND (? = '' OR user_id = ?) AND (? = '' OR event = ?) AND (? = '' OR destination = ?)
		AND (? = 0 OR channel IN (SELECT value FROM json_each(?)))
		AND (? = 0 OR created_at < ? OR (created_at = ? AND id < ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		f.State, f.State, f.UserID, f.UserID, f.Event, f.Event, f.Destination, f.Destination,
		len(f.Channels), string(channels),
		after, us(f.After.CreatedAt), us(f.After.CreatedAt), f.After.ID, limit)
}

func (q *conn) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	var oldest sql.NullInt64
	err := q.x.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE state = 'pending'),
		COUNT(*) FILTER (WHERE state = 'failed'),
		MIN(created_at) FILTER (WHERE state = 'pending')
		FROM outbox WHERE state <> 'delivered' AND channel <> 'push'`).Scan(&st.Pending, &st.Failed, &oldest)
	st.OldestPending = nullTime(oldest)
	return st, err
}

func (q *conn) RewriteUnsent(ctx context.Context, id string, payload []byte) error {
	res, err := q.x.ExecContext(ctx, `UPDATE outbox SET payload = ? WHERE id = ? AND state = 'pending' AND attempts = 0`, payload, id)
	return affected(res, err)
}
