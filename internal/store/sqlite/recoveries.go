package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/recovery"
	"gatehouse/internal/store"
)

const recoveryCols = `id, user_id, status, started_by, reason, ip, created_at, completes_at, account_at, next_notice_at, ended_at, ended_by, shorten_first, shorten_reason, shortened_by`

func scanRecovery(row interface{ Scan(...any) error }) (*recovery.Request, error) {
	var r recovery.Request
	var created, completes, account, next, ended int64
	if err := row.Scan(&r.ID, &r.UserID, &r.Status, &r.StartedBy, &r.Reason, &r.IP, &created, &completes, &account, &next, &ended,
		&r.EndedBy, &r.ShortenFirst, &r.ShortenReason, &r.ShortenedBy); err != nil {
		return nil, mapErr(err)
	}
	r.CreatedAt, r.CompletesAt, r.AccountAt, r.NextNoticeAt, r.EndedAt = tm(created), tm(completes), tm(account), tm(next), tm(ended)
	return &r, nil
}

func (q *conn) recoveries(ctx context.Context, query string, args ...any) ([]*recovery.Request, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+recoveryCols+` FROM recovery_requests `+query, args...)
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
	_, err := q.x.ExecContext(ctx, `INSERT INTO recovery_requests (`+recoveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.UserID, r.Status, r.StartedBy, r.Reason, r.IP, us(r.CreatedAt), us(r.CompletesAt), us(r.AccountAt), us(r.NextNoticeAt), us(r.EndedAt),
		r.EndedBy, r.ShortenFirst, r.ShortenReason, r.ShortenedBy)
	return mapErr(err)
}

func (q *conn) RecoveryByID(ctx context.Context, id string) (*recovery.Request, error) {
	return scanRecovery(q.x.QueryRowContext(ctx, `SELECT `+recoveryCols+` FROM recovery_requests WHERE id = ?`, id))
}

func (q *conn) PendingRecovery(ctx context.Context, userID string) (*recovery.Request, error) {
	return scanRecovery(q.x.QueryRowContext(ctx, `SELECT `+recoveryCols+` FROM recovery_requests WHERE user_id = ? AND status = 'pending'`, userID))
}

func (q *conn) ListRecoveries(ctx context.Context) ([]*recovery.Request, error) {
	return q.recoveries(ctx, `ORDER BY created_at DESC, id`)
}

func (q *conn) EndRecovery(ctx context.Context, id string, status recovery.Status, by string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE recovery_requests SET status = ?, ended_by = ?, ended_at = ?, next_notice_at = 0 WHERE id = ? AND status = 'pending'`,
		status, by, us(now), id)
	return affected(res, err)
}

func (q *conn) DueRecoveryNotices(ctx context.Context, now time.Time, limit int) ([]*recovery.Request, error) {
	return q.recoveries(ctx, `WHERE status = 'pending' AND next_notice_at > 0 AND next_notice_at <= ? ORDER BY next_notice_at, id LIMIT ?`, us(now), limit)
}

func (q *conn) AdvanceRecoveryNotice(ctx context.Context, id string, was, next time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE recovery_requests SET next_notice_at = ? WHERE id = ? AND status = 'pending' AND next_notice_at = ?`, us(next), id, us(was))
	return affected(res, err)
}

func (q *conn) SetRecoveryShortening(ctx context.Context, r *recovery.Request) error {
	res, err := q.x.ExecContext(ctx, `UPDATE recovery_requests SET shorten_first = ?, shorten_reason = ?, shortened_by = ?, completes_at = ?, account_at = ?, next_notice_at = ? WHERE id = ? AND status = 'pending'`,
		r.ShortenFirst, r.ShortenReason, r.ShortenedBy, us(r.CompletesAt), us(r.AccountAt), us(r.NextNoticeAt), r.ID)
	return affected(res, err)
}

func (q *conn) CreateLink(ctx context.Context, tokenHash []byte, userID, purpose string, expires time.Time) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO freeze_links (token_hash, user_id, expires_at, used_at, purpose) VALUES (?, ?, ?, 0, ?)`, tokenHash, userID, us(expires), purpose)
	return mapErr(err)
}

func (q *conn) UseLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (string, error) {
	var userID string
	err := q.x.QueryRowContext(ctx, `UPDATE freeze_links SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ? RETURNING user_id`, us(now), tokenHash, purpose, us(now)).Scan(&userID)
	return userID, mapErr(err)
}

var _ store.Recoveries = (*conn)(nil)
