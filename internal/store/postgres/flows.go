package postgres

import (
	"context"
	"time"

	"gatehouse/internal/flow"
	"gatehouse/internal/store"
)

const flowCols = `id, user_id, interface, binding, ip, user_agent, device_name, device_id, new_device, state, aal, amr, challenge, attempts, version, session_id, created_at, expires_at`

func scanFlow(row scanner) (*flow.Flow, error) {
	var f flow.Flow
	var created, expires time.Time
	if err := row.Scan(&f.ID, &f.UserID, &f.Door, &f.Binding, &f.IP, &f.UserAgent, &f.DeviceName, &f.DeviceID, &f.NewDevice, &f.State, &f.Assurance, &f.AMR,
		&f.Challenge, &f.Attempts, &f.Version, &f.SessionID, &created, &expires); err != nil {
		return nil, mapErr(err)
	}
	f.CreatedAt, f.ExpiresAt = tm(created), tm(expires)
	return &f, nil
}

func (q *conn) CreateFlow(ctx context.Context, f *flow.Flow) error {
	store.CleanFlow(f)
	return q.write(ctx, `INSERT INTO login_flows (`+flowCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		f.ID, f.UserID, string(f.Door), f.Binding, f.IP, f.UserAgent, f.DeviceName, f.DeviceID, f.NewDevice, string(f.State), int(f.Assurance), f.AMR,
		nullBytes(f.Challenge), f.Attempts, f.Version, f.SessionID, ts(f.CreatedAt), ts(f.ExpiresAt))
}

func (q *conn) FlowByID(ctx context.Context, id string) (*flow.Flow, error) {
	return scanFlow(q.x.QueryRow(ctx, `SELECT `+flowCols+` FROM login_flows WHERE id = $1`, id))
}

func (q *conn) UpdateFlow(ctx context.Context, f *flow.Flow) error {
	res, err := q.x.Exec(ctx, `UPDATE login_flows SET device_id = $1, new_device = $2, state = $3, aal = $4, amr = $5, challenge = $6, attempts = $7, session_id = $8, version = version + 1
		WHERE id = $9 AND version = $10`,
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
	return q.write(ctx, `INSERT INTO device_approvals (token_hash, device_id, user_id, expires_at, used_at) VALUES ($1, $2, $3, $4, '0001-01-01 00:00:00+00')`, tokenHash, deviceID, userID, ts(expires))
}

func (q *conn) UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (string, string, error) {
	var deviceID, userID string
	err := q.x.QueryRow(ctx, `UPDATE device_approvals SET used_at = $1 WHERE token_hash = $2 AND used_at = '0001-01-01 00:00:00+00' AND expires_at > $3 RETURNING device_id, user_id`, ts(now), tokenHash, ts(now)).Scan(&deviceID, &userID)
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
			{`DELETE FROM login_flows WHERE expires_at < $1`, []any{ts(expired)}},
			{`DELETE FROM push_enrolments WHERE expires_at < $1`, []any{ts(expired)}},
			{`DELETE FROM device_approvals WHERE expires_at < $1`, []any{ts(expired)}},
			{`DELETE FROM freeze_links WHERE expires_at < $1`, []any{ts(expired)}},
			{`DELETE FROM used_once WHERE expires_at < $1`, []any{ts(expired)}},
			{`DELETE FROM push_requests WHERE created_at < $1`, []any{ts(old)}},
			{`DELETE FROM throttles WHERE last_at < $1`, []any{ts(old)}},
			{`DELETE FROM approvals WHERE created_at < $1`, []any{ts(old)}},
		} {
			tag, err := c.x.Exec(ctx, st.sql, st.args...)
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	return n, err
}
