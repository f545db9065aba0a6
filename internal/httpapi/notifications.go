package httpapi

import (
	"context"
	"net/http"
	"strconv"
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

// maxSentNotices caps GET /v1/notifications: the newest are what a user
// checks; the audit trail keeps the rest.
const maxSentNotices = 100

func handleSentNotices(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		limit := 50
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxSentNotices {
				return errBadRequest("", FieldError{"limit", "a number from 1 to " + strconv.Itoa(maxSentNotices)})
			}
			limit = n
		}
		sent, err := d.login.SentNotices(r.Context(), a, limit)
		if err != nil {
			return err
		}
		out := struct {
			Notifications []sentView `json:"notifications"`
		}{Notifications: []sentView{}}
		for _, n := range sent {
			v := sentView{ID: n.ID, Event: n.Event, Channel: n.Channel, State: n.State, Attempts: n.Attempts, CreatedAt: n.CreatedAt}
			if !n.DeliveredAt.IsZero() {
				v.DeliveredAt = &n.DeliveredAt
			}
			out.Notifications = append(out.Notifications, v)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
