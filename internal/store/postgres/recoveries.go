package postgres

import (
	"context"
	"time"

	"gatehouse/internal/recovery"
	"gatehouse/internal/store"
)

const recoveryCols = `id, user_id, status, started_by, reason, ip, created_at, completes_at, account_at, next_notice_at, ended_at, ended_by, shorten_first, shorten_reason, shortened_by`

func scanRecovery(row scanner) (*recovery.Request, error) {
	var r recovery.Request
	var status string
	var created, completes, account, next, ended time.Time
	if err := row.Scan(&r.ID, &r.UserID, &status, &r.StartedBy, &r.Reason, &r.IP, &created, &completes, &account, &next, &ended,
		&r.EndedBy, &r.ShortenFirst, &r.ShortenReason, &r.ShortenedBy); err != nil {
		return nil, mapErr(err)
	}
	r.Status = recovery.Status(status)
	r.CreatedAt, r.CompletesAt, r.AccountAt, r.NextNoticeAt, r.EndedAt = tm(created), tm(completes), tm(account), tm(next), tm(ended)
	return &r, nil
}

func (q *conn) recoveries(ctx context.Context, query string, args ...any) ([]*recovery.Request, error) {
	rows, err := q.x.Query(ctx, `SELECT `+recoveryCols+` FROM recovery_requests `+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recovery.Request
	for rows.Next() {
		r, err := scanRecovery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (q *conn) CreateRecovery(ctx context.Context, r *recovery.Request) error {
	return q.write(ctx, `INSERT INTO recovery_requests (`+recoveryCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, r.UserID, string(r.Status), r.StartedBy, r.Reason, r.IP, ts(r.CreatedAt), ts(r.CompletesAt), ts(r.AccountAt), ts(r.NextNoticeAt), ts(r.EndedAt),
		r.EndedBy, r.ShortenFirst, r.ShortenReason, r.ShortenedBy)
}

func (q *conn) RecoveryByID(ctx context.Context, id string) (*recovery.Request, error) {
	return scanRecovery(q.x.QueryRow(ctx, `SELECT `+recoveryCols+` FROM recovery_requests WHERE id = $1`, id))
}

func (q *conn) PendingRecovery(ctx context.Context, userID string) (*recovery.Request, error) {
	return scanRecovery(q.x.QueryRow(ctx, `SELECT `+recoveryCols+` FROM recovery_requests WHERE user_id = $1 AND status = 'pending'`, userID))
}

func (q *conn) ListRecoveries(ctx context.Context) ([]*recovery.Request, error) {
	return q.recoveries(ctx, `ORDER BY created_at DESC, id`)
}

func (q *conn) EndRecovery(ctx context.Context, id string, status recovery.Status, by string, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE recovery_requests SET status = $1, ended_by = $2, ended_at = $3, next_notice_at = '0001-01-01 00:00:00+00' WHERE id = $4 AND status = 'pending'`,
		string(status), by, ts(now), id)
	return affected(res, err)
}

func (q *conn) DueRecoveryNotices(ctx context.Context, now time.Time, limit int) ([]*recovery.Request, error) {
	return q.recoveries(ctx, `WHERE status = 'pending' AND next_notice_at > '0001-01-01 00:00:00+00' AND next_notice_at <= $1 ORDER BY next_notice_at, id LIMIT $2`, ts(now), limit)
}

func (q *conn) AdvanceRecoveryNotice(ctx context.Context, id string, was, next time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE recovery_requests SET next_notice_at = $1 WHERE id = $2 AND status = 'pending' AND next_notice_at = $3`, ts(next), id, ts(was))
	return affected(res, err)
}

func (q *conn) SetRecoveryShortening(ctx context.Context, r *recovery.Request) error {
	res, err := q.x.Exec(ctx, `UPDATE recovery_requests SET shorten_first = $1, shorten_reason = $2, shortened_by = $3, completes_at = $4, account_at = $5, next_notice_at = $6 WHERE id = $7 AND status = 'pending'`,
		r.ShortenFirst, r.ShortenReason, r.ShortenedBy, ts(r.CompletesAt), ts(r.AccountAt), ts(r.NextNoticeAt), r.ID)
	return affected(res, err)
}

func (q *conn) CreateLink(ctx context.Context, tokenHash []byte, userID, purpose string, expires time.Time) error {
	return q.insert(ctx, `INSERT INTO freeze_links (token_hash, user_id, expires_at, purpose) VALUES ($1, $2, $3, $4)`, tokenHash, userID, ts(expires), purpose)
}

func (q *conn) UseLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (string, error) {
	var userID string
	err := q.x.QueryRow(ctx, `UPDATE freeze_links SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at = '0001-01-01 00:00:00+00' AND expires_at > $4 RETURNING user_id`, ts(now), tokenHash, purpose, ts(now)).Scan(&userID)
	return userID, mapErr(err)
}

var _ store.Recoveries = (*conn)(nil)
