package postgres

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/device"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

const sessionCols = `id, user_id, interface, token_hash, jkt, device_id, device_name, ip, user_agent, aal, auth_time, created_at, last_seen_at, expires_at, idle_us, ended_at, end_reason, amr`

func scanSession(row scanner) (*session.Session, error) {
	var s session.Session
	var authTime, created, seen, expires time.Time
	var idle int64
	var ended *time.Time
	if err := row.Scan(&s.ID, &s.UserID, &s.Door, &s.TokenHash, &s.JKT, &s.DeviceID, &s.DeviceName, &s.IP, &s.UserAgent,
		&s.Assurance, &authTime, &created, &seen, &expires, &idle, &ended, &s.EndReason, &s.AMR); err != nil {
		return nil, mapErr(err)
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.ExpiresAt = tm(authTime), tm(created), tm(seen), tm(expires)
	s.Idle = time.Duration(idle) * time.Microsecond
	s.EndedAt = nullTime(ended)
	return &s, nil
}

func (q *conn) CreateSession(ctx context.Context, s *session.Session) error {
	store.CleanSession(s)
	return q.write(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, '', $16)`,
		s.ID, s.UserID, string(s.Door), s.TokenHash, s.JKT, s.DeviceID, s.DeviceName, s.IP, s.UserAgent,
		int(s.Assurance), ts(s.AuthTime), ts(s.CreatedAt), ts(s.LastSeenAt), ts(s.ExpiresAt), s.Idle.Microseconds(), s.AMR)
}

func (q *conn) SessionByTokenHash(ctx context.Context, hash []byte) (*session.Session, error) {
	return scanSession(q.x.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, hash))
}

func (q *conn) SessionByID(ctx context.Context, id string) (*session.Session, error) {
	return scanSession(q.x.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
}

func (q *conn) SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error) {
	rows, err := q.x.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at DESC, id`, userID)
	return collect(rows, err, scanSession)
}

func (q *conn) ListSessions(ctx context.Context) ([]*session.Session, error) {
	rows, err := q.x.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE ended_at IS NULL ORDER BY created_at DESC, id`)
	return collect(rows, err, scanSession)
}

// EndSession is one statement, and so one transaction even outside InTx:
// the NOTIFY goes out when it commits, and only if a session was ended.
func (q *conn) EndSession(ctx context.Context, id string, now time.Time, reason string) error {
	tag, err := q.x.Exec(ctx, `WITH ended AS (
			UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL RETURNING id
		)
		SELECT pg_notify($4, id) FROM ended`,
		ts(now), reason, id, q.db.channel)
	return affected(tag, err)
}

func (q *conn) EndSessions(ctx context.Context, ids []string, now time.Time, reason string) ([]string, error) {
	// An id PostgreSQL cannot hold as text names no session; textGuard
	// would answer "no row" for the whole statement.
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !clienttext.Valid(id) })
	if len(ids) == 0 {
		return nil, nil
	}
	return q.endSessions(ctx, `id = ANY($3::text[])`, now, reason, ids)
}

func (q *conn) EndSessionsOfUser(ctx context.Context, userID, except string, now time.Time, reason string) ([]string, error) {
	if !clienttext.Valid(except) {
		// No session has that id, so none is spared; and textGuard, which
		// would otherwise answer "no row", reads keys as equalities.
		except = ""
	}
	return q.endSessions(ctx, `user_id = $3 AND id <> $4`, now, reason, userID, except)
}

// endSessions ends the live sessions matching where (whose parameters
// start at $3) and notifies every instance of each, in one transaction.
func (q *conn) endSessions(ctx context.Context, where string, now time.Time, reason string, args ...any) ([]string, error) {
	var ids []string
	err := q.atomic(ctx, func(c *conn) error {
		rows, err := c.x.Query(ctx, `UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE `+where+` AND ended_at IS NULL RETURNING id`,
			append([]any{ts(now), reason}, args...)...)
		if err != nil {
			return err
		}
		if ids, err = pgx.AppendRows[string, []string](nil, rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
			return err
		}
		_, err = c.x.Exec(ctx, `SELECT pg_notify($1, id) FROM unnest($2::text[]) AS t (id)`, q.db.channel, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// TouchSessions updates rows in the order of their ids, so two instances
// flushing overlapping batches lock them in one order and cannot deadlock.
func (q *conn) TouchSessions(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	return q.atomic(ctx, func(c *conn) error {
		b := &pgx.Batch{}
		for _, id := range slices.Sorted(maps.Keys(seen)) {
			b.Queue(`UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id = $2`, ts(seen[id]), id)
		}
		return c.x.SendBatch(ctx, b).Close()
	})
}

func (q *conn) SetSessionAssurance(ctx context.Context, id string, aal session.Assurance, authTime time.Time) error {
	tag, err := q.x.Exec(ctx, `UPDATE sessions SET aal = $1, auth_time = $2 WHERE id = $3 AND ended_at IS NULL`, int(aal), ts(authTime), id)
	return affected(tag, err)
}

func (q *conn) LowerSession(ctx context.Context, id, amr string) error {
	tag, err := q.x.Exec(ctx, `UPDATE sessions SET aal = $1, amr = $2 WHERE id = $3 AND ended_at IS NULL`, int(session.AAL1), amr, id)
	return affected(tag, err)
}

func (q *conn) RaiseSession(ctx context.Context, id string, aal session.Assurance, amr string, authTime time.Time, tokenHash []byte, ip string) error {
	tag, err := q.x.Exec(ctx, `UPDATE sessions SET aal = $1, amr = $2, auth_time = $3, token_hash = $4, ip = CASE WHEN $6 = '' THEN ip ELSE $6 END WHERE id = $5 AND ended_at IS NULL`,
		int(aal), amr, ts(authTime), tokenHash, id, clienttext.Clean(ip))
	return affected(tag, err)
}

func (q *conn) EndSessionsOfDevice(ctx context.Context, deviceID string, now time.Time, reason string) ([]string, error) {
	return q.endSessions(ctx, `device_id = $3`, now, reason, deviceID)
}

func (q *conn) CountActiveSessions(ctx context.Context, now time.Time) (map[session.Door]int, error) {
	rows, err := q.x.Query(ctx, `SELECT interface, COUNT(*) FROM sessions WHERE ended_at IS NULL AND expires_at > $1 GROUP BY interface`, ts(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[session.Door]int{}
	for rows.Next() {
		var i session.Door
		var n int
		if err := rows.Scan(&i, &n); err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, rows.Err()
}

const deviceCols = `id, user_id, interface, fingerprint, name, status, created_at, last_seen_at`

func scanDevice(row scanner) (*device.Device, error) {
	var d device.Device
	var created, seen time.Time
	if err := row.Scan(&d.ID, &d.UserID, &d.Interface, &d.Fingerprint, &d.Name, &d.Status, &created, &seen); err != nil {
		return nil, mapErr(err)
	}
	d.CreatedAt, d.LastSeenAt = tm(created), tm(seen)
	return &d, nil
}

func (q *conn) CreateDevice(ctx context.Context, d *device.Device) error {
	store.CleanDevice(d)
	return q.write(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		d.ID, d.UserID, d.Interface, d.Fingerprint, d.Name, string(d.Status), ts(d.CreatedAt), ts(d.LastSeenAt))
}

func (q *conn) DeviceByFingerprint(ctx context.Context, userID, fingerprint string) (*device.Device, error) {
	return scanDevice(q.x.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = $1 AND fingerprint = $2`, userID, fingerprint))
}

func (q *conn) DevicesOfUser(ctx context.Context, userID string) ([]*device.Device, error) {
	rows, err := q.x.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = $1 ORDER BY created_at, id`, userID)
	return collect(rows, err, scanDevice)
}

func (q *conn) DeviceByID(ctx context.Context, id string) (*device.Device, error) {
	return scanDevice(q.x.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
}

func (q *conn) SetDeviceStatus(ctx context.Context, id string, status device.Status) error {
	tag, err := q.x.Exec(ctx, `UPDATE devices SET status = $1 WHERE id = $2`, string(status), id)
	return affected(tag, err)
}

func (q *conn) TouchDevice(ctx context.Context, id string, now time.Time) error {
	tag, err := q.x.Exec(ctx, `UPDATE devices SET last_seen_at = $1 WHERE id = $2`, ts(now), id)
	return affected(tag, err)
}
