package web

import (
	"errors"
	"net/http"
	"time"

	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/freeze"
	"gatehouse/internal/session"
)

// "This wasn't me": the Freeze button of every page's menu, the page a
// notice's freeze link opens (a GET shows one button and changes nothing:
// mail scanners open links; only its POST freezes), and the unfreeze
// page, the only one a frozen user's session reaches besides step-up.

// freezeData is the content of the freeze link's page and of the page
// that says the account is frozen.
type freezeData struct {
	// Token is the link's token, carried by the button's form.
	Token string
	// Signed says the form freezes the visitor's own session's user.
	Signed bool
	Done   bool
	// Sessions and Keys are what the freeze ended and suspended.
	Sessions, Keys int
	Error          string
}

const (
	msgBadFreezeLink = "This freeze link is not complete. Open it again from the notice, or copy the whole address into the browser."
	msgUsedFreeze    = "This freeze link is unknown, used already or expired, and nothing was changed. " +
		"To freeze your account, sign in and press Freeze, or use the link of a newer notice."
)

// handleFreezeForm shows the freeze link's page, or, for a signed-in
// visitor without a link, the same button for their own account.
func handleFreezeForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := r.URL.Query().Get("token")
		if tok == "" {
			v, err := d.visitor(r)
			if err != nil {
				return err // signed out: to the sign-in page
			}
			return render(w, http.StatusOK, "freeze", page{Title: "Freeze your account", V: v, CSRF: v.CSRF, Data: freezeData{Signed: true}})
		}
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		data, status := freezeData{Token: tok}, http.StatusOK
		if !freeze.ValidToken(tok) {
			data, status = freezeData{Error: msgBadFreezeLink}, http.StatusBadRequest
		}
		return render(w, status, "freeze", page{Title: "Freeze your account", CSRF: formToken(secret), Data: data})
	}
}

// handleFreeze freezes: with the link's token, no session needed (the
// form token is the sign-in page's); without one, the visitor's own
// account, whose session ends with the others.
func handleFreeze(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		p := page{Title: "Your account is frozen"}
		var f *freeze.Frozen
		if r.PostForm.Has("token") {
			if !d.loginFormOK(r) {
				return errForgedForm()
			}
			var err error
			f, err = d.Freeze.FreezeByLink(r.Context(), r.PostForm.Get("token"), edge.ClientAddr(r, d.Proxies).String())
			switch {
			case errors.Is(err, freeze.ErrLink):
				p.Title, p.Data = "Freeze your account", freezeData{Error: msgUsedFreeze}
				return render(w, http.StatusNotFound, "freeze", p)
			case fault.Of(err) == fault.Invalid:
				p.Title, p.Data = "Freeze your account", freezeData{Error: msgBadFreezeLink}
				return render(w, http.StatusBadRequest, "freeze", p)
			case err != nil:
				return err
			}
		} else {
			v, err := d.visitor(r)
			if err != nil {
				return err
			}
			if !sameToken(v.CSRF, r.PostForm.Get(csrfField)) {
				return errForgedForm()
			}
			if f, err = d.Freeze.Freeze(r.Context(), d.actor(r, v), v.User.ID); err != nil {
				return err
			}
			d.Cookies.Clear(w, d.Cookies.Session())
		}
		p.Data = freezeData{Done: true, Sessions: len(f.Sessions), Keys: len(f.Keys)}
		return render(w, http.StatusOK, "freeze", p)
	}
}

// unfreezeData is the unfreeze page's content.
type unfreezeData struct {
	Since time.Time
	By    string
	// Need is the assurance to prove, within Within; Fresh says the
	// session holds it, so the password form is shown.
	Need      session.Assurance
	Within    time.Duration
	Fresh     bool
	MinLength int
	Error     string
	Field     string
}

func (d *deps) unfreezePage(w http.ResponseWriter, r *http.Request, v *visitor, status int, field, msg string) error {
	st, err := d.Freeze.Status(r.Context(), d.actor(r, v))
	if err != nil {
		return err
	}
	if !st.Frozen {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return render(w, status, "unfreeze", page{Title: "Unfreeze your account", Nav: "unfreeze", V: v, CSRF: v.CSRF, Notice: notice(r),
		Data: unfreezeData{Since: st.At, By: st.Source(), Need: st.Need, Within: st.Within, Fresh: st.Fresh, MinLength: d.Login.Rules.MinLength, Error: msg, Field: field}})
}

func handleUnfreezeForm(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return d.unfreezePage(w, r, v, http.StatusOK, "", "")
	}
}

func handleUnfreeze(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		next := r.PostForm.Get("new")
		switch {
		case next == "" || len(next) > 1024:
			return d.unfreezePage(w, r, v, http.StatusUnprocessableEntity, "new", "Enter a new password.")
		case next != r.PostForm.Get("confirm"):
			return d.unfreezePage(w, r, v, http.StatusUnprocessableEntity, "confirm", "The new password and its confirmation differ. Type them again.")
		}
		_, err := d.Freeze.Unfreeze(r.Context(), d.actor(r, v), v.User.ID, next)
		var se *session.StepUpError
		if errors.As(err, &se) {
			return d.stepUp(w, r, v, http.StatusForbidden, se.Need, "Unfreezing your account", "/unfreeze", "")
		}
		if err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return d.unfreezePage(w, r, v, status, "new", msg)
		}
		http.Redirect(w, r, "/?done=unfrozen", http.StatusSeeOther)
		return nil
	}
}
