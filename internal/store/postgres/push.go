package postgres

import (
	"context"
	"gatehouse/internal/factor/push"
	"time"

	"gatehouse/internal/store"
)

const pushCols = `id, user_id, flow_id, purpose, device_id, number, interface, ip, device_name, outcome, created_at, expires_at, answered_at`

func scanPush(row scanner) (*push.Request, error) {
	var p push.Request
	var created, expires, answered time.Time
	if err := row.Scan(&p.ID, &p.UserID, &p.FlowID, &p.Purpose, &p.DeviceID, &p.Number, &p.Interface, &p.IP, &p.DeviceName, &p.Outcome, &created, &expires, &answered); err != nil {
		return nil, mapErr(err)
	}
	p.CreatedAt, p.ExpiresAt, p.AnsweredAt = tm(created), tm(expires), tm(answered)
	return &p, nil
}

func (q *conn) pushes(ctx context.Context, query string, args ...any) ([]*push.Request, error) {
	rows, err := q.x.Query(ctx, query, args...)
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
	return q.write(ctx, `INSERT INTO push_requests (`+pushCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID, p.UserID, p.FlowID, p.Purpose, p.DeviceID, p.Number, p.Interface, p.IP, p.DeviceName, p.Outcome, ts(p.CreatedAt), ts(p.ExpiresAt), ts(p.AnsweredAt))
}

func (q *conn) PushRequestByID(ctx context.Context, id string) (*push.Request, error) {
	return scanPush(q.x.QueryRow(ctx, `SELECT `+pushCols+` FROM push_requests WHERE id = $1`, id))
}

func (q *conn) PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*push.Request, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = $1 AND outcome = 'pending' AND expires_at > $2 ORDER BY created_at, id`, userID, ts(now))
}

func (q *conn) AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE push_requests SET outcome = $1, answered_at = $2 WHERE id = $3 AND outcome = 'pending'`, outcome, ts(now), id)
	return affected(res, err)
}

func (q *conn) PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*push.Request, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = $1 AND created_at >= $2 ORDER BY created_at DESC, id`, userID, ts(since))
}

func (q *conn) CreatePushEnrolment(ctx context.Context, userID string, codeHash []byte, expires time.Time) error {
	return q.write(ctx, `INSERT INTO push_enrolments (code_hash, user_id, expires_at, used_at) VALUES ($1, $2, $3, '0001-01-01 00:00:00+00')`, codeHash, userID, ts(expires))
}

func (q *conn) RedeemPushEnrolment(ctx context.Context, codeHash []byte, now time.Time) (string, error) {
	var userID string
	err := q.x.QueryRow(ctx, `UPDATE push_enrolments SET used_at = $1 WHERE code_hash = $2 AND used_at = '0001-01-01 00:00:00+00' AND expires_at > $3 RETURNING user_id`, ts(now), codeHash, ts(now)).Scan(&userID)
	return userID, mapErr(err)
}
