package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
	"gatehouse/internal/freeze"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
)

// sessionDeps is what the session-management handlers share.
type sessionDeps struct {
	auth  *Authenticator
	login *login.Service
	// keys offers, after sessions end, the keys they minted; nil offers
	// none.
	keys *authz.Keys
	// freeze tells GET /v1/me of a freeze; nil says nothing.
	freeze *freeze.Service
	// proxies are the trusted reverse proxies, for client addresses.
	proxies []netip.Prefix
	now     func() time.Time
}

type meResponse struct {
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Email    string `json:"email"`
		Profile  string `json:"profile"`
	} `json:"user"`
	Session   sessionView `json:"session"`
	Assurance string      `json:"assurance"`
	// Frozen is set while the user is frozen.
	Frozen *meFrozen `json:"frozen,omitempty"`
	// CooldownUntil (RFC 3339) and CooldownReason are set while a
	// cool-down runs: risky actions wait until then.
	CooldownUntil  string `json:"cooldown_until,omitempty"`
	CooldownReason string `json:"cooldown_reason,omitempty"`
}

func handleMe(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.frozenActor(r)
		if err != nil {
			return err
		}
		s := a.Session
		u, err := d.login.Me(r.Context(), a)
		if err != nil {
			return err
		}
		var out meResponse
		out.User.ID, out.User.Username, out.User.Email, out.User.Profile = u.ID, u.Username, u.Email, string(u.Profile)
		out.Session = viewSession(s, s.ID)
		out.Assurance = s.Assurance.String()
		if u.CoolingDown(d.now()) {
			out.CooldownUntil, out.CooldownReason = u.CooldownUntil.UTC().Format(time.RFC3339), u.CooldownReason
		}
		if u.Frozen() && d.freeze != nil {
			st, err := d.freeze.Status(r.Context(), a)
			if err != nil {
				return err
			}
			out.Frozen = viewFrozen(st)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

// actor is the session behind a request, as the flows see it.
// keysToReview lists the keys a minted from sessions later ended as
// untrusted: after "end all sessions" or a password change, the keys a
// thief holding one of those sessions could have made. Always a list,
// possibly empty.
func (d sessionDeps) keysToReview(ctx context.Context, a session.Actor) ([]keyView, error) {
	out := []keyView{}
	if d.keys == nil {
		return out, nil
	}
	keys, err := d.keys.MintedByEndedSessions(ctx, a)
	if err != nil {
		return nil, err
	}
	now := d.now()
	for _, k := range keys {
		out = append(out, viewKey(k, now))
	}
	return out, nil
}

func (d sessionDeps) actor(r *http.Request) (session.Actor, error) {
	s, err := d.auth.Session(r)
	if err != nil {
		return session.Actor{}, err
	}
	return session.Actor{Session: s, IP: edge.ClientAddr(r, d.proxies).String()}, nil
}

// recoveryActor is actor, accepting a completed recovery's session: for
// the routes that serve its enrolment.
func (d sessionDeps) recoveryActor(r *http.Request) (session.Actor, error) {
	s, err := d.auth.RecoverySession(r)
	if err != nil {
		return session.Actor{}, err
	}
	return session.Actor{Session: s, IP: edge.ClientAddr(r, d.proxies).String()}, nil
}

// frozenActor is actor, accepting a frozen user's session: for the
// routes such a session may reach.
func (d sessionDeps) frozenActor(r *http.Request) (session.Actor, error) {
	s, err := d.auth.FrozenSession(r)
	if err != nil {
		return session.Actor{}, err
	}
	return session.Actor{Session: s, IP: edge.ClientAddr(r, d.proxies).String()}, nil
}

func handleListSessions(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		own, err := d.auth.Sessions.Own(r.Context(), a)
		if err != nil {
			return err
		}
		out := struct {
			Sessions []sessionView `json:"sessions"`
		}{Sessions: []sessionView{}}
		for _, x := range own {
			out.Sessions = append(out.Sessions, viewSession(x, a.Session.ID))
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func handleDeleteSession(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		if err := d.auth.Sessions.End(r.Context(), a, r.PathValue("id")); err != nil {
			return err // not the caller's, or ended: not found
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func handleDeleteSessions(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		if r.URL.Query().Get("others") != "true" {
			return errBadRequest("Say ?others=true to end every session but this one; end this one with POST /v1/logout.")
		}
		n, err := d.auth.Sessions.EndOthers(r.Context(), a)
		if err != nil {
			return err
		}
		review, err := d.keysToReview(r.Context(), a)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"ended": n, "keys_to_review": review})
	}
}

func handleLogout(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.frozenActor(r)
		if err != nil {
			return err
		}
		if err := d.auth.Sessions.Logout(r.Context(), a); err != nil {
			return err
		}
		if a.Session.Door == session.Web {
			d.auth.Cookies.Clear(w, d.auth.Cookies.Session())
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

func (b passwordRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.Current == "" || len(b.Current) > 1024 {
		errs = append(errs, FieldError{"current", "required; at most 1024 bytes"})
	}
	if b.New == "" || len(b.New) > 1024 {
		errs = append(errs, FieldError{"new", "required; at most 1024 bytes"})
	}
	return errs
}

func handlePassword(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		body, err := decode[passwordRequest](w, r)
		if err != nil {
			return err
		}
		ended, err := svc.ChangePassword(r.Context(), s, body.Current, body.New)
		if err != nil {
			return err
		}
		d.auth.Sessions.Forget(ended...)
		review, err := d.keysToReview(r.Context(), session.Actor{Session: s})
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": "changed", "sessions_ended": len(ended), "keys_to_review": review})
	}
}

type eventView struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	Interface string            `json:"interface,omitempty"`
	IP        string            `json:"ip,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

func handleAudit(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		limit, before := 50, int64(0)
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 200 {
				return errBadRequest("", FieldError{"limit", "a number from 1 to 200"})
			}
			limit = n
		}
		if v := q.Get("before"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return errBadRequest("", FieldError{"before", "a positive event sequence number"})
			}
			before = n
		}
		events, err := d.login.Trail(r.Context(), a, before, limit)
		if err != nil {
			return err
		}
		out := struct {
			Events []eventView `json:"events"`
			Next   int64       `json:"next,omitempty"`
		}{Events: []eventView{}}
		for _, e := range events {
			out.Events = append(out.Events, eventView{Seq: e.Seq, Time: e.Time, Type: e.Type, Interface: e.Interface, IP: e.IP, Detail: e.Detail})
		}
		if len(events) == limit {
			out.Next = events[len(events)-1].Seq
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
