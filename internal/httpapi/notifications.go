package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/login"
	"gatehouse/internal/notice"
)

// noticeRoutes serve the caller's notices: what was sent, the channels
// per event, the anti-phishing phrase.
func noticeRoutes(rt router, sd sessionDeps) {
	rt.handle("GET /v1/notifications", handleSentNotices(sd))
	rt.handle("GET /v1/notifications/preferences", handleNoticePreferences(sd))
	rt.handle("PUT /v1/notifications/preferences", handleSetNoticePreferences(sd))
	rt.handle("PUT /v1/notifications/phrase", handleSetNoticePhrase(sd))
}

// noticeSpecView is one event of the catalogue, as GET
// /v1/notifications/preferences lists it.
type noticeSpecView struct {
	Event    notice.Event     `json:"event"`
	Critical bool             `json:"critical"`
	Default  []notice.Channel `json:"default"`
}

// preferencesView is the caller's settings: under events, the channels
// every event goes by (a body PUT takes back as it is), and whether a
// phrase is set; never the phrase.
type preferencesView struct {
	Events    map[notice.Event][]notice.Channel `json:"events"`
	Catalogue []noticeSpecView                  `json:"catalogue"`
	PhraseSet bool                              `json:"phrase_set"`
	UpdatedAt *time.Time                        `json:"updated_at,omitempty"`
}

func viewPreferences(st login.NoticeSettings) preferencesView {
	out := preferencesView{Events: map[notice.Event][]notice.Channel{}, Catalogue: []noticeSpecView{}, PhraseSet: st.PhraseSet}
	for _, sp := range notice.Catalogue() {
		cs := st.Preferences.Channels(sp.Event)
		if cs == nil {
			cs = []notice.Channel{}
		}
		out.Events[sp.Event] = cs
		out.Catalogue = append(out.Catalogue, noticeSpecView{Event: sp.Event, Critical: sp.Critical, Default: append([]notice.Channel{}, sp.Default...)})
	}
	if !st.UpdatedAt.IsZero() {
		out.UpdatedAt = &st.UpdatedAt
	}
	return out
}

func handleNoticePreferences(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		st, err := d.login.OwnNoticeSettings(r.Context(), a)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, viewPreferences(st))
	}
}

// preferencesRequest replaces the caller's preferences: events maps
// event types to the channels each goes by, [] switching one off; an
// event left out goes by its default.
type preferencesRequest struct {
	Events map[notice.Event][]notice.Channel `json:"events"`
}

// Valid checks the form of the body; the rules (known channels, the
// critical events kept on) are the flow's, which names every event at
// fault. An unknown event is refused here, without echoing its name.
func (b preferencesRequest) Valid(context.Context) []FieldError {
	if b.Events == nil {
		return []FieldError{{"events", "required: an object of event types to lists of channels"}}
	}
	var errs []FieldError
	unknown := false
	for e, cs := range b.Events {
		if _, ok := notice.Lookup(e); !ok {
			unknown = true
			continue
		}
		if cs == nil {
			errs = append(errs, FieldError{"events." + string(e), "a list of channels; [] switches the event off"})
		}
	}
	if unknown {
		errs = append(errs, FieldError{"events", "known event types only (see GET /v1/notifications/preferences)"})
	}
	return errs
}

func handleSetNoticePreferences(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		body, err := decode[preferencesRequest](w, r)
		if err != nil {
			return err
		}
		st, err := d.login.SetNoticePreferences(r.Context(), a, notice.Preferences(body.Events))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, viewPreferences(st))
	}
}

// phraseRequest sets the anti-phishing phrase; "" clears it. The field
// is required, so that an empty body clears nothing.
type phraseRequest struct {
	Phrase *string `json:"phrase"`
}

func (b phraseRequest) Valid(context.Context) []FieldError {
	if b.Phrase == nil {
		return []FieldError{{"phrase", `required: the phrase, or "" to clear it`}}
	}
	return nil
}

func handleSetNoticePhrase(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		body, err := decode[phraseRequest](w, r)
		if err != nil {
			return err
		}
		if err := d.login.SetNoticePhrase(r.Context(), a, *body.Phrase); err != nil {
			return err
		}
		st, err := d.login.OwnNoticeSettings(r.Context(), a)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]bool{"phrase_set": st.PhraseSet})
	}
}

// sentView is one notice sent to the caller: never its receiver's
// address, its content or a delivery's error.
type sentView struct {
	ID          string         `json:"id"`
	Event       notice.Event   `json:"event"`
	Channel     notice.Channel `json:"channel"`
	State       string         `json:"state"`
	Attempts    int            `json:"attempts"`
	CreatedAt   time.Time      `json:"created_at"`
	DeliveredAt *time.Time     `json:"delivered_at,omitempty"`
}

// maxSentNotices caps a page of GET /v1/notifications.
const maxSentNotices = 100

// sentCursor is the opaque place of the next page of GET
// /v1/notifications: the base64url (no padding) of "v1", the last listed
// message's creation time in Unix microseconds and its id, joined by
// dots. It carries no secret and grants nothing: every page is of the
// caller's own notices. Anything else is refused with a 400 naming
// cursor, without echoing it.
func sentCursor(n login.SentNotice) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1." + strconv.FormatInt(n.CreatedAt.UnixMicro(), 10) + "." + n.ID))
}

// maxCursor bounds a cursor's length: what sentCursor makes is far less.
const maxCursor = 128

// messageIDPattern is what an outbox message id looks like.
var messageIDPattern = regexp.MustCompile(`^msg_[A-Za-z0-9_-]{1,64}$`)

// parseSentCursor returns the place a cursor names: the creation time
// and id of the last notice of the page before.
func parseSentCursor(c string) (time.Time, string, bool) {
	if len(c) > maxCursor {
		return time.Time{}, "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 || parts[0] != "v1" || !messageIDPattern.MatchString(parts[2]) {
		return time.Time{}, "", false
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	// From 2000 to 9999: any place a message can have, and no overflow.
	if err != nil || us < 946684800000000 || us > 253402300799000000 || parts[1] != strconv.FormatInt(us, 10) {
		return time.Time{}, "", false
	}
	return time.UnixMicro(us).UTC(), parts[2], true
}

// sentQuery reads the query of GET /v1/notifications; each bad parameter
// is named, none echoed.
func sentQuery(q url.Values) (login.SentFilter, error) {
	f := login.SentFilter{Limit: 50}
	var errs []FieldError
	for k, vs := range q {
		switch k {
		case "limit", "cursor", "event", "channel", "state":
			if len(vs) > 1 {
				errs = append(errs, FieldError{k, "given once"})
			}
		default:
			errs = append(errs, FieldError{"query", "known parameters only: limit, cursor, event, channel, state"})
		}
	}
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSentNotices || v != strconv.Itoa(n) {
			errs = append(errs, FieldError{"limit", "a number from 1 to " + strconv.Itoa(maxSentNotices)})
		}
		f.Limit = n
	}
	if q.Has("cursor") {
		at, id, ok := parseSentCursor(q.Get("cursor"))
		if !ok {
			errs = append(errs, FieldError{"cursor", "the next_cursor of a previous page, as it was given"})
		}
		f.AfterTime, f.AfterID = at, id
	}
	if v := q.Get("event"); q.Has("event") {
		if _, ok := notice.Lookup(notice.Event(v)); !ok {
			errs = append(errs, FieldError{"event", "a known event type (see GET /v1/notifications/preferences)"})
		}
		f.Event = notice.Event(v)
	}
	if v := q.Get("channel"); q.Has("channel") {
		if !slices.Contains(notice.Channels(), notice.Channel(v)) {
			errs = append(errs, FieldError{"channel", "mail, push or webhook"})
		}
		f.Channel = notice.Channel(v)
	}
	if v := q.Get("state"); q.Has("state") {
		if !slices.Contains(login.SentStates, v) {
			errs = append(errs, FieldError{"state", "pending, delivered or failed"})
		}
		f.State = v
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
		return f, errBadRequest("", slices.Compact(errs)...)
	}
	return f, nil
}

func handleSentNotices(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		f, err := sentQuery(r.URL.Query())
		if err != nil {
			return err
		}
		sent, more, err := d.login.SentNotices(r.Context(), a, f)
		if err != nil {
			return err
		}
		out := struct {
			Notifications []sentView `json:"notifications"`
			NextCursor    string     `json:"next_cursor,omitempty"`
		}{Notifications: []sentView{}}
		for _, n := range sent {
			v := sentView{ID: n.ID, Event: n.Event, Channel: n.Channel, State: n.State, Attempts: n.Attempts, CreatedAt: n.CreatedAt}
			if !n.DeliveredAt.IsZero() {
				v.DeliveredAt = &n.DeliveredAt
			}
			out.Notifications = append(out.Notifications, v)
		}
		if more && len(sent) > 0 {
			out.NextCursor = sentCursor(sent[len(sent)-1])
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
