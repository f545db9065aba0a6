package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"gatehouse/internal/edge"
	"gatehouse/internal/freeze"
	"gatehouse/internal/session"
)

// freezeRoutes registers "This wasn't me" and its undoing.
func freezeRoutes(rt router, sd sessionDeps) {
	if rt.d.Freeze == nil {
		return
	}
	fd := freezeDeps{sessionDeps: sd, svc: rt.d.Freeze}
	rt.handle("POST /v1/freeze", handleFreeze(fd))
	rt.handle("POST /v1/unfreeze", handleUnfreeze(fd))
}

type freezeDeps struct {
	sessionDeps
	svc *freeze.Service
}

// freezeRequest is the body of POST /v1/freeze from a notice's link; a
// request from a session sends none.
type freezeRequest struct {
	Token string `json:"token"`
}

func (b freezeRequest) Valid(context.Context) []FieldError {
	if !freeze.ValidToken(b.Token) {
		return []FieldError{{"token", "the token of a freeze link: 43 characters of A-Z, a-z, 0-9, - and _"}}
	}
	return nil
}

// errFreezeLink answers a link that cannot freeze, in words its reader
// can act on.
func errFreezeLink(err error) *Error {
	e := kindError(freeze.ErrLink.Kind(), err)
	e.Problem.Detail = "This freeze link is unknown, used already or expired, and nothing was changed. " +
		"To freeze the account, sign in and press Freeze, or use the link of a newer notice."
	return e
}

type frozenView struct {
	Status        string    `json:"status"`
	Since         time.Time `json:"since"`
	SessionsEnded int       `json:"sessions_ended"`
	KeysSuspended int       `json:"keys_suspended"`
}

// handleFreeze freezes the caller's user: from a session (no body, no
// step-up: it only takes power away), or with {"token"} from a notice's
// link, no session needed. The caller's own session ends with the others.
func handleFreeze(d freezeDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var f *freeze.Frozen
		if r.ContentLength != 0 {
			body, err := decode[freezeRequest](w, r)
			if err != nil {
				return err
			}
			f, err = d.svc.FreezeByLink(r.Context(), body.Token, edge.ClientAddr(r, d.proxies).String())
			if errors.Is(err, freeze.ErrLink) {
				return errFreezeLink(err)
			}
			if err != nil {
				return err
			}
		} else {
			a, err := d.frozenActor(r)
			if err != nil {
				return err
			}
			if f, err = d.svc.Freeze(r.Context(), a, a.Session.UserID); err != nil {
				return err
			}
			if a.Session.Door == session.Web {
				d.auth.Cookies.Clear(w, d.auth.Cookies.Session())
			}
		}
		return writeJSON(w, http.StatusOK, frozenView{Status: "frozen", Since: f.At, SessionsEnded: len(f.Sessions), KeysSuspended: len(f.Keys)})
	}
}

type unfreezeRequest struct {
	New string `json:"new"`
}

func (b unfreezeRequest) Valid(context.Context) []FieldError {
	if b.New == "" || len(b.New) > 1024 {
		return []FieldError{{"new", "required: the new password; at most 1024 bytes"}}
	}
	return nil
}

// handleUnfreeze lifts the caller's freeze with a new password, once the
// session holds the user's strongest factor, fresh.
func handleUnfreeze(d freezeDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.frozenActor(r)
		if err != nil {
			return err
		}
		body, err := decode[unfreezeRequest](w, r)
		if err != nil {
			return err
		}
		u, err := d.svc.Unfreeze(r.Context(), a, a.Session.UserID, body.New)
		if err != nil {
			return err
		}
		review, err := d.keysToReview(r.Context(), a)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": "unfrozen", "keys_restored": len(u.Keys), "sessions_ended": len(u.Sessions),
			"keys_to_review": review})
	}
}

// meFrozen is what GET /v1/me says of a frozen user: since when, and
// what to do next.
type meFrozen struct {
	Since             time.Time `json:"since"`
	By                string    `json:"by"`
	RequiredAssurance string    `json:"required_assurance"`
	MaxAge            int       `json:"max_age"`
	Next              string    `json:"next"`
}

func viewFrozen(st *freeze.Status) *meFrozen {
	next := "Prove " + st.Need.String() + " with POST /v1/stepup, then send a new password to POST /v1/unfreeze within " + st.Within.String() + "."
	if st.Fresh {
		next = "Send a new password to POST /v1/unfreeze within " + st.Within.String() + " of your last proof."
	}
	return &meFrozen{Since: st.At, By: st.Source(), RequiredAssurance: st.Need.String(), MaxAge: int(st.Within.Seconds()), Next: next}
}
