package web

import (
	"errors"
	"net/http"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/login"
	"gatehouse/internal/recovery"
	"gatehouse/internal/session"
)

// The lost-factor recovery's pages (docs/recovery.md): start one with the
// password, the waiting page of a request (its id in the path, which only
// the right password and the owner's channels learn), its completion into
// a session that may only enrol, and the page a notice's cancel link
// opens (a GET shows one button and changes nothing; only its POST
// cancels).

// lostData is the content of every recovery page.
type lostData struct {
	// Step is "start", "sent" (the bare answer), "wait", "cancel" (the
	// link's page) or "cancelled".
	Step     string
	Username string
	Request  *recovery.Request
	Ready    bool
	Token    string
	Error    string
	// MinLength is the password rules' shortest password.
	MinLength int
}

const (
	msgBadResetLink = "This reset link is unknown, used already or expired, and nothing was changed. Ask for a new one from the sign-in page."
	msgLostSent     = "If the username and password are right, a recovery has started: every address and device of the account is told now, every day, and a day before it completes, " +
		"and its page is open in this browser. Nothing else is said here, so that no one learns whether an account exists."
	msgBadCancelLink = "This cancel link is unknown, used already or expired, and nothing was changed. Sign in with your second factor to cancel a recovery, or use the link of a newer notice."
)

func (d *deps) lostPage(w http.ResponseWriter, status int, secret string, data lostData) error {
	title := map[string]string{"start": "Lost your second factor?", "reset": "Choose a new password", "reset-done": "Your password was changed", "reset-sent": "Reset link requested", "sent": "Recovery requested", "wait": "Your recovery is waiting",
		"cancel": "Cancel the recovery", "cancelled": "The recovery was cancelled"}[data.Step]
	return render(w, status, "lost", page{Title: title, CSRF: formToken(secret), Data: data})
}

func handleLostForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "start"})
	}
}

func handleLostStart(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
		if err != nil {
			return err
		}
		data := lostData{Step: "start", Username: r.PostForm.Get("username")}
		pw := r.PostForm.Get("password")
		switch {
		case !tokenOK:
			data.Error = msgFormExpired
			return d.lostPage(w, http.StatusForbidden, secret, data)
		case data.Username == "" || pw == "" || !clienttext.Printable(data.Username, 256) || len(pw) > 1024:
			data.Error = msgMissing
			return d.lostPage(w, http.StatusUnprocessableEntity, secret, data)
		}
		req, err := d.Login.StartRecovery(r.Context(), login.RecoveryStart{Username: data.Username, Password: pw, IP: edge.ClientAddr(r, d.Proxies), Door: session.Web})
		if err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			data.Error = msg
			return d.lostPage(w, status, secret, data)
		}
		if req == nil {
			return d.lostPage(w, http.StatusAccepted, secret, lostData{Step: "sent"})
		}
		http.Redirect(w, r, "/recovery/"+req.ID, http.StatusSeeOther)
		return nil
	}
}

func handleLostWait(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := d.Login.RecoveryByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return err // unknown: not found
		}
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "wait", Request: req, Ready: req.Ready(d.now())})
	}
}

func handleLostCancel(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		if !d.loginFormOK(r) {
			return errForgedForm()
		}
		if _, err := d.Login.CancelRecovery(r.Context(), r.PathValue("id"), "request"); err != nil {
			return err
		}
		http.Redirect(w, r, "/recovery/"+r.PathValue("id"), http.StatusSeeOther)
		return nil
	}
}

func handleLostComplete(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
		if err != nil {
			return err
		}
		req, err := d.Login.RecoveryByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		data := lostData{Step: "wait", Request: req, Ready: req.Ready(d.now())}
		if !tokenOK {
			data.Error = msgFormExpired
			return d.lostPage(w, http.StatusForbidden, secret, data)
		}
		pw, name := r.PostForm.Get("password"), r.PostForm.Get("username")
		if name == "" || pw == "" || !clienttext.Printable(name, 256) || len(pw) > 1024 {
			data.Error = msgMissing
			return d.lostPage(w, http.StatusUnprocessableEntity, secret, data)
		}
		res, err := d.Login.CompleteRecovery(r.Context(), req.ID, d.webLogin(r, name, pw))
		if err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			data.Error = msg
			return d.lostPage(w, status, secret, data)
		}
		if res.Status != "authenticated" && res.Flow != nil {
			d.Cookies.Set(w, d.Cookies.Flow(), res.FlowSecret, flowCookieAge)
		}
		return d.afterStep(w, r, res, "", 0)
	}
}

// handleCancelLinkForm is the page a notice's cancel link opens: one
// button, nothing changed.
func handleCancelLinkForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "cancel", Token: r.URL.Query().Get("token")})
	}
}

func handleCancelLink(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
		if err != nil {
			return err
		}
		if !tokenOK {
			return errForgedForm()
		}
		_, err = d.Login.CancelRecoveryByLink(r.Context(), r.PostForm.Get("token"))
		if errors.Is(err, login.ErrRecoveryLink) || fault.Of(err) == fault.Invalid {
			return d.lostPage(w, http.StatusNotFound, secret, lostData{Step: "cancel", Error: msgBadCancelLink})
		}
		if err != nil {
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "cancelled"})
	}
}

// handleResetForm is the page a reset mail's link opens: a new password
// form, nothing changed.
func handleResetForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "reset", Token: r.URL.Query().Get("token"), MinLength: d.Login.Rules.MinLength})
	}
}

func handleReset(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
		if err != nil {
			return err
		}
		if !tokenOK {
			return errForgedForm()
		}
		data := lostData{Step: "reset", Token: r.PostForm.Get("token"), MinLength: d.Login.Rules.MinLength}
		err = d.Login.ResetPassword(r.Context(), data.Token, r.PostForm.Get("new"))
		var we *login.WeakPasswordError
		switch {
		case errors.Is(err, login.ErrResetLink) || fault.Of(err) == fault.Invalid:
			data.Error, data.Token = msgBadResetLink, ""
			return d.lostPage(w, http.StatusNotFound, secret, data)
		case errors.As(err, &we):
			data.Error = we.Error()
			return d.lostPage(w, http.StatusUnprocessableEntity, secret, data)
		case err != nil:
			return err
		}
		return d.lostPage(w, http.StatusOK, secret, lostData{Step: "reset-done"})
	}
}

// handleForgot mails a reset link; the page says the same for every
// username.
func handleForgot(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
		if err != nil {
			return err
		}
		name := r.PostForm.Get("username")
		if !tokenOK {
			return d.lostPage(w, http.StatusForbidden, secret, lostData{Step: "start", Error: msgFormExpired})
		}
		if name == "" || !clienttext.Printable(name, 256) {
			return d.lostPage(w, http.StatusUnprocessableEntity, secret, lostData{Step: "start", Error: msgMissing})
		}
		if err := d.Login.RequestPasswordReset(r.Context(), name, edge.ClientAddr(r, d.Proxies)); err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return d.lostPage(w, status, secret, lostData{Step: "start", Error: msg})
		}
		return d.lostPage(w, http.StatusAccepted, secret, lostData{Step: "reset-sent"})
	}
}
