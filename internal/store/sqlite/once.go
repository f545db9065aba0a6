package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/store"
)

// UseOnce implements [store.Once]: one statement, so two uses meet at the
// primary key and exactly one wins.
func (q *conn) UseOnce(ctx context.Context, kind string, hash []byte, expires, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `INSERT INTO used_once (kind, hash, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (kind, hash) DO UPDATE SET expires_at = excluded.expires_at WHERE used_once.expires_at < ?`,
		kind, hash, us(expires), us(now))
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrConflict
	}
	return nil
}
