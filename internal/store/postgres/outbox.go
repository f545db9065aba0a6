package postgres

import (
	"context"
	"time"

	"gatehouse/internal/store"
)

const outboxCols = `id, channel, event, user_id, destination, payload, state, attempts, next_attempt_at, last_error, created_at, delivered_at, bulk`

func scanMessage(row scanner) (*store.Message, error) {
	var m store.Message
	var next, created, delivered time.Time
	if err := row.Scan(&m.ID, &m.Channel, &m.Event, &m.UserID, &m.Destination, &m.Payload, &m.State, &m.Attempts, &next, &m.LastError, &created, &delivered, &m.Bulk); err != nil {
		return nil, mapErr(err)
	}
	m.NextAttemptAt, m.CreatedAt, m.DeliveredAt = tm(next), tm(created), tm(delivered)
	return &m, nil
}

func (q *conn) EnqueueMessage(ctx context.Context, m *store.Message) error {
	store.CleanMessage(m)
	return q.insert(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		m.ID, m.Channel, m.Event, m.UserID, m.Destination, m.Payload, m.State, m.Attempts, ts(m.NextAttemptAt), m.LastError, ts(m.CreatedAt), ts(m.DeliveredAt), m.Bulk)
}

// ClaimMessages implements [store.Outbox] in one statement: the rows it
// takes are locked with SKIP LOCKED, so a worker on another instance
// claiming at the same moment passes over them to the next due ones
// instead of waiting for them or taking them too.
func (q *conn) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Message, error) {
	rows, err := q.x.Query(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1
		WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND channel <> 'push' AND next_attempt_at <= $2 ORDER BY bulk, next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+outboxCols, ts(now.Add(lease)), ts(now), limit)
	out, err := collect(rows, err, scanMessage)
	store.SortClaimed(out)
	return out, err
}

func (q *conn) MarkDelivered(ctx context.Context, id string, now time.Time) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET state = 'delivered', delivered_at = $1, last_error = '' WHERE id = $2 AND state = 'pending'`, ts(now), id))
}

func (q *conn) MarkFailed(ctx context.Context, id, lastError string, next time.Time) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3 AND state = 'pending'`, ts(next), store.CleanErrorText(lastError), id))
}

func (q *conn) ReleaseMessage(ctx context.Context, id string, next time.Time) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET attempts = GREATEST(attempts - 1, 0), next_attempt_at = $1 WHERE id = $2 AND state = 'pending'`, ts(next), id))
}

func (q *conn) ParkMessage(ctx context.Context, id, lastError string) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET state = 'failed', last_error = $1 WHERE id = $2 AND state = 'pending'`, store.CleanErrorText(lastError), id))
}

func (q *conn) RetryMessage(ctx context.Context, id string, now time.Time) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND state = 'failed'`, ts(now), id))
}

func (q *conn) MessageByID(ctx context.Context, id string) (*store.Message, error) {
	return scanMessage(q.x.QueryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = $1`, id))
}

func (q *conn) ListMessages(ctx context.Context, f store.MessageFilter) ([]*store.Message, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	channels := f.Channels
	if channels == nil {
		channels = []string{}
	}
	rows, err := q.x.Query(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR user_id = $2) AND ($3 = '' OR event = $3) AND ($9 = '' OR destination = $9)
		AND (cardinality($4::text[]) = 0 OR channel = ANY($4::text[]))
		AND (NOT $5 OR created_at < $6 OR (created_at = $6 AND id < $7))
		ORDER BY created_at DESC, id DESC LIMIT $8`,
		f.State, f.UserID, f.Event, channels, !f.After.IsZero(), ts(f.After.CreatedAt), f.After.ID, limit, f.Destination)
	return collect(rows, err, scanMessage)
}

func (q *conn) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	var oldest *time.Time
	err := q.x.QueryRow(ctx, `SELECT
		COUNT(*) FILTER (WHERE state = 'pending'),
		COUNT(*) FILTER (WHERE state = 'failed'),
		MIN(created_at) FILTER (WHERE state = 'pending')
		FROM outbox WHERE state <> 'delivered' AND channel <> 'push'`).Scan(&st.Pending, &st.Failed, &oldest)
	st.OldestPending = nullTime(oldest)
	return st, err
}

func (q *conn) RewriteUnsent(ctx context.Context, id string, payload []byte) error {
	return affected(q.x.Exec(ctx, `UPDATE outbox SET payload = $1 WHERE id = $2 AND state = 'pending' AND attempts = 0`, payload, id))
}
