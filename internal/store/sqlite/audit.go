package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"iter"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

const auditCols = `seq, time, type, user_id, actor, interface, ip, detail, prev_hash, hash`

func scanEvent(row interface{ Scan(...any) error }) (*audit.Event, error) {
	var e audit.Event
	var t int64
	var detail string
	if err := row.Scan(&e.Seq, &t, &e.Type, &e.UserID, &e.Actor, &e.Interface, &e.IP, &detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, mapErr(err)
	}
	e.Time = tm(t)
	if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
		return nil, err
	}
	return &e, nil
}

func (q *conn) AppendAudit(ctx context.Context, e *audit.Event) error {
	store.CleanEvent(e)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	return q.atomic(ctx, func(c *conn) error {
		head := c.head
		if head == nil {
			var h audit.Event
			err := c.x.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
			switch {
			case err == nil:
				head = &h
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		audit.Seal(head, e)
		if _, err := c.x.ExecContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, us(e.Time), e.Type, e.UserID, e.Actor, e.Interface, e.IP, string(detail), e.PrevHash, e.Hash); err != nil {
			return mapErr(err)
		}
		c.head = &audit.Event{Seq: e.Seq, Hash: e.Hash}
		return nil
	})
}

func (q *conn) AuditEvents(ctx context.Context) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		// Pages keep memory flat on a long chain.
		var after int64
		for {
			rows, err := q.x.QueryContext(ctx, `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT 1000`, after)
			if err != nil {
				yield(nil, err)
				return
			}
			var page []*audit.Event
			for rows.Next() {
				e, err := scanEvent(rows)
				if err != nil {
					rows.Close()
					yield(nil, err)
					return
				}
				page = append(page, e)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) < 1000 {
				return
			}
			after = page[len(page)-1].Seq
		}
	}
}

func (q *conn) AuditOfUser(ctx context.Context, userID string, before int64, limit int) ([]*audit.Event, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := q.x.QueryContext(ctx, `SELECT `+auditCols+` FROM audit WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, userID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*audit.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (q *conn) Reserve(ctx context.Context, key string, decide func(throttle.State) (throttle.State, bool)) (throttle.State, bool, error) {
	key = store.CleanThrottleKey(key)
	var out throttle.State
	var ok bool
	err := q.atomic(ctx, func(c *conn) error {
		s := throttle.State{Key: key}
		var next, last int64
		err := c.x.QueryRowContext(ctx, `SELECT failures, next_at, last_at FROM throttles WHERE key = ?`, key).Scan(&s.Failures, &next, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		s.NextAt, s.LastAt = tm(next), tm(last)
		out, ok = decide(s)
		if !ok {
			return nil
		}
		_, err = c.x.ExecContext(ctx, `INSERT INTO throttles (key, failures, next_at, last_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, next_at = excluded.next_at, last_at = excluded.last_at`,
			key, out.Failures, us(out.NextAt), us(out.LastAt))
		return err
	})
	return out, ok, err
}

func (q *conn) ResetThrottle(ctx context.Context, key string) error {
	key = store.CleanThrottleKey(key)
	_, err := q.x.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return err
}

// AuditHead implements [store.Audit].
func (q *conn) AuditHead(ctx context.Context) (*audit.Event, error) {
	e, err := scanEvent(q.x.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	return e, mapErr(err)
}
