package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/user"
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

// NoticeRate is where one user stands under the per-user notice limit
// ([notice.Limit]).
type NoticeRate struct {
	State notice.RateState
	// Summary is the id of the outbox message that tells the notices held
	// back in State's window, due when the window ends; "" while none is.
	Summary string
}

// NoticeRates persists each user's [NoticeRate]. It decides nothing: the
// rule is [notice.Limit], which the notice deriver applies.
type NoticeRates interface {
	// NoticeRateOf returns userID's place under the limit, the zero one
	// for a user with none stored. In a transaction it holds that place
	// until the transaction ends, so that the notices of one user are
	// counted one after the other, on every instance.
	NoticeRateOf(ctx context.Context, userID string) (*NoticeRate, error)
	// NoticeFacts reads what a notice to userID needs, in one round trip
	// where the backend can: the user (nil when there is no such user),
	// their factors, and their place under the limit, held as
	// NoticeRateOf holds it.
	NoticeFacts(ctx context.Context, userID string) (*user.User, []*factor.Factor, *NoticeRate, error)
	// SetNoticeRate stores r as userID's place; ErrNotFound for a user
	// that does not exist.
	SetNoticeRate(ctx context.Context, userID string, r *NoticeRate) error
}

// EncodeNoticeRate returns r's state as the backends store it (JSON).
func EncodeNoticeRate(r *NoticeRate) ([]byte, error) { return json.Marshal(r.State) }

// DecodeNoticeRate reads what [EncodeNoticeRate] stored, given the
// backend's (mapped) error reading it: ErrNotFound is the zero rate of a
// user with none stored.
func DecodeNoticeRate(state []byte, summary string, err error) (*NoticeRate, error) {
	if errors.Is(err, ErrNotFound) {
		return &NoticeRate{}, nil
	} else if err != nil {
		return nil, err
	}
	r := &NoticeRate{Summary: summary}
	if err := json.Unmarshal(state, &r.State); err != nil {
		return nil, fmt.Errorf("store: stored notice rate: %w", err)
	}
	r.State.Start = r.State.Start.UTC()
	return r, nil
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
