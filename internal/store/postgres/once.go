package postgres

import (
	"context"
	"time"

	"gatehouse/internal/store"
)

// UseOnce implements [store.Once]: one statement, so concurrent uses on
// any number of instances meet at the primary key and exactly one wins.
func (q *conn) UseOnce(ctx context.Context, kind string, hash []byte, expires, now time.Time) error {
	tag, err := q.x.Exec(ctx, `INSERT INTO used_once (kind, hash, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE used_once.expires_at < $4`,
		kind, hash, ts(expires), ts(now))
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrConflict
	}
	return nil
}
