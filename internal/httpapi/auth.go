package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
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

// Authenticator finds the session of a request: a web session from its
// cookie, or a desktop or mobile session from `Authorization: DPoP` and a
// proof of its key.
type Authenticator struct {
	Sessions *authn.Sessions
	// Replay remembers the proofs of authenticated requests (login proofs
	// have their own cache: anyone can mint those).
	Replay  *dpop.ReplayCache
	Origin  string // public origin; a proof's htu is checked against it
	Cookies Cookies
	MaxAge  time.Duration
	Now     func() time.Time
}

// errDPoP is a DPoP failure; the client sees the one unauthenticated problem.
var errDPoP = errors.New("dpop proof refused")

// Session returns the request's live session.
func (a *Authenticator) Session(r *http.Request) (*session.Session, error) {
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, tok, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "DPoP") {
			return nil, errUnauthenticated()
		}
		return a.dpopSession(r, strings.TrimSpace(tok))
	}
	c, err := r.Cookie(a.Cookies.Session())
	if err != nil {
		return nil, errUnauthenticated()
	}
	s, err := a.Sessions.Resolve(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	// A key-bound token must never be accepted without its proof.
	if s.Interface != session.Web {
		return nil, errUnauthenticated()
	}
	return s, nil
}

func (a *Authenticator) dpopSession(r *http.Request, tok string) (*session.Session, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return nil, &Error{Problem: errUnauthenticated().Problem, Err: errDPoP}
	}
	p, err := dpop.ParseProof(proofs[0])
	if err != nil {
		return nil, &Error{Problem: errUnauthenticated().Problem, Err: err}
	}
	s, err := a.Sessions.Resolve(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	if !s.Interface.KeyBound() || s.JKT == "" {
		return nil, errUnauthenticated()
	}
	now := a.Now()
	err = p.Check(dpop.Expect{Method: r.Method, URL: a.Origin + r.URL.EscapedPath(), AccessToken: tok, JKT: s.JKT, Now: now, MaxAge: a.MaxAge})
	if err != nil {
		return nil, &Error{Problem: errUnauthenticated().Problem, Err: err}
	}
	if a.Replay.Seen(p.JKT, p.ID, p.IssuedAt, now) {
		return nil, &Error{Problem: errUnauthenticated().Problem, Err: errors.New("dpop: replayed proof")}
	}
	return s, nil
}
