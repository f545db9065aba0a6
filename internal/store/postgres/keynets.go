package postgres

import (
	"context"
	"net/netip"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

const keyNetCols = `key_id, network, first_ip, first_seen_at, approved_at, approved_by`

func scanKeyNetwork(row scanner) (*apikey.Network, error) {
	var n apikey.Network
	var ip string
	var first time.Time
	var approved *time.Time
	if err := row.Scan(&n.KeyID, &n.Network, &ip, &first, &approved, &n.ApprovedBy); err != nil {
		return nil, mapErr(err)
	}
	n.FirstSeenAt, n.ApprovedAt = tm(first), nullTime(approved)
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, err
		}
		n.FirstIP = a
	}
	return &n, nil
}

func (q *conn) KeyNetwork(ctx context.Context, keyID, network string) (*apikey.Network, error) {
	return scanKeyNetwork(q.x.QueryRow(ctx, `SELECT `+keyNetCols+` FROM api_key_networks WHERE key_id = $1 AND network = $2`, keyID, network))
}

func (q *conn) KeyNetworks(ctx context.Context, keyID string) ([]*apikey.Network, error) {
	rows, err := q.x.Query(ctx, `SELECT `+keyNetCols+` FROM api_key_networks WHERE key_id = $1 ORDER BY first_seen_at, network`, keyID)
	return collect(rows, err, scanKeyNetwork)
}

// AddKeyNetwork locks the key's row first, so that two instances adding
// networks of one key at once decide "first" one after the other.
func (q *conn) AddKeyNetwork(ctx context.Context, keyID, network string, ip netip.Addr, at time.Time, hold bool) (*apikey.Network, bool, error) {
	var n *apikey.Network
	var added bool
	err := q.atomic(ctx, func(c *conn) error {
		var one int
		if err := c.x.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE`, keyID).Scan(&one); err != nil {
			return mapErr(err)
		}
		tag, err := c.x.Exec(ctx, `INSERT INTO api_key_networks (`+keyNetCols+`)
			SELECT $1, $2, $3, $4, CASE WHEN NOT $5::boolean OR NOT EXISTS (SELECT 1 FROM api_key_networks WHERE key_id = $1) THEN $4::timestamptz END, ''
			ON CONFLICT DO NOTHING`, keyID, network, addrText(ip.Unmap()), ts(at), hold)
		if err != nil {
			return mapErr(err)
		}
		added = tag.RowsAffected() == 1
		n, err = c.KeyNetwork(ctx, keyID, network)
		return err
	})
	return n, added, err
}

func (q *conn) ApproveKeyNetwork(ctx context.Context, keyID, network string, at time.Time, by string) error {
	return affected(q.x.Exec(ctx, `UPDATE api_key_networks SET approved_at = $1, approved_by = $2 WHERE key_id = $3 AND network = $4 AND approved_at IS NULL`,
		ts(at), by, keyID, network))
}

var _ store.Keys = (*conn)(nil)
