package postgres

import (
	"context"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

const factorCols = `id, user_id, kind, name, status, secret, last_step, credential_id, public_key, phone, device_bound, data, flag, created_at, confirmed_at, last_used_at`

func scanFactor(row scanner) (*factor.Factor, error) {
	var f factor.Factor
	var created, confirmed, used time.Time
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
	return q.write(ctx, `INSERT INTO factors (`+factorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		f.ID, f.UserID, string(f.Kind), f.Name, string(f.Status), nullBytes(f.Secret), f.LastStep, nullBytes(f.CredentialID), f.PublicKey, f.Phone,
		f.DeviceBound, nullBytes(f.Data), f.Flag, ts(f.CreatedAt), ts(f.ConfirmedAt), ts(f.LastUsedAt))
}

func (q *conn) FactorByID(ctx context.Context, id string) (*factor.Factor, error) {
	return scanFactor(q.x.QueryRow(ctx, `SELECT `+factorCols+` FROM factors WHERE id = $1`, id))
}

func (q *conn) FactorByCredentialID(ctx context.Context, credentialID []byte) (*factor.Factor, error) {
	return scanFactor(q.x.QueryRow(ctx, `SELECT `+factorCols+` FROM factors WHERE credential_id = $1`, credentialID))
}

func (q *conn) FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error) {
	rows, err := q.x.Query(ctx, `SELECT `+factorCols+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
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
	res, err := q.x.Exec(ctx, `UPDATE factors SET name = $1, status = $2, secret = $3, credential_id = $4, public_key = $5, phone = $6, device_bound = $7, data = $8, flag = $9, confirmed_at = $10, last_used_at = $11 WHERE id = $12`,
		f.Name, string(f.Status), nullBytes(f.Secret), nullBytes(f.CredentialID), f.PublicKey, f.Phone, f.DeviceBound, nullBytes(f.Data), f.Flag, ts(f.ConfirmedAt), ts(f.LastUsedAt), f.ID)
	return affected(res, err)
}

func (q *conn) AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE factors SET last_step = $1, last_used_at = $2 WHERE id = $3 AND last_step < $4`, step, ts(now), factorID, step)
	if err := affected(res, err); err == store.ErrNotFound {
		return store.ErrConflict
	} else if err != nil {
		return err
	}
	return nil
}

func (q *conn) DeleteFactor(ctx context.Context, id string) error {
	res, err := q.x.Exec(ctx, `DELETE FROM factors WHERE id = $1`, id)
	return affected(res, err)
}

func (q *conn) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	return q.atomic(ctx, func(c *conn) error {
		if _, err := c.x.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for i, h := range hashes {
			if err := c.write(ctx, `INSERT INTO recovery_codes (user_id, idx, hash, used_at) VALUES ($1, $2, $3, '0001-01-01 00:00:00+00')`, userID, i, h); err != nil {
				return err
			}
		}
		return nil
	})
}

func (q *conn) RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error) {
	rows, err := q.x.Query(ctx, `SELECT idx, hash, used_at FROM recovery_codes WHERE user_id = $1 ORDER BY idx`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []factor.RecoveryCode
	for rows.Next() {
		var c factor.RecoveryCode
		var used time.Time
		if err := rows.Scan(&c.Index, &c.Hash, &used); err != nil {
			return nil, err
		}
		c.UsedAt = tm(used)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q *conn) UseRecoveryCode(ctx context.Context, userID string, index int, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND idx = $3 AND used_at = '0001-01-01 00:00:00+00'`, ts(now), userID, index)
	return affected(res, err)
}

const flowCols = `id, user_id, interface, binding, ip, user_agent, device_name, device_id, new_device, state, aal, amr, challenge, attempts, version, session_id, created_at, expires_at`

func scanFlow(row scanner) (*session.Flow, error) {
	var f session.Flow
	var created, expires time.Time
	if err := row.Scan(&f.ID, &f.UserID, &f.Interface, &f.Binding, &f.IP, &f.UserAgent, &f.DeviceName, &f.DeviceID, &f.NewDevice, &f.State, &f.Assurance, &f.AMR,
		&f.Challenge, &f.Attempts, &f.Version, &f.SessionID, &created, &expires); err != nil {
		return nil, mapErr(err)
	}
	f.CreatedAt, f.ExpiresAt = tm(created), tm(expires)
	return &f, nil
}

func (q *conn) CreateFlow(ctx context.Context, f *session.Flow) error {
	return q.write(ctx, `INSERT INTO login_flows (`+flowCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		f.ID, f.UserID, string(f.Interface), f.Binding, f.IP, f.UserAgent, f.DeviceName, f.DeviceID, f.NewDevice, string(f.State), int(f.Assurance), f.AMR,
		nullBytes(f.Challenge), f.Attempts, f.Version, f.SessionID, ts(f.CreatedAt), ts(f.ExpiresAt))
}

func (q *conn) FlowByID(ctx context.Context, id string) (*session.Flow, error) {
	return scanFlow(q.x.QueryRow(ctx, `SELECT `+flowCols+` FROM login_flows WHERE id = $1`, id))
}

func (q *conn) UpdateFlow(ctx context.Context, f *session.Flow) error {
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

const pushCols = `id, user_id, flow_id, purpose, device_id, number, interface, ip, device_name, outcome, created_at, expires_at, answered_at`

func scanPush(row scanner) (*factor.PushRequest, error) {
	var p factor.PushRequest
	var created, expires, answered time.Time
	if err := row.Scan(&p.ID, &p.UserID, &p.FlowID, &p.Purpose, &p.DeviceID, &p.Number, &p.Interface, &p.IP, &p.DeviceName, &p.Outcome, &created, &expires, &answered); err != nil {
		return nil, mapErr(err)
	}
	p.CreatedAt, p.ExpiresAt, p.AnsweredAt = tm(created), tm(expires), tm(answered)
	return &p, nil
}

func (q *conn) pushes(ctx context.Context, query string, args ...any) ([]*factor.PushRequest, error) {
	rows, err := q.x.Query(ctx, query, args...)
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
	return q.write(ctx, `INSERT INTO push_requests (`+pushCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID, p.UserID, p.FlowID, p.Purpose, p.DeviceID, p.Number, p.Interface, p.IP, p.DeviceName, p.Outcome, ts(p.CreatedAt), ts(p.ExpiresAt), ts(p.AnsweredAt))
}

func (q *conn) PushRequestByID(ctx context.Context, id string) (*factor.PushRequest, error) {
	return scanPush(q.x.QueryRow(ctx, `SELECT `+pushCols+` FROM push_requests WHERE id = $1`, id))
}

func (q *conn) PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*factor.PushRequest, error) {
	return q.pushes(ctx, `SELECT `+pushCols+` FROM push_requests WHERE user_id = $1 AND outcome = 'pending' AND expires_at > $2 ORDER BY created_at, id`, userID, ts(now))
}

func (q *conn) AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE push_requests SET outcome = $1, answered_at = $2 WHERE id = $3 AND outcome = 'pending'`, outcome, ts(now), id)
	return affected(res, err)
}

func (q *conn) PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*factor.PushRequest, error) {
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

func (q *conn) CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID, userID string, expires time.Time) error {
	return q.write(ctx, `INSERT INTO device_approvals (token_hash, device_id, user_id, expires_at, used_at) VALUES ($1, $2, $3, $4, '0001-01-01 00:00:00+00')`, tokenHash, deviceID, userID, ts(expires))
}

func (q *conn) UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (string, string, error) {
	var deviceID, userID string
	err := q.x.QueryRow(ctx, `UPDATE device_approvals SET used_at = $1 WHERE token_hash = $2 AND used_at = '0001-01-01 00:00:00+00' AND expires_at > $3 RETURNING device_id, user_id`, ts(now), tokenHash, ts(now)).Scan(&deviceID, &userID)
	return deviceID, userID, mapErr(err)
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
			{`DELETE FROM push_requests WHERE created_at < $1`, []any{ts(old)}},
			{`DELETE FROM throttles WHERE last_at < $1`, []any{ts(old)}},
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
