package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/device"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

const sessionCols = `id, user_id, interface, token_hash, jkt, device_id, device_name, ip, user_agent, aal, auth_time, created_at, last_seen_at, expires_at, idle_us, ended_at, end_reason, amr`

func scanSession(row interface{ Scan(...any) error }) (*session.Session, error) {
	var s session.Session
	var authTime, created, seen, expires, idle int64
	var ended sql.NullInt64
	if err := row.Scan(&s.ID, &s.UserID, &s.Door, &s.TokenHash, &s.JKT, &s.DeviceID, &s.DeviceName, &s.IP, &s.UserAgent,
		&s.Assurance, &authTime, &created, &seen, &expires, &idle, &ended, &s.EndReason, &s.AMR); err != nil {
		return nil, mapErr(err)
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.ExpiresAt = tm(authTime), tm(created), tm(seen), tm(expires)
	s.Idle = time.Duration(idle) * time.Microsecond
	s.EndedAt = nullTime(ended)
	return &s, nil
}

func (q *conn) sessions(ctx context.Context, query string, args ...any) ([]*session.Session, error) {
	rows, err := q.x.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*session.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (q *conn) CreateSession(ctx context.Context, s *session.Session) error {
	store.CleanSession(s)
	_, err := q.x.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', ?)`,
		s.ID, s.UserID, string(s.Door), s.TokenHash, s.JKT, s.DeviceID, s.DeviceName, s.IP, s.UserAgent,
		int(s.Assurance), us(s.AuthTime), us(s.CreatedAt), us(s.LastSeenAt), us(s.ExpiresAt), s.Idle.Microseconds(), s.AMR)
	return mapErr(err)
}

func (q *conn) SessionByTokenHash(ctx context.Context, hash []byte) (*session.Session, error) {
	return scanSession(q.x.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, hash))
}

func (q *conn) SessionByID(ctx context.Context, id string) (*session.Session, error) {
	return scanSession(q.x.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
}

func (q *conn) SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error) {
	return q.sessions(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND ended_at IS NULL ORDER BY created_at DESC, id`, userID)
}

func (q *conn) ListSessions(ctx context.Context) ([]*session.Session, error) {
	return q.sessions(ctx, `SELECT `+sessionCols+` FROM sessions WHERE ended_at IS NULL ORDER BY created_at DESC, id`)
}

func (q *conn) EndSession(ctx context.Context, id string, now time.Time, reason string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`, us(now), reason, id)
	return affected(res, err)
}

// EndSessions ends the sessions one statement each: in SQLite a
// statement is a call into the library, not a round trip.
func (q *conn) EndSessions(ctx context.Context, ids []string, now time.Time, reason string) ([]string, error) {
	var ended []string
	err := q.atomic(ctx, func(c *conn) error {
		for _, id := range ids {
			switch err := c.EndSession(ctx, id, now, reason); {
			case err == nil:
				ended = append(ended, id)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		return nil
	})
	return ended, err
}

func (q *conn) EndSessionsOfUser(ctx context.Context, userID, except string, now time.Time, reason string) ([]string, error) {
	return q.endSessions(ctx, `user_id = ? AND id <> ?`, now, reason, userID, except)
}

// endSessions ends the live sessions matching where and returns their ids.
func (q *conn) endSessions(ctx context.Context, where string, now time.Time, reason string, args ...any) ([]string, error) {
	var ids []string
	err := q.atomic(ctx, func(c *conn) error {
		rows, err := c.x.QueryContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE `+where+` AND ended_at IS NULL RETURNING id`,
			append([]any{us(now), reason}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

func (q *conn) TouchSessions(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	return q.atomic(ctx, func(c *conn) error {
		for id, t := range seen {
			if _, err := c.x.ExecContext(ctx, `UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?`, us(t), id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (q *conn) SetSessionAssurance(ctx context.Context, id string, aal session.Assurance, authTime time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE sessions SET aal = ?, auth_time = ? WHERE id = ? AND ended_at IS NULL`, int(aal), us(authTime), id)
	return affected(res, err)
}

func (q *conn) LowerSession(ctx context.Context, id, amr string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE sessions SET aal = ?, amr = ? WHERE id = ? AND ended_at IS NULL`, int(session.AAL1), amr, id)
	return affected(res, err)
}

func (q *conn) RaiseSession(ctx context.Context, id string, aal session.Assurance, amr string, authTime time.Time, tokenHash []byte, ip string) error {
	res, err := q.x.ExecContext(ctx, `UPDATE sessions SET aal = ?, amr = ?, auth_time = ?, token_hash = ?, ip = CASE WHEN ?6 = '' THEN ip ELSE ?6 END WHERE id = ?5 AND ended_at IS NULL`,
		int(aal), amr, us(authTime), tokenHash, id, clienttext.Clean(ip))
	return affected(res, err)
}

func (q *conn) EndSessionsOfDevice(ctx context.Context, deviceID string, now time.Time, reason string) ([]string, error) {
	return q.endSessions(ctx, `device_id = ?`, now, reason, deviceID)
}

func (q *conn) CountActiveSessions(ctx context.Context, now time.Time) (map[session.Door]int, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT interface, COUNT(*) FROM sessions WHERE ended_at IS NULL AND expires_at > ? GROUP BY interface`, us(now))
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

func scanDevice(row interface{ Scan(...any) error }) (*device.Device, error) {
	var d device.Device
	var created, seen int64
	if err := row.Scan(&d.ID, &d.UserID, &d.Interface, &d.Fingerprint, &d.Name, &d.Status, &created, &seen); err != nil {
		return nil, mapErr(err)
	}
	d.CreatedAt, d.LastSeenAt = tm(created), tm(seen)
	return &d, nil
}

func (q *conn) CreateDevice(ctx context.Context, d *device.Device) error {
	store.CleanDevice(d)
	_, err := q.x.ExecContext(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Interface, d.Fingerprint, d.Name, string(d.Status), us(d.CreatedAt), us(d.LastSeenAt))
	return mapErr(err)
}

func (q *conn) DeviceByFingerprint(ctx context.Context, userID, fingerprint string) (*device.Device, error) {
	return scanDevice(q.x.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = ? AND fingerprint = ?`, userID, fingerprint))
}

func (q *conn) DevicesOfUser(ctx context.Context, userID string) ([]*device.Device, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*device.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (q *conn) DeviceByID(ctx context.Context, id string) (*device.Device, error) {
	return scanDevice(q.x.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
}

func (q *conn) SetDeviceStatus(ctx context.Context, id string, status device.Status) error {
	res, err := q.x.ExecContext(ctx, `UPDATE devices SET status = ? WHERE id = ?`, string(status), id)
	return affected(res, err)
}

func (q *conn) TouchDevice(ctx context.Context, id string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE devices SET last_seen_at = ? WHERE id = ?`, us(now), id)
	return affected(res, err)
}
