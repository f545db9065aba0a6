package web

import (
	"errors"
	"net/http"

	"gatehouse/internal/authn"
	"gatehouse/internal/factor"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// visitor is the signed-in user of a request.
type visitor struct {
	Session *session.Session
	User    *user.User
	// Factors are the user's usable second factors, oldest first.
	Factors []*factor.Factor
	// CSRF is the token every form of this session carries.
	CSRF string
	// Keys says the portal manages API keys, for the navigation.
	Keys bool
	// Freeze says the portal serves "This wasn't me", for the menu's
	// Freeze button.
	Freeze bool
}

// NoSecondFactor reports whether the account has no usable second factor:
// its password alone protects it.
func (v *visitor) NoSecondFactor() bool { return len(v.Factors) == 0 }

// OnlyWeakFactors reports whether the account's second factors are all
// weak (SMS). With NoSecondFactor, it is when the login flow answers
// enrolment_required ([login.Result.EnrolmentRequired]): no strong factor.
func (v *visitor) OnlyWeakFactors() bool {
	for _, f := range v.Factors {
		if f.Kind.Strong() {
			return false
		}
	}
	return len(v.Factors) > 0
}

// visitor returns the signed-in user of r, from the web session cookie
// alone, or errSignedOut.
func (d *deps) visitor(r *http.Request) (*visitor, error) {
	c, err := r.Cookie(d.Cookies.Session())
	if err != nil || c.Value == "" {
		return nil, errSignedOut
	}
	// The one credential path: a desktop or mobile token sent as a cookie
	// is refused there, and a refused cookie does not count as a use.
	// A frozen user's session is let in here; signedIn keeps it to the
	// pages that unfreeze.
	// So is a completed recovery's, which signedIn keeps to enrolment.
	s, err := d.Auth.Authenticate(r.Context(), &authn.Credential{Cookie: c.Value, AllowFrozen: true, AllowRecovery: true})
	if errors.Is(err, authn.ErrUnauthenticated) {
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	u, err := d.Login.Me(r.Context(), session.Actor{Session: s})
	if err != nil {
		return nil, err
	}
	v := &visitor{Session: s, User: u, CSRF: formToken(c.Value), Keys: d.Keys != nil, Freeze: d.Freeze != nil}
	if err := d.loadFactors(r, v); err != nil {
		return nil, err
	}
	return v, nil
}

// loadFactors reads the visitor's usable factors; a handler that changed
// them calls it again, so that the page it renders (its banner) is new.
func (d *deps) loadFactors(r *http.Request, v *visitor) error {
	fs, err := d.Login.OwnFactors(r.Context(), d.actor(r, v))
	if err != nil {
		return err
	}
	v.Factors = v.Factors[:0]
	for _, f := range fs {
		if f.Usable() {
			v.Factors = append(v.Factors, f)
		}
	}
	return nil
}

// signedInFunc is a handler for a signed-in visitor.
type signedInFunc func(w http.ResponseWriter, r *http.Request, v *visitor) error

// signedIn makes a handler that finds the visitor first and, for any
// method but GET and HEAD, checks the form's token before h runs: no
// state-changing route can forget it.
//
// A frozen user's visitor reaches only the routes registered through
// frozenOK; every other page sends it to the unfreeze page, and every
// other form is refused as frozen.
func signedIn(d *deps, h signedInFunc) handlerFunc { return signedInAs(d, h, false) }

// frozenOK is signedIn for the routes a frozen user's session may reach:
// unfreezing, stepping up for it, signing out.
//
// A completed recovery's session reaches them too: it may sign out, and
// stepping up does not lift its limit.
func frozenOK(d *deps, h signedInFunc) handlerFunc {
	return signedInWith(d, h, reach{frozen: true, recovery: true})
}

func signedInAs(d *deps, h signedInFunc, frozen bool) handlerFunc {
	return signedInWith(d, h, reach{frozen: frozen})
}

// reach says which limited sessions a route lets in besides full ones: a
// frozen user's, a completed recovery's ([session.Session.RecoveryOnly]).
type reach struct{ frozen, recovery bool }

func signedInWith(d *deps, h signedInFunc, can reach) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := d.visitor(r)
		if err != nil {
			return err
		}
		if v.Session.RecoveryOnly() && !can.recovery {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/factors", http.StatusSeeOther)
				return nil
			}
			return authn.ErrRecoveryOnly
		}
		frozen := can.frozen
		if v.User.Frozen() && !frozen {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/unfreeze", http.StatusSeeOther)
				return nil
			}
			return authn.ErrFrozen
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := parseForm(w, r); err != nil {
				return err
			}
			if !sameToken(v.CSRF, r.PostForm.Get(csrfField)) {
				return errForgedForm()
			}
		}
		return h(w, r, v)
	}
}
