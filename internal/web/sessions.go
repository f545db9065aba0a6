package web

import (
	"errors"
	"net/http"
	"time"

	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

// sessionRow is one session as the sessions page shows it. It never
// holds the token.
type sessionRow struct {
	ID        string
	Door      string // interface, for people: "Browser", "Desktop app"…
	Device    string
	IP        string
	Client    string // the user agent
	Assurance session.Assurance
	Started   time.Time
	LastSeen  time.Time
	Current   bool
}

// activeSessions returns the visitor's live sessions, the current one
// first, then newest first.
func (d *deps) activeSessions(r *http.Request, v *visitor) ([]sessionRow, error) {
	all, err := d.Store.SessionsOfUser(r.Context(), v.User.ID)
	if err != nil {
		return nil, err
	}
	now := d.now()
	rows := []sessionRow{viewSession(v.Session, true)} // the resolver knows a fresher last-seen
	for _, s := range all {
		if s.ID != v.Session.ID && s.Active(now) {
			rows = append(rows, viewSession(s, false))
		}
	}
	return rows, nil
}

func viewSession(s *session.Session, current bool) sessionRow {
	return sessionRow{ID: s.ID, Door: doorName(string(s.Interface)), Device: s.DeviceName, IP: s.IP, Client: s.UserAgent,
		Assurance: s.Assurance, Started: s.CreatedAt, LastSeen: s.LastSeenAt, Current: current}
}

type sessionsData struct {
	Sessions []sessionRow
}

func handleSessions(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		rows, err := d.activeSessions(r, v)
		if err != nil {
			return err
		}
		return render(w, http.StatusOK, "sessions", page{Title: "Sessions", Nav: "sessions", V: v, CSRF: v.CSRF, Notice: notice(r),
			Data: sessionsData{Sessions: rows}})
	}
}

func handleEndSession(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		target, err := d.Store.SessionByID(r.Context(), r.PathValue("id"))
		// Another user's session answers like one that does not exist.
		if errors.Is(err, store.ErrNotFound) || (err == nil && (target.UserID != v.User.ID || !target.EndedAt.IsZero())) {
			return errNotFound()
		}
		if err != nil {
			return err
		}
		if target.ID == v.Session.ID {
			return handleLogout(d)(w, r, v)
		}
		if err := d.endSessions(r, v, []string{target.ID}, session.EndRevoked); err != nil {
			return err
		}
		http.Redirect(w, r, "/sessions?done=ended", http.StatusSeeOther)
		return nil
	}
}

func handleEndOtherSessions(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		all, err := d.Store.SessionsOfUser(r.Context(), v.User.ID)
		if err != nil {
			return err
		}
		var ids []string
		for _, s := range all {
			if s.ID != v.Session.ID {
				ids = append(ids, s.ID)
			}
		}
		if err := d.endSessions(r, v, ids, session.EndRevoked); err != nil {
			return err
		}
		http.Redirect(w, r, "/sessions?done=ended-others", http.StatusSeeOther)
		return nil
	}
}

// endSessions ends sessions of the visitor's user through the login
// service, which writes each one's audit event in the same transaction
// (the API's DELETE /v1/sessions does the same), then drops them from the
// resolver's cache so that this instance refuses them from their next
// request on; other instances do within the cache's age bound, or at once
// where the store notifies.
func (d *deps) endSessions(r *http.Request, v *visitor, ids []string, reason string) error {
	err := d.Login.EndSessions(r.Context(), v.Session, ids, reason)
	d.Auth.Sessions.Forget(ids...)
	return err
}
