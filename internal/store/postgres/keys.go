package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

const keyCols = `id, account_id, name, environment, scopes, allow_ips, secret_hash, created_by, created_at, expires_at,
	last_used_at, last_used_ip, revoked_at, revoke_reason, successor_id, predecessor_id, overlap_ends_at, session_id, frozen_at, approval_required, hold_on_new_network`

func scanKey(row scanner) (*apikey.Key, error) {
	var k apikey.Key
	var scopes, allow, lastIP string
	var created, expires, lastUsed, overlap, frozen time.Time
	var revoked *time.Time
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
		return fmt.Errorf("postgres: key %s: %w", k.ID, err)
	}
	k.Scopes = s
	for _, f := range strings.Fields(allow) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("postgres: key %s: allowlist: %w", k.ID, err)
		}
		k.AllowIPs = append(k.AllowIPs, p)
	}
	if lastIP != "" {
		a, err := netip.ParseAddr(lastIP)
		if err != nil {
			return fmt.Errorf("postgres: key %s: last used address: %w", k.ID, err)
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

// lockKeys keeps the lock order (see [lockAudit]): in a transaction it
// takes the audit lock before the caller writes a row of api_keys. Outside
// one, a key write is a single statement and orders nothing.
func (q *conn) lockKeys(ctx context.Context) error {
	if q.tx == nil {
		return nil
	}
	return lock(ctx, q.x, lockAudit, q.db.lockKey)
}

func (q *conn) CreateKey(ctx context.Context, k *apikey.Key) error {
	store.CleanKey(k)
	if err := q.lockKeys(ctx); err != nil {
		return err
	}
	var revoked *time.Time
	if !k.RevokedAt.IsZero() {
		r := ts(k.RevokedAt)
		revoked = &r
	}
	return q.write(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		k.ID, k.AccountID, k.Name, string(k.Environment), k.Scopes.String(), encodePrefixes(k.AllowIPs), k.SecretHash, k.CreatedBy,
		ts(k.CreatedAt), ts(k.ExpiresAt), ts(k.LastUsedAt), addrText(k.LastUsedIP), revoked, string(k.RevokeReason),
		k.SuccessorID, k.PredecessorID, ts(k.OverlapEndsAt), k.SessionID, ts(k.FrozenAt), k.ApprovalRequired, k.HoldOnNewNetwork)
}

func (q *conn) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	return scanKey(q.x.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE id = $1`, id))
}

func (q *conn) KeysOfAccount(ctx context.Context, accountID string) ([]*apikey.Key, error) {
	rows, err := q.x.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
	return collect(rows, err, scanKey)
}

func (q *conn) UnrevokedKeys(ctx context.Context) ([]*apikey.Key, error) {
	rows, err := q.x.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
	return collect(rows, err, scanKey)
}

// SetKeySuccessor is one conditional UPDATE: under READ COMMITTED, a
// concurrent rotation of the same key waits for the row lock, then
// re-evaluates the WHERE clause against the committed row and updates
// nothing, so exactly one successor wins.
func (q *conn) SetKeySuccessor(ctx context.Context, id, successorID string, overlapEnds time.Time) error {
	if err := q.lockKeys(ctx); err != nil {
		return err
	}
	tag, err := q.x.Exec(ctx, `UPDATE api_keys SET successor_id = $1, overlap_ends_at = $2 WHERE id = $3 AND successor_id = '' AND revoked_at IS NULL`,
		successorID, ts(overlapEnds), id)
	if err := affected(tag, err); err == store.ErrNotFound {
		// Tell a lost race from a missing key.
		if _, err := q.KeyByID(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("%w: key %s is revoked or rotated already", store.ErrConflict, id)
	} else if err != nil {
		return err
	}
	return nil
}

func (q *conn) RevokeKey(ctx context.Context, id string, now time.Time, reason apikey.RevokeReason) error {
	if err := q.lockKeys(ctx); err != nil {
		return err
	}
	tag, err := q.x.Exec(ctx, `UPDATE api_keys SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL`, ts(now), string(reason), id)
	return affected(tag, err)
}

// TouchKey is one statement, and so atomic even outside a transaction.
// The address set is written first, in the CTE, so that its ON CONFLICT
// reports whether the address is new.
func (q *conn) TouchKey(ctx context.Context, id string, addr netip.Addr, at time.Time) (bool, error) {
	if err := q.lockKeys(ctx); err != nil {
		return false, err
	}
	ip := addrText(addr.Unmap())
	var touched, fresh bool
	err := q.x.QueryRow(ctx, `WITH k AS (
			UPDATE api_keys SET
				last_used_ip = CASE WHEN $2 >= last_used_at THEN $3 ELSE last_used_ip END,
				last_used_at = GREATEST(last_used_at, $2)
			WHERE id = $1
			RETURNING id
		), a AS (
			INSERT INTO api_key_addresses (key_id, ip, first_seen_at)
			SELECT id, $3, $2 FROM k WHERE $3 <> ''
			ON CONFLICT DO NOTHING
			RETURNING key_id
		)
		SELECT EXISTS (SELECT 1 FROM k), EXISTS (SELECT 1 FROM a)`, id, ts(at), ip).Scan(&touched, &fresh)
	if err != nil {
		return false, mapErr(err)
	}
	if !touched {
		return false, store.ErrNotFound
	}
	return fresh, nil
}

func (q *conn) FreezeKeysOf(ctx context.Context, userID string, at time.Time) ([]string, error) {
	if err := q.lockKeys(ctx); err != nil {
		return nil, err
	}
	rows, err := q.x.Query(ctx, `UPDATE api_keys SET frozen_at = $1 WHERE created_by = $2 AND revoked_at IS NULL AND frozen_at = '0001-01-01 00:00:00+00' RETURNING id`, ts(at), userID)
	return sortedIDs(rows, err)
}

func (q *conn) ThawKeysOf(ctx context.Context, userID string) ([]string, error) {
	if err := q.lockKeys(ctx); err != nil {
		return nil, err
	}
	rows, err := q.x.Query(ctx, `UPDATE api_keys SET frozen_at = '0001-01-01 00:00:00+00' WHERE created_by = $1 AND frozen_at <> '0001-01-01 00:00:00+00' RETURNING id, revoked_at IS NULL`, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		var live bool
		if err := rows.Scan(&id, &live); err != nil {
			return nil, err
		}
		if live {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, rows.Err()
}

// sortedIDs reads rows of one text column, sorted.
func sortedIDs(rows pgx.Rows, err error) ([]string, error) {
	ids, err := collect(rows, err, func(r scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	slices.Sort(ids)
	return ids, mapErr(err)
}
