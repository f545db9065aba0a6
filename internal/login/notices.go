package login

import (
	"context"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/notice"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// NoticeSettings is what a user sees of their own notice settings. It
// says whether a phrase is set, never the phrase: someone holding a
// stolen session must not learn what makes a forged mail look real.
type NoticeSettings struct {
	// Preferences are the user's choices; nil when they never chose.
	// [notice.Preferences.Channels] gives what each event goes by.
	Preferences notice.Preferences
	PhraseSet   bool
	// UpdatedAt is when the settings last changed; zero when never.
	UpdatedAt time.Time
}

// OwnNoticeSettings returns the actor's notice settings.
func (s *Service) OwnNoticeSettings(ctx context.Context, a session.Actor) (NoticeSettings, error) {
	if a.Operator() {
		return NoticeSettings{}, errNoActor
	}
	st, err := s.Store.NoticeSettingsOf(ctx, a.Session.UserID)
	if err != nil {
		return NoticeSettings{}, err
	}
	return viewNoticeSettings(st), nil
}

func viewNoticeSettings(st *store.NoticeSettings) NoticeSettings {
	return NoticeSettings{Preferences: st.Preferences, PhraseSet: st.Phrase != "", UpdatedAt: st.UpdatedAt}
}

// SetNoticePreferences replaces the actor's preferences with p: an event
// p does not name goes by its default. A p that
// [notice.Preferences.Validate] refuses is refused whole, naming every
// bad event, and nothing changes; a critical event switched off is
// refused, never quietly kept on. A choice equal to the event's default
// is not stored, so the event follows its default.
//
// The change and its audit event (notice.preferences_changed, with the
// events whose channels differ) commit in one transaction; when no
// event's channels differ, nothing is written.
func (s *Service) SetNoticePreferences(ctx context.Context, a session.Actor, p notice.Preferences) (NoticeSettings, error) {
	if a.Operator() {
		return NoticeSettings{}, errNoActor
	}
	if err := p.Validate(); err != nil {
		return NoticeSettings{}, err
	}
	p = trimDefaults(p)
	now := s.now()
	var out NoticeSettings
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		st, err := tx.NoticeSettingsOf(ctx, a.Session.UserID)
		if err != nil {
			return err
		}
		changed := changedEvents(st.Preferences, p)
		if len(changed) == 0 {
			out = viewNoticeSettings(st)
			return nil
		}
		if err := tx.SetNoticePreferences(ctx, a.Session.UserID, p, now); err != nil {
			return err
		}
		st.Preferences, st.UpdatedAt = p, now
		out = viewNoticeSettings(st)
		return tx.AppendAudit(ctx, actorEvent(a, now, audit.NoticePreferences, "changed", strings.Join(changed, ",")))
	})
	return out, err
}

// SetNoticePhrase sets the actor's anti-phishing phrase, or clears it
// for "" (see [notice.CleanPhrase], whose [notice.ErrPhrase] it returns
// for a phrase that cannot be used). The change and its audit event
// (notice.phrase_changed; the event says whether a phrase is set, never
// which) commit in one transaction; the same phrase again writes nothing.
func (s *Service) SetNoticePhrase(ctx context.Context, a session.Actor, phrase string) error {
	if a.Operator() {
		return errNoActor
	}
	phrase, err := notice.CleanPhrase(phrase)
	if err != nil {
		return err
	}
	now := s.now()
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		st, err := tx.NoticeSettingsOf(ctx, a.Session.UserID)
		if err != nil {
			return err
		}
		if st.Phrase == phrase {
			return nil
		}
		if err := tx.SetNoticePhrase(ctx, a.Session.UserID, phrase, now); err != nil {
			return err
		}
		set := "false"
		if phrase != "" {
			set = "true"
		}
		return tx.AppendAudit(ctx, actorEvent(a, now, audit.NoticePhrase, "set", set))
	})
}

// actorEvent is an event the actor caused about their own user, on
// their door and from the request's address; kv are detail key, value
// pairs.
func actorEvent(a session.Actor, now time.Time, typ string, kv ...string) *audit.Event {
	ip := a.IP
	if ip == "" {
		ip = a.Session.IP
	}
	return &audit.Event{Time: now, Type: typ, UserID: a.Session.UserID, Actor: a.ID(), Interface: a.Door(), IP: ip, Detail: details(kv)}
}

// trimDefaults returns p without the choices equal to their event's
// default, each remaining list in [notice.Channels] order; nil when none
// remains. p must be valid.
func trimDefaults(p notice.Preferences) notice.Preferences {
	var out notice.Preferences
	for e := range p {
		chosen := notice.Preferences{e: p[e]}.Channels(e)
		if slices.Equal(chosen, notice.Preferences(nil).Channels(e)) {
			continue
		}
		if out == nil {
			out = notice.Preferences{}
		}
		if chosen == nil {
			chosen = []notice.Channel{}
		}
		out[e] = chosen
	}
	return out
}

// changedEvents returns, in catalogue order, the events whose channels
// differ between preferences was and now.
func changedEvents(was, now notice.Preferences) []string {
	var out []string
	for _, sp := range notice.Catalogue() {
		if !slices.Equal(was.Channels(sp.Event), now.Channels(sp.Event)) {
			out = append(out, string(sp.Event))
		}
	}
	return out
}

// SentNotice is one notice to the user on one channel, as its user may
// see it: what, by which way, and how its delivery went; never its
// receiver's address, its content or a delivery's error.
type SentNotice struct {
	ID      string
	Event   notice.Event
	Channel notice.Channel
	// State is pending (not yet delivered, perhaps retrying), delivered,
	// or failed (given up after too many attempts).
	State       string
	Attempts    int
	CreatedAt   time.Time
	DeliveredAt time.Time // zero until delivered
}

// SentStates are the states of a sent notice, as [SentNotice.State] and
// [SentFilter.State] name them.
var SentStates = []string{store.MessagePending, store.MessageDelivered, store.MessageFailed}

// SentFilter selects the notices [Service.SentNotices] returns.
type SentFilter struct {
	// Event, Channel and State select one of each; "" selects all.
	Event   notice.Event
	Channel notice.Channel
	State   string
	// AfterTime and AfterID are the place of the last notice of the page
	// before (its CreatedAt and ID); zero for the first page.
	AfterTime time.Time
	AfterID   string
	// Limit bounds the page; 0 means 50.
	Limit int
}

// SentNotices returns a page of the notices written to the actor by
// mail, push or webhook that f selects, newest first, and whether more
// come after it. The Shared Signals sent about the user go to other
// services, not to the user, and are never listed.
func (s *Service) SentNotices(ctx context.Context, a session.Actor, f SentFilter) (sent []SentNotice, more bool, err error) {
	if a.Operator() {
		return nil, false, errNoActor
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var channels []string
	for _, c := range notice.Channels() {
		if f.Channel == "" || f.Channel == c {
			channels = append(channels, string(c))
		}
	}
	if len(channels) == 0 {
		return []SentNotice{}, false, nil // no such channel: none of its notices
	}
	ms, err := s.Store.ListMessages(ctx, store.MessageFilter{UserID: a.Session.UserID, Channels: channels, Event: string(f.Event), State: f.State,
		After: store.MessagePlace{CreatedAt: f.AfterTime, ID: f.AfterID}, Limit: limit + 1})
	if err != nil {
		return nil, false, err
	}
	if len(ms) > limit {
		ms, more = ms[:limit], true
	}
	out := []SentNotice{}
	for _, m := range ms {
		out = append(out, SentNotice{ID: m.ID, Event: notice.Event(m.Event), Channel: notice.Channel(m.Channel), State: m.State, Attempts: m.Attempts,
			CreatedAt: m.CreatedAt, DeliveredAt: m.DeliveredAt})
	}
	return out, more, nil
}
