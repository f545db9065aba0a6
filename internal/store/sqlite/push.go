package sqlite

import (
	"context"
	"gatehouse/internal/factor/push"
	"time"

	"gatehouse/internal/store"
)

const pushCols = `id, user_id, flow_id, purpose, device_id, number, interface, ip, device_name, outcome, created_at, expires_at, answered_at`

func scanPush(row interface{ Scan(...any) error }) (*push.Request, error) {
	var p push.Request
	var created, expires, answered int64
	if err := row.Scan(&p.ID, &p.UserID, &p.FlowID, &p.Purpose, &p.DeviceID, &p.Number, &p.Interface, &p.IP, &p.DeviceName, &p.Outcome, &created, &expires, &answered); err != nil {
		return nil, mapErr(err)
	}
	p.CreatedAt, p.ExpiresAt, p.AnsweredAt = tm(created), tm(expires), tm(answered)
	return &p, nil
}

func (q *conn) pushes(ctx context.Context, query string, args ...any) ([]*push.Request, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*push.Request
	for rows.Next() {
		p, err := scanPush(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (q *conn) CreatePushRequest(ctx context.Context, p *push.Request) error {
	store.CleanPushRequest(p)
	_, err := q.x.ExecContext(ctx, `INSERT INTO push_requests (`+pushCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.FlowID, p.Purpose, p.DeviceID, p.Number, p.Interface, p.IP, p.DeviceName, p.Outcome, us(p.CreatedAt), us(p.ExpiresAt), us(p.AnsweredAt))
	return mapErr(err)
}

func (q *conn) PushRequestByID(ctx context.Context, id string) (*push.Request, error) {
	return scanPush(q.x.QueryRowContext(ctx, `SELECT `+pushCols+` FROM push_requests WHERE id = ?`, id))
}

func (q *conn) PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*push.Request, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = ? AND outcome = 'pending' AND expires_at > ? ORDER BY created_at, id`, userID, us(now))
}

func (q *conn) AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE push_requests SET outcome = ?, answered_at = ? WHERE id = ? AND outcome = 'pending'`, outcome, us(now), id)
	return affected(res, err)
}

func (q *conn) PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*push.Request, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = ? AND created_at >= ? ORDER BY created_at DESC, id`, userID, us(since))
}

func (q *conn) CreatePushEnrolment(ctx context.Context, userID string, codeHash []byte, expires time.Time) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO push_enrolments (code_hash, user_id, expires_at, used_at) VALUES (?, ?, ?, 0)`, codeHash, userID, us(expires))
	return mapErr(err)
}

func (q *conn) RedeemPushEnrolment(ctx context.Context, codeHash []byte, now time.Time) (string, error) {
	var userID string
	err := q.x.QueryRowContext(ctx, `UPDATE push_enrolments SET used_at = ? WHERE code_hash = ? AND used_at = 0 AND expires_at > ? RETURNING user_id`, us(now), codeHash, us(now)).Scan(&userID)
	return userID, mapErr(err)
}
