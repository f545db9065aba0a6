package postgres

import (
	"context"
	"time"

	"gatehouse/internal/factor"
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
	store.CleanFactor(f)
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
	return q.factorsWhere(ctx, `WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

func (q *conn) ListFactors(ctx context.Context) ([]*factor.Factor, error) {
	return q.factorsWhere(ctx, `ORDER BY user_id, created_at, id`)
}

func (q *conn) factorsWhere(ctx context.Context, where string, args ...any) ([]*factor.Factor, error) {
	rows, err := q.x.Query(ctx, `SELECT `+factorCols+` FROM factors `+where, args...)
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
