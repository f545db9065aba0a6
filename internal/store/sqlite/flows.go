package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/flow"
	"gatehouse/internal/store"
)

const flowCols = `id, user_id, interface, binding, ip, user_agent, device_name, device_id, new_device, state, aal, amr, challenge, attempts, version, session_id, created_at, expires_at`

func scanFlow(row interface{ Scan(...any) error }) (*flow.Flow, error) {
	var f flow.Flow
	var created, expires int64
	if err := row.Scan(&f.ID, &f.UserID, &f.Door, &f.Binding, &f.IP, &f.UserAgent, &f.DeviceName, &f.DeviceID, &f.NewDevice, &f.State, &f.Assurance, &f.AMR,
		&f.Challenge, &f.Attempts, &f.Version, &f.SessionID, &created, &expires); err != nil {
		return nil, mapErr(err)
	}
	f.CreatedAt, f.ExpiresAt = tm(created), tm(expires)
	return &f, nil
}

func (q *conn) CreateFlow(ctx context.Context, f *flow.Flow) error {
	store.CleanFlow(f)
	_, err := q.x.ExecContext(ctx, `INSERT INTO login_flows (`+flowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, string(f.Door), f.Binding, f.IP, f.UserAgent, f.DeviceName, f.DeviceID, f.NewDevice, string(f.State), int(f.Assurance), f.AMR,
		nullBytes(f.Challenge), f.Attempts, f.Version, f.SessionID, us(f.CreatedAt), us(f.ExpiresAt))
	return mapErr(err)
}

func (q *conn) FlowByID(ctx context.Context, id string) (*flow.Flow, error) {
	return scanFlow(q.x.QueryRowContext(ctx, `SELECT `+flowCols+` FROM login_flows WHERE id = ?`, id))
}

func (q *conn) UpdateFlow(ctx context.Context, f *flow.Flow) error {
	res, err := q.x.ExecContext(ctx, `UPDATE login_flows SET device_id = ?, new_device = ?, state = ?, aal = ?, amr = ?, challenge = ?, attempts = ?, session_id = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		f.DeviceID, f.NewDevice, string(f.State), int(f.Assurance), f.AMR, nullBytes(f.Challenge), f.Attempts, f.SessionID, f.ID, f.Version)
	if err := affected(res, err); err == store.ErrNotFound {
		return store.ErrConflict
	} else if err != nil {
		return err
	}
	f.Version++
	return nil
}

func (q *conn) CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID, userID string, expires time.Time) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO device_approvals (token_hash, device_id, user_id, expires_at, used_at) VALUES (?, ?, ?, ?, 0)`, tokenHash, deviceID, userID, us(expires))
	return mapErr(err)
}

func (q *conn) UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (string, string, error) {
	var deviceID, userID string
	err := q.x.QueryRowContext(ctx, `UPDATE device_approvals SET used_at = ? WHERE token_hash = ? AND used_at = 0 AND expires_at > ? RETURNING device_id, user_id`, us(now), tokenHash, us(now)).Scan(&deviceID, &userID)
	return deviceID, userID, mapErr(err)
}

func (q *conn) CreateFreezeLink(ctx context.Context, tokenHash []byte, userID string, expires time.Time) error {
	return q.CreateLink(ctx, tokenHash, userID, store.LinkFreeze, expires)
}

func (q *conn) UseFreezeLink(ctx context.Context, tokenHash []byte, now time.Time) (string, error) {
	return q.UseLink(ctx, tokenHash, store.LinkFreeze, now)
}

func (q *conn) PurgeExpired(ctx context.Context, expired, old time.Time) (int64, error) {
	var n int64
	err := q.atomic(ctx, func(c *conn) error {
		for _, st := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM login_flows WHERE expires_at < ?`, []any{us(expired)}},
			{`DELETE FROM push_enrolments WHERE expires_at < ?`, []any{us(expired)}},
			{`DELETE FROM device_approvals WHERE expires_at < ?`, []any{us(expired)}},
			{`DELETE FROM freeze_links WHERE expires_at < ?`, []any{us(expired)}},
			{`DELETE FROM used_once WHERE expires_at < ?`, []any{us(expired)}},
			{`DELETE FROM push_requests WHERE created_at < ?`, []any{us(old)}},
			{`DELETE FROM throttles WHERE last_at < ?`, []any{us(old)}},
			{`DELETE FROM approvals WHERE created_at < ?`, []any{us(old)}},
		} {
			res, err := c.x.ExecContext(ctx, st.sql, st.args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}
