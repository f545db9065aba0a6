package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

const keyCols = `id, account_id, name, environment, scopes, allow_ips, secret_hash, created_by, created_at, expires_at,
	last_used_at, last_used_ip, revoked_at, revoke_reason, successor_id, predecessor_id, overlap_ends_at, session_id, frozen_at, approval_required, hold_on_new_network`

func scanKey(row interface{ Scan(...any) error }) (*apikey.Key, error) {
	var k apikey.Key
	var scopes, allow, lastIP string
	var created, expires, lastUsed, overlap, frozen int64
	var revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &k.Environment, &scopes, &allow, &k.SecretHash, &k.CreatedBy, &created, &expires,
		&lastUsed, &lastIP, &revoked, &k.RevokeReason, &k.SuccessorID, &k.PredecessorID, &overlap, &k.SessionID, &frozen, &k.ApprovalRequired, &k.HoldOnNewNetwork); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.OverlapEndsAt, k.FrozenAt = tm(created), tm(expires), tm(lastUsed), tm(overlap), tm(frozen)
	k.RevokedAt = nullTime(revoked)
	if err := decodeKeyLists(&k, scopes, allow, lastIP); err != nil {
		return nil, err
	}
	return &k, nil
}

// decodeKeyLists reads the text columns of a key. A scope this binary
// does not know fails the read rather than dropping the scope: a key must
// never be served with other powers than it was given.
func decodeKeyLists(k *apikey.Key, scopes, allow, lastIP string) error {
	s, err := apikey.ParseScopes(strings.Fields(scopes))
	if err != nil {
		return fmt.Errorf("sqlite: key %s: %w", k.ID, err)
	}
	k.Scopes = s
	for _, f := range strings.Fields(allow) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("sqlite: key %s: allowlist: %w", k.ID, err)
		}
		k.AllowIPs = append(k.AllowIPs, p)
	}
	if lastIP != "" {
		a, err := netip.ParseAddr(lastIP)
		if err != nil {
			return fmt.Errorf("sqlite: key %s: last used address: %w", k.ID, err)
		}
		k.LastUsedIP = a
	}
	return nil
}

func encodePrefixes(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, " ")
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (q *conn) keys(ctx context.Context, query string, args ...any) ([]*apikey.Key, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (q *conn) CreateKey(ctx context.Context, k *apikey.Key) error {
	store.CleanKey(k)
	var revoked any
	if !k.RevokedAt.IsZero() {
		revoked = us(k.RevokedAt)
	}
	_, err := q.x.ExecContext(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, string(k.Environment), k.Scopes.String(), encodePrefixes(k.AllowIPs), k.SecretHash, k.CreatedBy,
		us(k.CreatedAt), us(k.ExpiresAt), us(k.LastUsedAt), addrText(k.LastUsedIP), revoked, string(k.RevokeReason),
		k.SuccessorID, k.PredecessorID, us(k.OverlapEndsAt), k.SessionID, us(k.FrozenAt), k.ApprovalRequired, k.HoldOnNewNetwork)
	return mapErr(err)
}

func (q *conn) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	return scanKey(q.x.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE id = ?`, id))
}

func (q *conn) KeysOfAccount(ctx context.Context, accountID string) ([]*apikey.Key, error) {
	return q.keys(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = ? ORDER BY created_at DESC, id`, accountID)
}

func (q *conn) UnrevokedKeys(ctx context.Context) ([]*apikey.Key, error) {
	return q.keys(ctx, `SELECT `+keyCols+` FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
}

func (q *conn) SetKeySuccessor(ctx context.Context, id, successorID string, overlapEnds time.Time) error {
	return q.atomic(ctx, func(c *conn) error {
		res, err := c.x.ExecContext(ctx, `UPDATE api_keys SET successor_id = ?, overlap_ends_at = ? WHERE id = ? AND successor_id = '' AND revoked_at IS NULL`,
			successorID, us(overlapEnds), id)
		if err := affected(res, err); err == store.ErrNotFound {
			// Tell a lost race from a missing key.
			if _, err := c.KeyByID(ctx, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: key %s is revoked or rotated already", store.ErrConflict, id)
		} else if err != nil {
			return err
		}
		return nil
	})
}

func (q *conn) RevokeKey(ctx context.Context, id string, now time.Time, reason apikey.RevokeReason) error {
	res, err := q.x.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`, us(now), string(reason), id)
	return affected(res, err)
}

func (q *conn) TouchKey(ctx context.Context, id string, addr netip.Addr, at time.Time) (bool, error) {
	ip := addrText(addr.Unmap())
	var fresh bool
	err := q.atomic(ctx, func(c *conn) error {
		res, err := c.x.ExecContext(ctx, `UPDATE api_keys SET
				last_used_ip = CASE WHEN ? >= last_used_at THEN ? ELSE last_used_ip END,
				last_used_at = MAX(last_used_at, ?)
			WHERE id = ?`, us(at), ip, us(at), id)
		if err := affected(res, err); err != nil {
			return err
		}
		if ip == "" {
			return nil
		}
		res, err = c.x.ExecContext(ctx, `INSERT INTO api_key_addresses (key_id, ip, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, ip, us(at))
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, err
}

func (q *conn) FreezeKeysOf(ctx context.Context, userID string, at time.Time) ([]string, error) {
	return q.ids(ctx, `UPDATE api_keys SET frozen_at = ? WHERE created_by = ? AND revoked_at IS NULL AND frozen_at = 0 RETURNING id`, us(at), userID)
}

func (q *conn) ThawKeysOf(ctx context.Context, userID string) ([]string, error) {
	var ids []string
	err := q.atomic(ctx, func(c *conn) error {
		var err error
		if ids, err = c.ids(ctx, `SELECT id FROM api_keys WHERE created_by = ? AND frozen_at <> 0 AND revoked_at IS NULL`, userID); err != nil {
			return err
		}
		_, err = c.x.ExecContext(ctx, `UPDATE api_keys SET frozen_at = 0 WHERE created_by = ? AND frozen_at <> 0`, userID)
		return mapErr(err)
	})
	return ids, err
}

// ids runs a query whose rows are one text column, sorted.
func (q *conn) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, rows.Err()
}
