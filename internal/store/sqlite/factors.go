package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/factor"
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
	store.CleanFactor(f)
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
	return q.factorsWhere(ctx, `WHERE user_id = ? ORDER BY created_at, id`, userID)
}

func (q *conn) ListFactors(ctx context.Context) ([]*factor.Factor, error) {
	return q.factorsWhere(ctx, `ORDER BY user_id, created_at, id`)
}

func (q *conn) factorsWhere(ctx context.Context, where string, args ...any) ([]*factor.Factor, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+factorCols+` FROM factors `+where, args...)
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
	store.CleanFactor(f)
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
