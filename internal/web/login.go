package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/edge"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
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
)

// loginFailures are the reasons a sign-in in progress may send the
// visitor back to the start (/login?failed=key). They are fixed texts,
// and a denial does not say which proof failed.
var loginFailures = map[string]string{
	"expired": "Your sign-in took too long, or was finished already. Sign in again.",
	"denied":  "Your sign-in was refused: the phone said no, the number did not match, the device was refused, or there were too many wrong answers. Sign in again.",
}

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
	name := loginCookie(d.Cookies)
	if c, err := r.Cookie(name); err == nil && len(c.Value) >= 43 && len(c.Value) <= 128 {
		return c.Value, nil
	}
	v, err := token.New(d.Rand, 32)
	if err != nil {
		return "", err
	}
	d.Cookies.Set(w, name, v, 0)
	return v, nil
}

// loginFormOK reports whether a form posted before sign-in carries the
// token of the browser's sign-in cookie.
func (d *deps) loginFormOK(r *http.Request) bool {
	c, err := r.Cookie(loginCookie(d.Cookies))
	return err == nil && sameToken(formToken(c.Value), r.PostForm.Get(csrfField))
}

// signedOutForm reads a form posted before sign-in: whether it carries
// the sign-in cookie's token (read before loginSecret may replace the
// cookie), and the secret that keys the forms of the page answered.
func (d *deps) signedOutForm(w http.ResponseWriter, r *http.Request) (secret string, tokenOK bool, err error) {
	if err := parseForm(w, r); err != nil {
		return "", false, err
	}
	tokenOK = d.loginFormOK(r)
	secret, err = d.loginSecret(w, r)
	return secret, tokenOK, err
}

// webLogin is the login request of this browser with a username and a
// password: its device cookie, address and user agent.
func (d *deps) webLogin(r *http.Request, name, pw string) login.Request {
	req := login.Request{Username: name, Password: pw, Door: session.Web, DeviceName: browserName(r.UserAgent()),
		IP: edge.ClientAddr(r, d.Proxies), UserAgent: r.UserAgent()}
	if c, err := r.Cookie(d.Cookies.Device()); err == nil && len(c.Value) <= 128 {
		req.DeviceCookie = c.Value
	}
	return req
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
		d.rememberReturn(w, r)
		data := loginData{Error: loginFailures[r.URL.Query().Get("failed")]}
		return render(w, http.StatusOK, "login", page{Title: "Sign in", CSRF: formToken(secret), Notice: notice(r), Data: data})
	}
}

func handleLogin(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		secret, tokenOK, err := d.signedOutForm(w, r)
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
		if !clienttext.Printable(data.Username, 256) || len(pw) > 1024 {
			data.Username = ""
			return again(http.StatusUnprocessableEntity, msgBadCredentials)
		}
		res, err := d.Login.Login(r.Context(), d.webLogin(r, data.Username, pw))
		if err != nil {
			// A wrong password, a wait, a store to retry; an unreachable
			// assurance is said only after the password was right.
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return again(status, msg)
		}
		if res.Status != "authenticated" && res.Flow != nil {
			// The flow cookie binds the sign-in in progress to this browser:
			// the portal's pages and the API's (which the portal's scripts
			// call) both read it.
			d.Cookies.Set(w, d.Cookies.Flow(), res.FlowSecret, flowCookieAge)
		}
		return d.afterStep(w, r, res, "", 0)
	}
}

// flowCookieAge is how long a web flow cookie lives, as the API sets it:
// longer than any flow, which ends by its own expiry.
const flowCookieAge = 15 * time.Minute

// signIn finishes a sign-in: the session cookie is new (a fresh token per
// login, so a planted cookie cannot be fixed), and the cookies that led
// to it have done their work.
func (d *deps) signIn(w http.ResponseWriter, r *http.Request, res *login.Result) {
	c := d.Cookies
	if _, err := r.Cookie(loginCookie(c)); err == nil {
		c.Clear(w, loginCookie(c))
	}
	if _, err := r.Cookie(c.Flow()); err == nil {
		c.Clear(w, c.Flow())
	}
	c.Set(w, c.Session(), res.Token, res.Session.ExpiresAt.Sub(d.now()))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func handleLogout(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if err := d.Auth.Sessions.Logout(r.Context(), d.actor(r, v)); err != nil {
			return err
		}
		d.Cookies.Clear(w, d.Cookies.Session())
		http.Redirect(w, r, "/login?done=signed-out", http.StatusSeeOther)
		return nil
	}
}
