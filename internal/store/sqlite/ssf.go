package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gatehouse/internal/store"
)

func (q *conn) StreamByID(ctx context.Context, id string) (*store.Stream, error) {
	var s store.Stream
	var events string
	var verified, updated int64
	err := q.x.QueryRowContext(ctx, `SELECT id, events_requested, description, status, reason, verified_at, updated_at FROM ssf_streams WHERE id = ?`, id).
		Scan(&s.ID, &events, &s.Description, &s.Status, &s.Reason, &verified, &updated)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(events), &s.EventsRequested); err != nil {
		return nil, fmt.Errorf("sqlite: stream %s: events_requested: %w", id, err)
	}
	s.VerifiedAt, s.UpdatedAt = tm(verified), tm(updated)
	return &s, nil
}

func (q *conn) PutStream(ctx context.Context, s *store.Stream) error {
	store.CleanStream(s)
	events, err := json.Marshal(nonNil(s.EventsRequested))
	if err != nil {
		return err
	}
	_, err = q.x.ExecContext(ctx, `INSERT INTO ssf_streams (id, events_requested, description, status, reason, verified_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET events_requested = excluded.events_requested, description = excluded.description, status = excluded.status,
			reason = excluded.reason, verified_at = excluded.verified_at, updated_at = excluded.updated_at`,
		s.ID, string(events), s.Description, s.Status, s.Reason, us(s.VerifiedAt), us(s.UpdatedAt))
	return mapErr(err)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (q *conn) HoldSET(ctx context.Context, h *store.HeldSET) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO ssf_held (stream_id, jti, event, claims, created_at) VALUES (?, ?, ?, ?, ?)`,
		h.StreamID, h.JTI, h.Event, h.Claims, us(h.CreatedAt))
	return mapErr(err)
}

func (q *conn) HeldSETs(ctx context.Context, streamID string, limit int) ([]*store.HeldSET, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT stream_id, jti, event, claims, created_at FROM ssf_held WHERE stream_id = ? ORDER BY created_at, jti LIMIT ?`, streamID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.HeldSET
	for rows.Next() {
		var h store.HeldSET
		var created int64
		if err := rows.Scan(&h.StreamID, &h.JTI, &h.Event, &h.Claims, &created); err != nil {
			return nil, err
		}
		h.CreatedAt = tm(created)
		out = append(out, &h)
	}
	return out, rows.Err()
}

func (q *conn) DropSETs(ctx context.Context, streamID string, jtis []string) (int, error) {
	if len(jtis) == 0 {
		return 0, nil
	}
	args := []any{streamID}
	for _, j := range jtis {
		args = append(args, j)
	}
	res, err := q.x.ExecContext(ctx, `DELETE FROM ssf_held WHERE stream_id = ? AND jti IN (?`+strings.Repeat(", ?", len(jtis)-1)+`)`, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
