package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	note "gatehouse/internal/notice" // "notice" is the page confirmation of render.go
)

// noticesData is the notifications page: the channels of every event,
// whether a phrase is set (never the phrase), and what was sent lately.
type noticesData struct {
	Rows      []noticeRow
	PhraseSet bool
	Sent      []sentRow
	// Error is what went wrong with the form Field names ("events" or
	// "phrase"), shown above it.
	Error, Field string
}

// noticeRow is one event with a checkbox per channel.
type noticeRow struct {
	Event    note.Event
	Subject  string
	Critical bool
	Cells    []noticeCell
}

// noticeCell is one channel of one event. A locked cell is a default
// channel of a critical event: shown checked and disabled, and sent by a
// hidden field, so the form always keeps it and the page says why.
type noticeCell struct {
	ID, Name   string
	Channel    note.Channel
	On, Locked bool
}

// sentRow is one notice sent, as the page lists it.
type sentRow struct {
	Subject, Event, Channel, State string
	Created, Delivered             time.Time
}

// recentNotices is how many notices the page lists.
const recentNotices = 20

// channelName is how the portal names a channel.
func channelName(c note.Channel) string {
	switch c {
	case note.Mail:
		return "Mail"
	case note.Push:
		return "Phone"
	case note.Webhook:
		return "Webhook"
	}
	return string(c)
}

// deliveryState says how a notice's delivery went, for people.
func deliveryState(state string, attempts int) string {
	switch {
	case state == "delivered":
		return "Delivered"
	case state == "failed":
		return "Not delivered"
	case attempts > 1:
		return "Retrying"
	}
	return "Waiting to be sent"
}

func (d *deps) noticesPage(w http.ResponseWriter, r *http.Request, v *visitor, status int, field, msg string) error {
	a := d.actor(r, v)
	st, err := d.Login.OwnNoticeSettings(r.Context(), a)
	if err != nil {
		return err
	}
	sent, _, err := d.Login.SentNotices(r.Context(), a, login.SentFilter{Limit: recentNotices})
	if err != nil {
		return err
	}
	data := noticesData{PhraseSet: st.PhraseSet, Error: msg, Field: field}
	for _, sp := range note.Catalogue() {
		row := noticeRow{Event: sp.Event, Subject: sp.Subject, Critical: sp.Critical}
		on := st.Preferences.Channels(sp.Event)
		for _, c := range note.Channels() {
			locked := sp.Critical && contains(sp.Default, c)
			row.Cells = append(row.Cells, noticeCell{ID: "n-" + string(sp.Event) + "-" + string(c), Name: channelName(c), Channel: c,
				On: contains(on, c), Locked: locked})
		}
		data.Rows = append(data.Rows, row)
	}
	for _, n := range sent {
		sp, _ := note.Lookup(n.Event)
		subject := sp.Subject
		if subject == "" {
			subject = string(n.Event)
		}
		data.Sent = append(data.Sent, sentRow{Subject: subject, Event: string(n.Event), Channel: channelName(n.Channel),
			State: deliveryState(n.State, n.Attempts), Created: n.CreatedAt, Delivered: n.DeliveredAt})
	}
	return render(w, status, "notifications", page{Title: "Notifications", Nav: "notifications", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data})
}

func contains(cs []note.Channel, c note.Channel) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func handleNotices(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return d.noticesPage(w, r, v, http.StatusOK, "", "")
	}
}

// handleSaveNoticePreferences stores the checkboxes. The form names each
// event it shows in an "events" field, so an event whose boxes are all
// unchecked is switched off rather than sent back to its default.
func handleSaveNoticePreferences(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		f := r.PostForm
		events := f["events"]
		if len(events) > len(note.Catalogue()) {
			return d.noticesPage(w, r, v, http.StatusUnprocessableEntity, "events", msgBadPreferences)
		}
		p := note.Preferences{}
		for _, e := range events {
			if _, ok := note.Lookup(note.Event(e)); !ok {
				return d.noticesPage(w, r, v, http.StatusUnprocessableEntity, "events", msgBadPreferences)
			}
			cs := []note.Channel{}
			for _, c := range f["c."+e] {
				if !contains(cs, note.Channel(c)) { // a locked box sent twice, by its hidden field and a forged one
					cs = append(cs, note.Channel(c))
				}
			}
			p[note.Event(e)] = cs
		}
		if _, err := d.Login.SetNoticePreferences(r.Context(), d.actor(r, v), p); err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			if fault.Of(err) == fault.Invalid {
				msg = msgBadPreferences
				if errors.Is(err, note.ErrCritical) {
					msg = msgCriticalNotice
				}
			}
			return d.noticesPage(w, r, v, status, "events", msg)
		}
		http.Redirect(w, r, "/notifications?done=notices-saved", http.StatusSeeOther)
		return nil
	}
}

// handleSaveNoticePhrase sets the phrase, or clears it for the form's
// "clear" action. An empty phrase is not taken as clearing: that needs
// its own button.
func handleSaveNoticePhrase(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		phrase, done := r.PostForm.Get("phrase"), "phrase-saved"
		if r.PostForm.Get("action") == "clear" {
			phrase, done = "", "phrase-cleared"
		} else if strings.TrimSpace(phrase) == "" {
			return d.noticesPage(w, r, v, http.StatusUnprocessableEntity, "phrase", msgBadPhrase)
		}
		if err := d.Login.SetNoticePhrase(r.Context(), d.actor(r, v), phrase); err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return d.noticesPage(w, r, v, status, "phrase", msg)
		}
		http.Redirect(w, r, "/notifications?done="+done, http.StatusSeeOther)
		return nil
	}
}

// The notifications page's messages.
const (
	msgBadPhrase      = "Choose a phrase of 3 to 64 letters, digits, punctuation or spaces, on one line."
	msgBadPreferences = "That choice of notices cannot be used. Reload the page and choose again."
	msgCriticalNotice = "Security notices (marked “Always on”) cannot be switched off: they are what tells you of a takeover."
)
