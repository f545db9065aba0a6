package web

import (
	"errors"
	"fmt"
	"net/http"

	"gatehouse/internal/fault"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
)

// passwordAssurance is what a session needs to change the password, as
// the API asks on POST /v1/password: an AAL1 session (no second factor
// yet, or signed in with a recovery code) may read and enrol, but not
// change the password and so lock the owner out.
const passwordAssurance = session.AAL2

// passwordData is the password page's content.
type passwordData struct {
	MinLength int
	// Allowed says the session holds passwordAssurance; without it the
	// page explains instead of showing the form.
	Allowed bool
	Error   string
	// Field names the input the error is about, for aria-invalid.
	Field string
}

func handlePasswordForm(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return render(w, http.StatusOK, "password", page{Title: "Change password", Nav: "password", V: v, CSRF: v.CSRF,
			Data: passwordData{MinLength: d.Login.Rules.MinLength, Allowed: v.Session.Assurance >= passwordAssurance}})
	}
}

func handleChangePassword(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		f := r.PostForm
		current, next := f.Get("current"), f.Get("new")
		again := func(status int, field, msg string) error {
			return render(w, status, "password", page{Title: "Change password", Nav: "password", V: v, CSRF: v.CSRF,
				Data: passwordData{MinLength: d.Login.Rules.MinLength, Allowed: v.Session.Assurance >= passwordAssurance, Error: msg, Field: field}})
		}
		switch {
		case v.Session.Assurance < passwordAssurance:
			return again(http.StatusForbidden, "", msgPasswordAssurance)
		case current == "" || len(current) > 1024:
			return again(http.StatusUnprocessableEntity, "current", "Enter your current password.")
		case next == "" || len(next) > 1024:
			return again(http.StatusUnprocessableEntity, "new", "Enter a new password.")
		case next != f.Get("confirm"):
			return again(http.StatusUnprocessableEntity, "confirm", "The new password and its confirmation differ. Type them again.")
		}
		ended, err := d.Login.ChangePassword(r.Context(), v.Session, current, next)
		if err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			field := "current"
			switch fault.Of(err) {
			case fault.InvalidCredentials:
				msg = "The current password is wrong."
			case fault.WeakPassword:
				field = "new"
			case fault.Unavailable:
				field = ""
			}
			return again(status, field, msg)
		}
		d.Auth.Sessions.Forget(ended...)
		// Keys the ended sessions minted outlive them: show them, where
		// the visitor can revoke them.
		review, err := d.keysToReview(r, v)
		if err != nil {
			return err
		}
		if len(review) > 0 {
			http.Redirect(w, r, "/sessions?done=password", http.StatusSeeOther)
			return nil
		}
		http.Redirect(w, r, "/?done=password", http.StatusSeeOther)
		return nil
	}
}

// msgPasswordAssurance says why an AAL1 session may not change the password.
const msgPasswordAssurance = "Changing the password needs a sign-in confirmed with a second factor, and this session was signed in without one."

// weakPasswordMessage says why a new password was refused and what to do.
func weakPasswordMessage(err error, rules password.Rules) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return fmt.Sprintf("The new password is too short: use at least %d characters. A few unrelated words make a strong one.", rules.MinLength)
	case errors.Is(err, password.ErrTooLong):
		return fmt.Sprintf("The new password is too long: use at most %d characters.", rules.MaxLength)
	case errors.Is(err, password.ErrCommon):
		return "The new password is on a list of common passwords, which attackers try first. Choose another."
	case errors.Is(err, password.ErrContext):
		return "The new password contains your username. Choose another."
	}
	return "The new password cannot be used. Choose another."
}
