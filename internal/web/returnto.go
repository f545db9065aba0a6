package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// returnCookie names the cookie that holds where to go after signing in:
// forward-auth sends a signed-out browser to /login?rd=<the page it
// asked for>. Kept in a cookie, it survives every step of the sign-in
// (second factor, device approval, scripts) up to the overview page,
// which follows it once.
func (d *deps) returnCookie() string {
	if d.Cookies.Secure {
		return "__Host-gatehouse_return"
	}
	return "gatehouse_return"
}

// returnLifetime bounds how long a remembered destination waits.
const returnLifetime = 15 * time.Minute

// validReturn reports whether rd may be followed after a sign-in: a path
// on the portal itself, or an http(s) URL on a host the configuration
// names (the public origin's, or a forward-auth rule's). Anything else
// would make the login page an open redirect.
func (d *deps) validReturn(rd string) bool {
	if rd == "" || len(rd) > 2048 || strings.ContainsAny(rd, "\\\r\n\t") {
		return false
	}
	if strings.HasPrefix(rd, "/") {
		return !strings.HasPrefix(rd, "//")
	}
	u, err := url.Parse(rd)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range d.ReturnHosts {
		if host == strings.ToLower(h) {
			return true
		}
	}
	return false
}

// rememberReturn keeps a valid rd from the login page's URL.
func (d *deps) rememberReturn(w http.ResponseWriter, r *http.Request) {
	if rd := r.URL.Query().Get("rd"); d.validReturn(rd) {
		d.Cookies.Set(w, d.returnCookie(), url.QueryEscape(rd), returnLifetime)
	}
}

// followReturn redirects a freshly signed-in visitor to the remembered
// destination, once, and reports whether it did.
func (d *deps) followReturn(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(d.returnCookie())
	if err != nil {
		return false
	}
	d.Cookies.Clear(w, d.returnCookie())
	rd, err := url.QueryUnescape(c.Value)
	if err != nil || !d.validReturn(rd) {
		return false
	}
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return true
}
