package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gatehouse/internal/notice"
)

// NoticeSettings is what a user chose of their notices.
type NoticeSettings struct {
	// Preferences are the channels the user chose per event; nil when
	// they never chose, so that every event goes by its default.
	Preferences notice.Preferences
	// Phrase is the user's anti-phishing phrase, "" for none. It is shown
	// at the top of every mail; it is never logged, and the API never
	// reads it back (see [notice.CleanPhrase]).
	Phrase string
	// UpdatedAt is when either last changed; zero when never.
	UpdatedAt time.Time
}

// Notices persists each user's notice settings. It decides nothing: the
// rules are [notice.Preferences.Validate] and [notice.CleanPhrase], which
// the flows apply and the backends apply again before they store, so
// that nothing those rules refuse is ever stored.
type Notices interface {
	// NoticeSettingsOf returns the settings of userID: the zero settings
	// for a user who never chose (or no such user).
	NoticeSettingsOf(ctx context.Context, userID string) (*NoticeSettings, error)
	// SetNoticePreferences replaces the user's preferences, keeping the
	// phrase. A p that Validate refuses is refused with its error, a
	// user that does not exist with ErrNotFound.
	SetNoticePreferences(ctx context.Context, userID string, p notice.Preferences, now time.Time) error
	// SetNoticePhrase replaces the user's phrase ("" clears it), keeping
	// the preferences. A phrase other than CleanPhrase returns is refused
	// with [notice.ErrPhrase], a user that does not exist with ErrNotFound.
	SetNoticePhrase(ctx context.Context, userID, phrase string, now time.Time) error
}

// EncodePreferences checks p and returns it as the backends store it: a
// JSON object of event types to channel lists, "{}" for none.
func EncodePreferences(p notice.Preferences) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make(map[notice.Event][]notice.Channel, len(p))
	for e, cs := range p {
		if cs == nil {
			cs = []notice.Channel{} // switched off, not "null"
		}
		out[e] = cs
	}
	return json.Marshal(out)
}

// DecodePreferences reads what [EncodePreferences] stored; nil for none.
func DecodePreferences(b []byte) (notice.Preferences, error) {
	var p notice.Preferences
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("store: stored notice preferences: %w", err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	for e, cs := range p {
		if cs == nil {
			p[e] = []notice.Channel{}
		}
	}
	return p, nil
}

// CheckPhrase returns nil for a phrase as [notice.CleanPhrase] returns
// it, and [notice.ErrPhrase] for anything else.
func CheckPhrase(phrase string) error {
	clean, err := notice.CleanPhrase(phrase)
	if err != nil {
		return err
	}
	if clean != phrase {
		return notice.ErrPhrase
	}
	return nil
}
