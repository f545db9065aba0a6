package web

import (
	"net/http"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/edge"
	"gatehouse/internal/factor"
	"gatehouse/internal/flow"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
)

// Step-up: an action that needs a fresh or stronger proof (removing a
// factor, approving a device, a live trading key) answers with the
// step-up page instead of refusing outright. Its form raises the session
// with an authenticator code; its button, with a security key, through
// the API's POST /v1/stepup. Either way the session's token is replaced
// (login.Service.Step), so the cookie is set again, the form token
// changes with it, and the visitor repeats the action from a fresh page.

// stepUpData is the step-up page's content.
type stepUpData struct {
	// Need is the assurance the action asks for.
	Need session.Assurance
	// Reason names the action, for the heading's explanation.
	Reason string
	// Back is where the visitor returns once confirmed (see validBack).
	Back string
	// TOTP and Key say which of the visitor's factors can answer.
	TOTP, Key bool
	Error     string
}

// backPages are the pages a step-up may return to.
var backPages = map[string]bool{"/": true, "/factors": true, "/devices": true, "/keys": true, "/sessions": true, "/password": true, "/unfreeze": true}

// validBack returns back when it is a page of the portal a step-up may
// return to, else "/": the parameter comes from the client, and an open
// redirect would send a just-confirmed visitor anywhere.
func validBack(back string) string {
	if backPages[back] {
		return back
	}
	// The new-key form of an account: a step-up brings its owner back to it.
	if rest, ok := strings.CutPrefix(back, "/keys/"); ok {
		if id, ok := strings.CutSuffix(rest, "/new"); ok && account.ValidID(id) && id != "." && id != ".." {
			return back
		}
	}
	return "/"
}

// stepUp renders the step-up page for an action that needs need.
func (d *deps) stepUp(w http.ResponseWriter, r *http.Request, v *visitor, status int, need session.Assurance, reason, back, errMsg string) error {
	data := stepUpData{Need: max(need, session.AAL2), Reason: reason, Back: validBack(back), Error: errMsg}
	kinds, err := d.offeredKinds(r.Context(), &flow.Flow{UserID: v.User.ID, Door: session.Web})
	if err != nil {
		return err
	}
	for _, k := range kinds {
		switch k {
		case factor.TOTP:
			data.TOTP = data.Need <= session.AAL2
		case factor.WebAuthn:
			for _, f := range v.Factors {
				if f.Kind == factor.WebAuthn && f.Assurance() >= data.Need {
					data.Key = true
				}
			}
		}
	}
	p := page{Title: "Confirm it is you", Nav: "", V: v, CSRF: v.CSRF, Data: data}
	if data.Key {
		p.Scripts = []string{"webauthn.js"}
	}
	return render(w, status, "stepup", p)
}

func handleStepUpForm(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		need := session.AAL2
		if r.URL.Query().Get("need") == "3" {
			need = session.AAL3
		}
		return d.stepUp(w, r, v, http.StatusOK, need, "", r.URL.Query().Get("back"), "")
	}
}

// handleStepUp raises the session with an authenticator code.
func handleStepUp(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		back := validBack(r.PostForm.Get("back"))
		code := formCode(r, true)
		if code == "" {
			return d.stepUp(w, r, v, http.StatusUnprocessableEntity, session.AAL2, "", back, msgCodeMissing)
		}
		res, err := d.Login.Step(r.Context(), v.Session, login.StepUp{Factor: factor.TOTP, Code: code, IP: edge.ClientAddr(r, d.Proxies).String()})
		if err != nil {
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return d.stepUp(w, r, v, status, session.AAL2, "", back, msg)
		}
		// The old token is void: this instance forgets it at once, and the
		// browser gets the new one.
		d.Auth.Sessions.Forget(v.Session.ID)
		d.Cookies.Set(w, d.Cookies.Session(), res.Token, res.Session.ExpiresAt.Sub(d.now()))
		http.Redirect(w, r, back+"?done=confirmed", http.StatusSeeOther)
		return nil
	}
}
