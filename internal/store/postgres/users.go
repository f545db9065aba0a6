package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

const userCols = `id, username, email, profile, password_hash, created_at, updated_at, frozen_at, frozen_by, cooldown_until, cooldown_reason`

func scanUser(row scanner) (*user.User, error) {
	var u user.User
	var created, updated, frozen, cool time.Time
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Profile, &u.PasswordHash, &created, &updated, &frozen, &u.FrozenBy, &cool, &u.CooldownReason); err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt, u.UpdatedAt, u.FrozenAt, u.CooldownUntil = tm(created), tm(updated), tm(frozen), tm(cool)
	return &u, nil
}

func (q *conn) CreateUser(ctx context.Context, u *user.User) error {
	return q.write(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Username, u.Email, string(u.Profile), u.PasswordHash, ts(u.CreatedAt), ts(u.UpdatedAt), ts(u.FrozenAt), u.FrozenBy, ts(u.CooldownUntil), u.CooldownReason)
}

func (q *conn) UserByID(ctx context.Context, id string) (*user.User, error) {
	return scanUser(q.x.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
}

func (q *conn) UserByUsername(ctx context.Context, username string) (*user.User, error) {
	return scanUser(q.x.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
}

func (q *conn) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	tag, err := q.x.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, ts(now), userID)
	return affected(tag, err)
}

func (q *conn) ListUsers(ctx context.Context) ([]*user.User, error) {
	rows, err := q.x.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	return collect(rows, err, scanUser)
}

func (q *conn) FreezeUser(ctx context.Context, userID string, at time.Time, by string) error {
	tag, err := q.x.Exec(ctx, `UPDATE users SET frozen_at = $1, frozen_by = $2 WHERE id = $3 AND frozen_at = '0001-01-01 00:00:00+00'`, ts(at), by, userID)
	if err := affected(tag, err); err == store.ErrNotFound {
		if _, err := q.UserByID(ctx, userID); err != nil {
			return err
		}
		return fmt.Errorf("%w: user %s is frozen already", store.ErrConflict, userID)
	} else if err != nil {
		return err
	}
	return nil
}

func (q *conn) StartCooldown(ctx context.Context, userID string, until time.Time, reason string) error {
	tag, err := q.x.Exec(ctx, `UPDATE users SET cooldown_until = GREATEST(cooldown_until, $1), cooldown_reason = $2 WHERE id = $3`, ts(until), reason, userID)
	return affected(tag, err)
}

func (q *conn) LiftCooldown(ctx context.Context, userID string, now time.Time) error {
	tag, err := q.x.Exec(ctx, `UPDATE users SET cooldown_until = $1 WHERE id = $2 AND cooldown_until > $1`, ts(now), userID)
	return affected(tag, err)
}

func (q *conn) UnfreezeUser(ctx context.Context, userID string) error {
	tag, err := q.x.Exec(ctx, `UPDATE users SET frozen_at = '0001-01-01 00:00:00+00', frozen_by = '' WHERE id = $1 AND frozen_at <> '0001-01-01 00:00:00+00'`, userID)
	return affected(tag, err)
}

func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

const accountCols = `id, name, environment, COALESCE(parent_id, ''), entity_code, perm_options, perm_margin, perm_futures, perm_withdrawals, created_at`

func scanAccount(row scanner) (*account.Account, error) {
	var a account.Account
	var created time.Time
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
	return q.write(ctx, `INSERT INTO accounts (id, name, environment, parent_id, entity_code, perm_options, perm_margin, perm_futures, perm_withdrawals, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.Name, string(a.Environment), nullString(a.ParentID), a.EntityCode,
		a.Permissions.Options, a.Permissions.Margin, a.Permissions.Futures, a.Permissions.Withdrawals, ts(a.CreatedAt))
}

func (q *conn) AccountByID(ctx context.Context, id string) (*account.Account, error) {
	return scanAccount(q.x.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
}

func (q *conn) ListAccounts(ctx context.Context) ([]*account.Account, error) {
	rows, err := q.x.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	return collect(rows, err, scanAccount)
}

func (q *conn) SetPermissions(ctx context.Context, accountID string, p account.Permissions) error {
	tag, err := q.x.Exec(ctx, `UPDATE accounts SET perm_options = $1, perm_margin = $2, perm_futures = $3, perm_withdrawals = $4 WHERE id = $5`,
		p.Options, p.Margin, p.Futures, p.Withdrawals, accountID)
	return affected(tag, err)
}

func (q *conn) AddMember(ctx context.Context, m *account.Membership) error {
	return q.write(ctx, `INSERT INTO memberships (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, account_id) DO UPDATE SET role = excluded.role`,
		m.UserID, m.AccountID, string(m.Role), ts(m.CreatedAt))
}

func (q *conn) RemoveMember(ctx context.Context, userID, accountID string) error {
	tag, err := q.x.Exec(ctx, `DELETE FROM memberships WHERE user_id = $1 AND account_id = $2`, userID, accountID)
	return affected(tag, err)
}

func scanMember(row scanner) (*account.Membership, error) {
	var m account.Membership
	var created time.Time
	if err := row.Scan(&m.UserID, &m.AccountID, &m.Role, &created); err != nil {
		return nil, mapErr(err)
	}
	m.CreatedAt = tm(created)
	return &m, nil
}

func (q *conn) Membership(ctx context.Context, userID, accountID string) (*account.Membership, error) {
	return scanMember(q.x.QueryRow(ctx, `SELECT user_id, account_id, role, created_at FROM memberships WHERE user_id = $1 AND account_id = $2`, userID, accountID))
}

func (q *conn) MembershipsOfUser(ctx context.Context, userID string) ([]*account.Membership, error) {
	rows, err := q.x.Query(ctx, `SELECT user_id, account_id, role, created_at FROM memberships WHERE user_id = $1 ORDER BY account_id`, userID)
	return collect(rows, err, scanMember)
}
