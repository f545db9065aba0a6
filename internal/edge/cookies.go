// Package edge holds what gatehouse's two HTTP muxes, the JSON API
// (httpapi) and the browser portal (web), must agree on about the
// requests at their edge: the names and flags of the cookies they share,
// and which address a request comes from. It is neutral ground, so that
// neither mux imports the other.
package edge

import (
	"net/http"
	"time"
)

// Cookies names the web cookies. With an https public origin they carry
// the __Host- prefix, which browsers accept only when Secure, host-only
// and Path=/ — so no subdomain can plant or shadow them.
type Cookies struct {
	Secure bool
}

// Session is the web session cookie's name.
func (c Cookies) Session() string {
	if c.Secure {
		return "__Host-gatehouse_session"
	}
	return "gatehouse_session"
}

// Device is the long-lived web device cookie's name.
func (c Cookies) Device() string {
	if c.Secure {
		return "__Host-gatehouse_device"
	}
	return "gatehouse_device"
}

// Flow is the short-lived cookie that binds a web login flow to the
// browser that started it.
func (c Cookies) Flow() string {
	if c.Secure {
		return "__Host-gatehouse_flow"
	}
	return "gatehouse_flow"
}

// Set sets a cookie with gatehouse's flags: HttpOnly, SameSite=Lax,
// Path=/, and Secure with the __Host- names when the origin is https.
func (c Cookies) Set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Clear removes a cookie set by [Cookies.Set].
func (c Cookies) Clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}
