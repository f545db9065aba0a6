package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/httpapi"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// loginData is the sign-in page's content.
type loginData struct {
	Username string // echoed after a failure; the password never is
	Error    string
}

// The sign-in page's messages. A wrong password and an unknown user get
// the same one, in the same time (login.Service sees to the timing).
const (
	msgBadCredentials = "The username or password is wrong."
	msgMissing        = "Enter your username and your password."
	msgFormExpired    = "The sign-in form expired. Enter your username and password again."
	msgAssurance      = "Your account must sign in here with a second factor, and it has none that this door accepts. Sign in from the desktop or phone app, or ask your operator."
	msgSecondStep     = "Your password was right, but your account needs a second step (a second factor, or approving this new device) that this portal cannot ask for yet. Sign in from the desktop or phone app."
)

// throttledMessage says how long to wait, in seconds as the server
// counts them, so a locked-out trader knows what happens next.
func throttledMessage(secs int) string {
	s := fmt.Sprintf("Too many failed attempts. Wait %d seconds, then try again.", secs)
	if secs >= 120 {
		s = fmt.Sprintf("Too many failed attempts. Wait %d seconds (about %d minutes), then try again.", secs, (secs+30)/60)
	}
	return s
}

// loginSecret returns the sign-in cookie's value, setting a new one when
// the request has none. It keys the sign-in form's token.
func (d *deps) loginSecret(w http.ResponseWriter, r *http.Request) (string, error) {
	name := loginCookie(d.Auth.Cookies)
	if c, err := r.Cookie(name); err == nil && len(c.Value) >= 43 && len(c.Value) <= 128 {
		return c.Value, nil
	}
	v, err := token.New(d.Rand, 32)
	if err != nil {
		return "", err
	}
	setCookie(w, d.Auth.Cookies, name, v, 0)
	return v, nil
}

func handleLoginForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := d.visitor(r); err == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		} else if !errors.Is(err, errSignedOut) {
			return err
		}
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		return render(w, http.StatusOK, "login", page{Title: "Sign in", CSRF: formToken(secret), Notice: notice(r), Data: loginData{}})
	}
}

func handleLogin(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		// The token check reads the cookie before loginSecret may replace it.
		c, cerr := r.Cookie(loginCookie(d.Auth.Cookies))
		tokenOK := cerr == nil && sameToken(formToken(c.Value), r.PostForm.Get(csrfField))
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		data := loginData{Username: r.PostForm.Get("username")}
		again := func(status int, msg string) error {
			data.Error = msg
			return render(w, status, "login", page{Title: "Sign in", CSRF: formToken(secret), Data: data})
		}
		if !tokenOK {
			return again(http.StatusForbidden, msgFormExpired)
		}
		pw := r.PostForm.Get("password")
		if data.Username == "" || pw == "" {
			return again(http.StatusUnprocessableEntity, msgMissing)
		}
		if !printable(data.Username, 256) || len(pw) > 1024 {
			data.Username = ""
			return again(http.StatusUnprocessableEntity, msgBadCredentials)
		}
		req := login.Request{Username: data.Username, Password: pw, Interface: session.Web, DeviceName: browserName(r.UserAgent()),
			IP: httpapi.ClientAddr(r, d.Proxies), UserAgent: r.UserAgent()}
		if c, err := r.Cookie(d.Auth.Cookies.Device()); err == nil && len(c.Value) <= 128 {
			req.DeviceCookie = c.Value
		}
		res, err := d.Login.Login(r.Context(), req)
		var te *login.ThrottledError
		var ae *login.AssuranceError
		switch {
		case errors.As(err, &te):
			secs := max(int(te.RetryAfter/time.Second), 1)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return again(http.StatusTooManyRequests, throttledMessage(secs))
		case errors.Is(err, login.ErrInvalidCredentials):
			return again(http.StatusUnprocessableEntity, msgBadCredentials)
		case errors.As(err, &ae):
			// Said only after the password was right.
			return again(http.StatusForbidden, msgAssurance)
		case err != nil:
			return err
		}
		// A new device is remembered even while it waits for approval, so
		// that once approved this browser is known.
		if res.DeviceCookie != "" {
			setCookie(w, d.Auth.Cookies, d.Auth.Cookies.Device(), res.DeviceCookie, deviceCookieAge)
		}
		if res.Session == nil {
			// A second factor or the approval of this device is due; the
			// portal has no page for those steps yet.
			return again(http.StatusConflict, msgSecondStep)
		}
		// The sign-in cookie has done its work; the session cookie is new
		// (a fresh token per login, so a planted cookie cannot be fixed).
		clearCookie(w, d.Auth.Cookies, loginCookie(d.Auth.Cookies))
		setCookie(w, d.Auth.Cookies, d.Auth.Cookies.Session(), res.Token, res.Session.ExpiresAt.Sub(d.now()))
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
}

func handleLogout(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		// Ended already (from another session, at this very moment): the
		// visitor is signed out all the same.
		if err := d.endSessions(r, v, []string{v.Session.ID}, session.EndLogout); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		clearCookie(w, d.Auth.Cookies, d.Auth.Cookies.Session())
		http.Redirect(w, r, "/login?done=signed-out", http.StatusSeeOther)
		return nil
	}
}

// printable reports whether s is valid UTF-8 of at most n bytes without
// control characters, which have no place in a username or a log line.
func printable(s string, n int) bool {
	if len(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
