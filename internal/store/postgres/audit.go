package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
)

const auditCols = `seq, time, type, user_id, actor, interface, ip, detail, prev_hash, hash`

func scanEvent(row scanner) (*audit.Event, error) {
	var e audit.Event
	var t time.Time
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

// AppendAudit holds the audit lock from reading the head to commit, so
// appends from every instance form one chain: the next appender reads the
// head only after this one's row is committed (READ COMMITTED takes a new
// snapshot for each statement).
func (q *conn) AppendAudit(ctx context.Context, e *audit.Event) error {
	store.CleanEvent(e)
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	return q.atomic(ctx, func(c *conn) error {
		head := c.head
		if head == nil {
			if err := lock(ctx, c.x, lockAudit, q.db.lockKey); err != nil {
				return err
			}
			var h audit.Event
			err := c.x.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
			switch {
			case err == nil:
				head = &h
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		audit.Seal(head, e)
		if err := c.insert(ctx, `INSERT INTO audit (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.Seq, ts(e.Time), e.Type, e.UserID, e.Actor, e.Interface, e.IP, string(detail), e.PrevHash, e.Hash); err != nil {
			return err
		}
		c.head = &audit.Event{Seq: e.Seq, Hash: e.Hash}
		return nil
	})
}

func (q *conn) AuditEvents(ctx context.Context) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		// Pages keep memory flat on a long chain, and hold no connection
		// while the caller works on an event.
		var after int64
		for {
			rows, err := q.x.Query(ctx, `SELECT `+auditCols+` FROM audit WHERE seq > $1 ORDER BY seq LIMIT 1000`, after)
			page, err := collect(rows, err, scanEvent)
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
	rows, err := q.x.Query(ctx, `SELECT `+auditCols+` FROM audit WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, userID, before, limit)
	return collect(rows, err, scanEvent)
}

// Reserve makes sure the key's row exists, then locks it (FOR UPDATE)
// until commit: concurrent reservations of one key, from any instance,
// take turns, and each decides on the state the one before it stored.
func (q *conn) Reserve(ctx context.Context, key string, decide func(throttle.State) (throttle.State, bool)) (throttle.State, bool, error) {
	key = store.CleanThrottleKey(key)
	var out throttle.State
	var ok bool
	err := q.atomic(ctx, func(c *conn) error {
		var zero time.Time
		tag, err := c.x.Exec(ctx, `INSERT INTO throttles (key, failures, next_at, last_at) VALUES ($1, 0, $2, $2) ON CONFLICT (key) DO NOTHING`, key, ts(zero))
		if err != nil {
			return err
		}
		created := tag.RowsAffected() == 1
		s := throttle.State{Key: key}
		var next, last time.Time
		err = c.x.QueryRow(ctx, `SELECT failures, next_at, last_at FROM throttles WHERE key = $1 FOR UPDATE`, key).Scan(&s.Failures, &next, &last)
		// No row: a ResetThrottle deleted it between the two statements;
		// decide on the zero state, as for a new key.
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		s.NextAt, s.LastAt = tm(next), tm(last)
		out, ok = decide(s)
		if !ok {
			if created { // store nothing, as store/sqlite does
				_, err := c.x.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
				return err
			}
			return nil
		}
		_, err = c.x.Exec(ctx, `INSERT INTO throttles (key, failures, next_at, last_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, next_at = excluded.next_at, last_at = excluded.last_at`,
			key, out.Failures, ts(out.NextAt), ts(out.LastAt))
		return err
	})
	return out, ok, err
}

func (q *conn) ResetThrottle(ctx context.Context, key string) error {
	key = store.CleanThrottleKey(key)
	_, err := q.x.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

// AuditHead implements [store.Audit].
func (q *conn) AuditHead(ctx context.Context) (*audit.Event, error) {
	e, err := scanEvent(q.x.QueryRow(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	return e, mapErr(err)
}
