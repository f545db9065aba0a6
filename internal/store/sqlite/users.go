package sqlite

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

const userCols = `id, username, email, profile, password_hash, created_at, updated_at, frozen_at, frozen_by, cooldown_until, cooldown_reason`

func scanUser(row interface{ Scan(...any) error }) (*user.User, error) {
	var u user.User
	var created, updated, frozen, cool int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Profile, &u.PasswordHash, &created, &updated, &frozen, &u.FrozenBy, &cool, &u.CooldownReason); err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt, u.UpdatedAt, u.FrozenAt, u.CooldownUntil = tm(created), tm(updated), tm(frozen), tm(cool)
	return &u, nil
}

func (q *conn) CreateUser(ctx context.Context, u *user.User) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.Email, string(u.Profile), u.PasswordHash, us(u.CreatedAt), us(u.UpdatedAt), us(u.FrozenAt), u.FrozenBy, us(u.CooldownUntil), u.CooldownReason)
	return mapErr(err)
}

func (q *conn) UserByID(ctx context.Context, id string) (*user.User, error) {
	return scanUser(q.x.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
}

func (q *conn) UserByUsername(ctx context.Context, username string) (*user.User, error) {
	return scanUser(q.x.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
}

func (q *conn) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, us(now), userID)
	return affected(res, err)
}

func (q *conn) ListUsers(ctx context.Context) ([]*user.User, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*user.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (q *conn) FreezeUser(ctx context.Context, userID string, at time.Time, by string) error {
	return q.atomic(ctx, func(c *conn) error {
		res, err := c.x.ExecContext(ctx, `UPDATE users SET frozen_at = ?, frozen_by = ? WHERE id = ? AND frozen_at = 0`, us(at), by, userID)
		if err := affected(res, err); err == store.ErrNotFound {
			if _, err := c.UserByID(ctx, userID); err != nil {
				return err
			}
			return fmt.Errorf("%w: user %s is frozen already", store.ErrConflict, userID)
		} else if err != nil {
			return err
		}
		return nil
	})
}

func (q *conn) StartCooldown(ctx context.Context, userID string, until time.Time, reason string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE users SET cooldown_until = MAX(cooldown_until, ?), cooldown_reason = ? WHERE id = ?`, us(until), reason, userID)
	return affected(res, err)
}

func (q *conn) LiftCooldown(ctx context.Context, userID string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE users SET cooldown_until = ? WHERE id = ? AND cooldown_until > ?`, us(now), userID, us(now))
	return affected(res, err)
}

func (q *conn) UnfreezeUser(ctx context.Context, userID string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE users SET frozen_at = 0, frozen_by = '' WHERE id = ? AND frozen_at <> 0`, userID)
	return affected(res, err)
}

func affected(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

const accountCols = `id, name, environment, COALESCE(parent_id, ''), entity_code, perm_options, perm_margin, perm_futures, perm_withdrawals, created_at`

func scanAccount(row interface{ Scan(...any) error }) (*account.Account, error) {
	var a account.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.Environment, &a.ParentID, &a.EntityCode,
		&a.Permissions.Options, &a.Permissions.Margin, &a.Permissions.Futures, &a.Permissions.Withdrawals, &created); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt = tm(created)
	return &a, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (q *conn) CreateAccount(ctx context.Context, a *account.Account) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO accounts (id, name, environment, parent_id, entity_code, perm_options, perm_margin, perm_futures, perm_withdrawals, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, string(a.Environment), nullString(a.ParentID), a.EntityCode,
		a.Permissions.Options, a.Permissions.Margin, a.Permissions.Futures, a.Permissions.Withdrawals, us(a.CreatedAt))
	return mapErr(err)
}

func (q *conn) AccountByID(ctx context.Context, id string) (*account.Account, error) {
	return scanAccount(q.x.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

func (q *conn) ListAccounts(ctx context.Context) ([]*account.Account, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*account.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (q *conn) SetPermissions(ctx context.Context, accountID string, p account.Permissions) error {
	res, err := q.x.ExecContext(ctx, `UPDATE accounts SET perm_options = ?, perm_margin = ?, perm_futures = ?, perm_withdrawals = ? WHERE id = ?`,
		p.Options, p.Margin, p.Futures, p.Withdrawals, accountID)
	return affected(res, err)
}

func (q *conn) AddMember(ctx context.Context, m *account.Membership) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO memberships (user_id, account_id, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, account_id) DO UPDATE SET role = excluded.role`,
		m.UserID, m.AccountID, string(m.Role), us(m.CreatedAt))
	return mapErr(err)
}

func (q *conn) RemoveMember(ctx context.Context, userID, accountID string) error {
	res, err := q.x.ExecContext(ctx, `DELETE FROM memberships WHERE user_id = ? AND account_id = ?`, userID, accountID)
	return affected(res, err)
}

func scanMember(row interface{ Scan(...any) error }) (*account.Membership, error) {
	var m account.Membership
	var created int64
	if err := row.Scan(&m.UserID, &m.AccountID, &m.Role, &created); err != nil {
		return nil, mapErr(err)
	}
	m.CreatedAt = tm(created)
	return &m, nil
}

func (q *conn) Membership(ctx context.Context, userID, accountID string) (*account.Membership, error) {
	return scanMember(q.x.QueryRowContext(ctx, `SELECT user_id, account_id, role, created_at FROM memberships WHERE user_id = ? AND account_id = ?`, userID, accountID))
}

func (q *conn) MembershipsOfUser(ctx context.Context, userID string) ([]*account.Membership, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT user_id, account_id, role, created_at FROM memberships WHERE user_id = ? ORDER BY account_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*account.Membership
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
