package web

import (
	"net/http"
	"time"

	"gatehouse/internal/session"
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
	own, err := d.Auth.Sessions.Own(r.Context(), d.actor(r, v))
	if err != nil {
		return nil, err
	}
	rows := []sessionRow{viewSession(v.Session, true)}
	for _, s := range own {
		if s.ID != v.Session.ID {
			rows = append(rows, viewSession(s, false))
		}
	}
	return rows, nil
}

func viewSession(s *session.Session, current bool) sessionRow {
	return sessionRow{ID: s.ID, Door: doorName(string(s.Door)), Device: s.DeviceName, IP: s.IP, Client: s.UserAgent,
		Assurance: s.Assurance, Started: s.CreatedAt, LastSeen: s.LastSeenAt, Current: current}
}

type sessionsData struct {
	Sessions []sessionRow
	// Review lists the visitor's keys minted by sessions later ended as
	// untrusted: they outlived those sessions, and may be a thief's.
	Review []reviewKey
}

// reviewKey is a key the sessions page asks the visitor to look at.
type reviewKey struct {
	ID, Account, Name, Environment, Scopes string
	Created                                time.Time
}

// keysToReview returns the visitor's usable keys minted by sessions that
// were later ended as untrusted (revoked, or by a password change).
func (d *deps) keysToReview(r *http.Request, v *visitor) ([]reviewKey, error) {
	if d.Keys == nil {
		return nil, nil
	}
	keys, err := d.Keys.MintedByEndedSessions(r.Context(), d.actor(r, v))
	if err != nil {
		return nil, err
	}
	var out []reviewKey
	for _, k := range keys {
		out = append(out, reviewKey{ID: k.ID, Account: k.AccountID, Name: k.Name, Environment: string(k.Environment), Scopes: k.Scopes.String(), Created: k.CreatedAt})
	}
	return out, nil
}

func handleSessions(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		rows, err := d.activeSessions(r, v)
		if err != nil {
			return err
		}
		review, err := d.keysToReview(r, v)
		if err != nil {
			return err
		}
		return render(w, http.StatusOK, "sessions", page{Title: "Sessions", Nav: "sessions", V: v, CSRF: v.CSRF, Notice: notice(r),
			Data: sessionsData{Sessions: rows, Review: review}})
	}
}

func handleEndSession(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if r.PathValue("id") == v.Session.ID {
			return handleLogout(d)(w, r, v)
		}
		if err := d.Auth.Sessions.End(r.Context(), d.actor(r, v), r.PathValue("id")); err != nil {
			return err // not the caller's, or ended: not found
		}
		http.Redirect(w, r, "/sessions?done=ended", http.StatusSeeOther)
		return nil
	}
}

func handleEndOtherSessions(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if _, err := d.Auth.Sessions.EndOthers(r.Context(), d.actor(r, v)); err != nil {
			return err
		}
		http.Redirect(w, r, "/sessions?done=ended-others", http.StatusSeeOther)
		return nil
	}
}
