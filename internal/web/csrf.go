package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
)

// csrfField is the name of the hidden form field that carries the token.
const csrfField = "csrf"

// formToken returns the anti-forgery token of the forms rendered for the
// holder of secret: a session token, or before sign-in the login cookie.
// It is an HMAC keyed by that secret, so it needs no server-side state,
// holds across instances, and tells nothing about the secret itself.
func formToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("gatehouse portal form v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameToken reports whether a form sent back the token it was rendered
// with, in constant time.
func sameToken(want, got string) bool {
	return want != "" && hmac.Equal([]byte(want), []byte(got))
}

// maxForm caps form bodies: the largest form of the portal is far below.
const maxForm = 16 << 10

// parseForm reads an urlencoded form body of at most maxForm bytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	err := r.ParseForm()
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return fault.Wrap(fault.TooLarge, err) // 413, from the table
	}
	if err != nil {
		return &httpError{Code: http.StatusBadRequest, Msg: "The form could not be read. Reload the page and try again.", Err: err}
	}
	return nil
}

// errForgedForm answers a form without the token of the session (or of
// the sign-in cookie) it claims.
func errForgedForm() *httpError {
	return &httpError{Code: http.StatusForbidden, Msg: "This form has expired or did not come from this portal. Reload the page and try again.",
		Err: errors.New("form token missing or wrong")}
}

// loginCookie names the cookie that keys the sign-in form's token before a
// session exists. It holds a random value and nothing else.
func loginCookie(c edge.Cookies) string {
	if c.Secure {
		return "__Host-gatehouse_login"
	}
	return "gatehouse_login"
}

// deviceCookieAge is how long a web device cookie lives; the API gives
// its device cookies the same 400 days (the most browsers keep).
const deviceCookieAge = 400 * 24 * time.Hour
