package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

func (q *conn) NoticeSettingsOf(ctx context.Context, userID string) (*store.NoticeSettings, error) {
	var prefs string
	var updated time.Time
	var out store.NoticeSettings
	err := q.x.QueryRow(ctx, `SELECT preferences, phrase, updated_at FROM notice_settings WHERE user_id = $1`, userID).Scan(&prefs, &out.Phrase, &updated)
	if err := mapErr(err); err == store.ErrNotFound {
		return &store.NoticeSettings{}, nil
	} else if err != nil {
		return nil, err
	}
	if out.Preferences, err = store.DecodePreferences([]byte(prefs)); err != nil {
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
	return q.write(ctx, `INSERT INTO notice_settings (user_id, preferences, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET preferences = excluded.preferences, updated_at = excluded.updated_at`, userID, string(b), ts(now))
}

func (q *conn) SetNoticePhrase(ctx context.Context, userID, phrase string, now time.Time) error {
	if err := store.CheckPhrase(phrase); err != nil {
		return err
	}
	return q.write(ctx, `INSERT INTO notice_settings (user_id, phrase, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET phrase = excluded.phrase, updated_at = excluded.updated_at`, userID, phrase, ts(now))
}

// NoticeRateOf implements [store.NoticeRates]. In a transaction it first
// makes sure the user's row exists, then locks it (FOR UPDATE): a second
// transaction counting a notice of the same user waits for the first.
func (q *conn) NoticeRateOf(ctx context.Context, userID string) (*store.NoticeRate, error) {
	if !validText([]any{userID}) {
		return &store.NoticeRate{}, nil
	}
	lock := ""
	if q.tx != nil {
		// Held back to go with the read below: one round trip.
		if err := q.insert(ctx, `INSERT INTO notice_rates (user_id) SELECT id FROM users WHERE id = $1 ON CONFLICT (user_id) DO NOTHING`, userID); err != nil {
			return nil, err
		}
		lock = " FOR UPDATE"
	}
	var state, summary string
	err := q.x.QueryRow(ctx, `SELECT state, summary FROM notice_rates WHERE user_id = $1`+lock, userID).Scan(&state, &summary)
	return store.DecodeNoticeRate([]byte(state), summary, mapErr(err))
}

func (q *conn) SetNoticeRate(ctx context.Context, userID string, r *store.NoticeRate) error {
	b, err := store.EncodeNoticeRate(r)
	if err != nil {
		return err
	}
	return q.insert(ctx, `INSERT INTO notice_rates (user_id, state, summary) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, summary = excluded.summary`, userID, string(b), r.Summary)
}

// NoticeFacts sends its three reads in one batch, with what the
// transaction holds back: one round trip where three (four with the rate
// row's insert) were.
func (q *conn) NoticeFacts(ctx context.Context, userID string) (*user.User, []*factor.Factor, *store.NoticeRate, error) {
	if !validText([]any{userID}) {
		return nil, nil, &store.NoticeRate{}, nil
	}
	lock := ""
	if q.tx != nil {
		if err := q.insert(ctx, `INSERT INTO notice_rates (user_id) SELECT id FROM users WHERE id = $1 ON CONFLICT (user_id) DO NOTHING`, userID); err != nil {
			return nil, nil, nil, err
		}
		lock = " FOR UPDATE"
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+userCols+` FROM users WHERE id = $1`, userID)
	b.Queue(`SELECT `+factorCols+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
	b.Queue(`SELECT state, summary FROM notice_rates WHERE user_id = $1`+lock, userID)
	br := q.x.SendBatch(ctx, b)
	defer br.Close()
	u, err := scanUser(br.QueryRow())
	if errors.Is(err, store.ErrNotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	rows, err := br.Query()
	fs, err := collect(rows, err, scanFactor)
	if err != nil {
		return nil, nil, nil, err
	}
	var state, summary string
	err = br.QueryRow().Scan(&state, &summary)
	r, err := store.DecodeNoticeRate([]byte(state), summary, mapErr(err))
	if err != nil {
		return nil, nil, nil, err
	}
	return u, fs, r, br.Close()
}
