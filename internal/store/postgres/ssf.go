package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

func (q *conn) StreamByID(ctx context.Context, id string) (*store.Stream, error) {
	var s store.Stream
	var events []byte
	var verified, updated time.Time
	err := q.x.QueryRow(ctx, `SELECT id, events_requested, description, status, reason, verified_at, updated_at FROM ssf_streams WHERE id = $1`, id).
		Scan(&s.ID, &events, &s.Description, &s.Status, &s.Reason, &verified, &updated)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal(events, &s.EventsRequested); err != nil {
		return nil, fmt.Errorf("postgres: stream %s: events_requested: %w", id, err)
	}
	s.VerifiedAt, s.UpdatedAt = tm(verified), tm(updated)
	return &s, nil
}

func (q *conn) PutStream(ctx context.Context, s *store.Stream) error {
	store.CleanStream(s)
	ev := s.EventsRequested
	if ev == nil {
		ev = []string{}
	}
	events, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return q.write(ctx, `INSERT INTO ssf_streams (id, events_requested, description, status, reason, verified_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET events_requested = excluded.events_requested, description = excluded.description, status = excluded.status,
			reason = excluded.reason, verified_at = excluded.verified_at, updated_at = excluded.updated_at`,
		s.ID, string(events), s.Description, s.Status, s.Reason, ts(s.VerifiedAt), ts(s.UpdatedAt))
}

func (q *conn) HoldSET(ctx context.Context, h *store.HeldSET) error {
	return q.write(ctx, `INSERT INTO ssf_held (stream_id, jti, event, claims, created_at) VALUES ($1, $2, $3, $4, $5)`,
		h.StreamID, h.JTI, h.Event, h.Claims, ts(h.CreatedAt))
}

func (q *conn) HeldSETs(ctx context.Context, streamID string, limit int) ([]*store.HeldSET, error) {
	rows, err := q.x.Query(ctx, `SELECT stream_id, jti, event, claims, created_at FROM ssf_held WHERE stream_id = $1 ORDER BY created_at, jti LIMIT $2`, streamID, limit)
	return collect(rows, err, func(r scanner) (*store.HeldSET, error) {
		var h store.HeldSET
		var created time.Time
		if err := r.Scan(&h.StreamID, &h.JTI, &h.Event, &h.Claims, &created); err != nil {
			return nil, err
		}
		h.CreatedAt = tm(created)
		return &h, nil
	})
}

func (q *conn) DropSETs(ctx context.Context, streamID string, jtis []string) (int, error) {
	if len(jtis) == 0 {
		return 0, nil
	}
	if !validText([]any{streamID}) {
		return 0, nil
	}
	valid := jtis[:0:0]
	for _, j := range jtis {
		if validText([]any{j}) {
			valid = append(valid, j)
		}
	}
	tag, err := q.x.Exec(ctx, `DELETE FROM ssf_held WHERE stream_id = $1 AND jti = ANY($2)`, streamID, valid)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}
