package sqlite

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

func (q *conn) NoticeSettingsOf(ctx context.Context, userID string) (*store.NoticeSettings, error) {
	var prefs []byte
	var updated int64
	var out store.NoticeSettings
	err := q.x.QueryRowContext(ctx, `SELECT preferences, phrase, updated_at FROM notice_settings WHERE user_id = ?`, userID).Scan(&prefs, &out.Phrase, &updated)
	if err := mapErr(err); err == store.ErrNotFound {
		return &store.NoticeSettings{}, nil
	} else if err != nil {
		return nil, err
	}
	if out.Preferences, err = store.DecodePreferences(prefs); err != nil {
		return nil, err
	}
	out.UpdatedAt = tm(updated)
	return &out, nil
}

func (q *conn) SetNoticePreferences(ctx context.Context, userID string, p notice.Preferences, now time.Time) error {
	b, err := store.EncodePreferences(p)
	if err != nil {
		return err
	}
	_, err = q.x.ExecContext(ctx, `INSERT INTO notice_settings (user_id, preferences, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET preferences = excluded.preferences, updated_at = excluded.updated_at`, userID, string(b), us(now))
	return mapErr(err)
}

func (q *conn) SetNoticePhrase(ctx context.Context, userID, phrase string, now time.Time) error {
	if err := store.CheckPhrase(phrase); err != nil {
		return err
	}
	_, err := q.x.ExecContext(ctx, `INSERT INTO notice_settings (user_id, phrase, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET phrase = excluded.phrase, updated_at = excluded.updated_at`, userID, phrase, us(now))
	return mapErr(err)
}

// NoticeRateOf implements [store.NoticeRates]. Transactions are immediate
// (see OpenFile): the one that reads holds the write lock already.
func (q *conn) NoticeRateOf(ctx context.Context, userID string) (*store.NoticeRate, error) {
	var state, summary string
	err := q.x.QueryRowContext(ctx, `SELECT state, summary FROM notice_rates WHERE user_id = ?`, userID).Scan(&state, &summary)
	return store.DecodeNoticeRate([]byte(state), summary, mapErr(err))
}

func (q *conn) SetNoticeRate(ctx context.Context, userID string, r *store.NoticeRate) error {
	b, err := store.EncodeNoticeRate(r)
	if err != nil {
		return err
	}
	_, err = q.x.ExecContext(ctx, `INSERT INTO notice_rates (user_id, state, summary) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, summary = excluded.summary`, userID, string(b), r.Summary)
	return mapErr(err)
}

// NoticeFacts reads one after the other: in SQLite a read is a call into
// the library, not a round trip.
func (q *conn) NoticeFacts(ctx context.Context, userID string) (*user.User, []*factor.Factor, *store.NoticeRate, error) {
	u, err := q.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	fs, err := q.FactorsOfUser(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := q.NoticeRateOf(ctx, userID)
	return u, fs, r, err
}
