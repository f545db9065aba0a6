package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

const factorCols = `id, user_id, kind, name, status, secret, last_step, credential_id, public_key, phone, device_bound, data, flag, created_at, confirmed_at, last_used_at`

func scanFactor(row interface{ Scan(...any) error }) (*factor.Factor, error) {
	var f factor.Factor
	var created, confirmed, used int64
	if err := row.Scan(&f.ID, &f.UserID, &f.Kind, &f.Name, &f.Status, &f.Secret, &f.LastStep, &f.CredentialID, &f.PublicKey, &f.Phone,
		&f.DeviceBound, &f.Data, &f.Flag, &created, &confirmed, &used); err != nil {
		return nil, mapErr(err)
	}
	f.CreatedAt, f.ConfirmedAt, f.LastUsedAt = tm(created), tm(confirmed), tm(used)
	return &f, nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func (q *conn) CreateFactor(ctx context.Context, f *factor.Factor) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO factors (`+factorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, string(f.Kind), f.Name, string(f.Status), nullBytes(f.Secret), f.LastStep, nullBytes(f.CredentialID), f.PublicKey, f.Phone,
		f.DeviceBound, nullBytes(f.Data), f.Flag, us(f.CreatedAt), us(f.ConfirmedAt), us(f.LastUsedAt))
	return mapErr(err)
}

func (q *conn) FactorByID(ctx context.Context, id string) (*factor.Factor, error) {
	return scanFactor(q.x.QueryRowContext(ctx, `SELECT `+factorCols+` FROM factors WHERE id = ?`, id))
}

func (q *conn) FactorByCredentialID(ctx context.Context, credentialID []byte) (*factor.Factor, error) {
	return scanFactor(q.x.QueryRowContext(ctx, `SELECT `+factorCols+` FROM factors WHERE credential_id = ?`, credentialID))
}

func (q *conn) FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+factorCols+` FROM factors WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*factor.Factor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (q *conn) UpdateFactor(ctx context.Context, f *factor.Factor) error {
	res, err := q.x.ExecContext(ctx, `UPDATE factors SET name = ?, status = ?, secret = ?, credential_id = ?, public_key = ?, phone = ?, device_bound = ?, data = ?, flag = ?, confirmed_at = ?, last_used_at = ? WHERE id = ?`,
		f.Name, string(f.Status), nullBytes(f.Secret), nullBytes(f.CredentialID), f.PublicKey, f.Phone, f.DeviceBound, nullBytes(f.Data), f.Flag, us(f.ConfirmedAt), us(f.LastUsedAt), f.ID)
	return affected(res, err)
}

func (q *conn) AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE factors SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?`, step, us(now), factorID, step)
	if err := affected(res, err); err == store.ErrNotFound {
		return store.ErrConflict
	} else if err != nil {
		return err
	}
	return nil
}

func (q *conn) DeleteFactor(ctx context.Context, id string) error {
	res, err := q.x.ExecContext(ctx, `DELETE FROM factors WHERE id = ?`, id)
	return affected(res, err)
}

func (q *conn) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	return q.atomic(ctx, func(c *conn) error {
		if _, err := c.x.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for i, h := range hashes {
			if _, err := c.x.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, idx, hash, used_at) VALUES (?, ?, ?, 0)`, userID, i, h); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

func (q *conn) RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT idx, hash, used_at FROM recovery_codes WHERE user_id = ? ORDER BY idx`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []factor.RecoveryCode
	for rows.Next() {
		var c factor.RecoveryCode
		var used int64
		if err := rows.Scan(&c.Index, &c.Hash, &used); err != nil {
			return nil, err
		}
		c.UsedAt = tm(used)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q *conn) UseRecoveryCode(ctx context.Context, userID string, index int, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND idx = ? AND used_at = 0`, us(now), userID, index)
	return affected(res, err)
}

const flowCols = `id, user_id, interface, binding, ip, user_agent, device_name, device_id, new_device, state, aal, amr, challenge, attempts, version, session_id, created_at, expires_at`

func scanFlow(row interface{ Scan(...any) error }) (*session.Flow, error) {
	var f session.Flow
	var created, expires int64
	if err := row.Scan(&f.ID, &f.UserID, &f.Interface, &f.Binding, &f.IP, &f.UserAgent, &f.DeviceName, &f.DeviceID, &f.NewDevice, &f.State, &f.Assurance, &f.AMR,
		&f.Challenge, &f.Attempts, &f.Version, &f.SessionID, &created, &expires); err != nil {
		return nil, mapErr(err)
	}
	f.CreatedAt, f.ExpiresAt = tm(created), tm(expires)
	return &f, nil
}

func (q *conn) CreateFlow(ctx context.Context, f *session.Flow) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO login_flows (`+flowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, string(f.Interface), f.Binding, f.IP, f.UserAgent, f.DeviceName, f.DeviceID, f.NewDevice, string(f.State), int(f.Assurance), f.AMR,
		nullBytes(f.Challenge), f.Attempts, f.Version, f.SessionID, us(f.CreatedAt), us(f.ExpiresAt))
	return mapErr(err)
}

func (q *conn) FlowByID(ctx context.Context, id string) (*session.Flow, error) {
	return scanFlow(q.x.QueryRowContext(ctx, `SELECT `+flowCols+` FROM login_flows WHERE id = ?`, id))
}

func (q *conn) UpdateFlow(ctx context.Context, f *session.Flow) error {
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

const pushCols = `id, user_id, flow_id, purpose, device_id, number, interface, ip, device_name, outcome, created_at, expires_at, answered_at`

func scanPush(row interface{ Scan(...any) error }) (*factor.PushRequest, error) {
	var p factor.PushRequest
	var created, expires, answered int64
	if err := row.Scan(&p.ID, &p.UserID, &p.FlowID, &p.Purpose, &p.DeviceID, &p.Number, &p.Interface, &p.IP, &p.DeviceName, &p.Outcome, &created, &expires, &answered); err != nil {
		return nil, mapErr(err)
	}
	p.CreatedAt, p.ExpiresAt, p.AnsweredAt = tm(created), tm(expires), tm(answered)
	return &p, nil
}

func (q *conn) pushes(ctx context.Context, query string, args ...any) ([]*factor.PushRequest, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*factor.PushRequest
	for rows.Next() {
		p, err := scanPush(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (q *conn) CreatePushRequest(ctx context.Context, p *factor.PushRequest) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO push_requests (`+pushCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.FlowID, p.Purpose, p.DeviceID, p.Number, p.Interface, p.IP, p.DeviceName, p.Outcome, us(p.CreatedAt), us(p.ExpiresAt), us(p.AnsweredAt))
	return mapErr(err)
}

func (q *conn) PushRequestByID(ctx context.Context, id string) (*factor.PushRequest, error) {
	return scanPush(q.x.QueryRowContext(ctx, `SELECT `+pushCols+` FROM push_requests WHERE id = ?`, id))
}

func (q *conn) PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*factor.PushRequest, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = ? AND outcome = 'pending' AND expires_at > ? ORDER BY created_at, id`, userID, us(now))
}

func (q *conn) AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE push_requests SET outcome = ?, answered_at = ? WHERE id = ? AND outcome = 'pending'`, outcome, us(now), id)
	return affected(res, err)
}

func (q *conn) PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*factor.PushRequest, error) {
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

func (q *conn) CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID, userID string, expires time.Time) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO device_approvals (token_hash, device_id, user_id, expires_at, used_at) VALUES (?, ?, ?, ?, 0)`, tokenHash, deviceID, userID, us(expires))
	return mapErr(err)
}

func (q *conn) UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (string, string, error) {
	var deviceID, userID string
	err := q.x.QueryRowContext(ctx, `UPDATE device_approvals SET used_at = ? WHERE token_hash = ? AND used_at = 0 AND expires_at > ? RETURNING device_id, user_id`, us(now), tokenHash, us(now)).Scan(&deviceID, &userID)
	return deviceID, userID, mapErr(err)
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
			{`DELETE FROM push_requests WHERE created_at < ?`, []any{us(old)}},
			{`DELETE FROM throttles WHERE last_at < ?`, []any{us(old)}},
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
