package sqlite

import (
	"context"
	"net/netip"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/store"
)

const keyNetCols = `key_id, network, first_ip, first_seen_at, approved_at, approved_by`

func scanKeyNetwork(row interface{ Scan(...any) error }) (*apikey.Network, error) {
	var n apikey.Network
	var ip string
	var first, approved int64
	if err := row.Scan(&n.KeyID, &n.Network, &ip, &first, &approved, &n.ApprovedBy); err != nil {
		return nil, mapErr(err)
	}
	n.FirstSeenAt, n.ApprovedAt = tm(first), tm(approved)
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
	return scanKeyNetwork(q.x.QueryRowContext(ctx, `SELECT `+keyNetCols+` FROM api_key_networks WHERE key_id = ? AND network = ?`, keyID, network))
}

func (q *conn) KeyNetworks(ctx context.Context, keyID string) ([]*apikey.Network, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+keyNetCols+` FROM api_key_networks WHERE key_id = ? ORDER BY first_seen_at, network`, keyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*apikey.Network
	for rows.Next() {
		n, err := scanKeyNetwork(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// AddKeyNetwork decides "first" and inserts in one statement, under the
// write lock every SQLite transaction takes at its start.
func (q *conn) AddKeyNetwork(ctx context.Context, keyID, network string, ip netip.Addr, at time.Time, hold bool) (*apikey.Network, bool, error) {
	var n *apikey.Network
	var added bool
	err := q.atomic(ctx, func(c *conn) error {
		res, err := c.x.ExecContext(ctx, `INSERT INTO api_key_networks (`+keyNetCols+`)
			SELECT ?, ?, ?, ?, CASE WHEN ? = 0 OR NOT EXISTS (SELECT 1 FROM api_key_networks WHERE key_id = ?) THEN ? ELSE 0 END, ''
			ON CONFLICT DO NOTHING`, keyID, network, addrText(ip.Unmap()), us(at), hold, keyID, us(at))
		if err != nil {
			return mapErr(err)
		}
		rows, err := res.RowsAffected()
		if err != nil {
			return err
		}
		added = rows == 1
		n, err = c.KeyNetwork(ctx, keyID, network)
		return err
	})
	return n, added, err
}

func (q *conn) ApproveKeyNetwork(ctx context.Context, keyID, network string, at time.Time, by string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE api_key_networks SET approved_at = ?, approved_by = ? WHERE key_id = ? AND network = ? AND approved_at = 0`,
		us(at), by, keyID, network)
	return affected(res, err)
}

var _ store.Keys = (*conn)(nil)
