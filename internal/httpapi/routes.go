// Package httpapi is gatehouse's JSON API: the login flow, sessions,
// passwords and the audit trail, under /v1. It refuses form bodies; the
// browser portal lives on its own mux.
package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/authz"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/dpop"
	"gatehouse/internal/freeze"
	"gatehouse/internal/login"
	"gatehouse/internal/pathid"
	"gatehouse/internal/playbook"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/ssf"
)

//go:embed openapi.yaml
var openapi []byte

// OpenAPI returns the API description served at /v1/openapi.yaml.
func OpenAPI() []byte { return openapi }

// Deps are the API's dependencies, set by the command line.
type Deps struct {
	Login   *login.Service
	Auth    *Authenticator
	Proxies []netip.Prefix
	// LoginReplay remembers login proofs; see [dpop.ReplayCache].
	LoginReplay *dpop.ReplayCache
	Log         *slog.Logger
	Metrics     *Metrics         // nil: no metrics
	Now         func() time.Time // nil means time.Now
	// Keys and Authz serve API keys and forward-auth; nil leaves their
	// routes out.
	Keys  *authz.Keys
	Authz *authz.Service
	// LoginURL is where forward-auth sends a browser without a session;
	// "" answers it 401.
	LoginURL string
	// Approvals serves transaction-bound approvals; nil leaves their
	// routes out.
	Approvals *authz.Approvals
	// Posture serves the posture reports and permission changes, and
	// decides who may have them; nil leaves their routes out.
	Posture *posturegate.Service
	// SSF is the Shared Signals transmitter; nil leaves its routes out.
	SSF *ssf.Transmitter
	// JWKS returns the public keys served at /.well-known/jwks.json (those
	// that sign security event tokens and approval tokens); nil leaves the
	// route out.
	JWKS func() []jose.JSONWebKey
	// Freeze serves POST /v1/freeze and /v1/unfreeze; nil leaves them out.
	Freeze *freeze.Service
	// Signals serves /v1/admin/signals; nil leaves them out.
	Signals *playbook.Service
	// Cooldowns serves an administrator's lift of a cool-down; nil leaves
	// the route out.
	Cooldowns *cooldown.Service
}

// router registers handlers with the adapter that renders their errors.
type router struct {
	mux *http.ServeMux
	d   *Deps
}

// handle registers h for pattern. The ids in the path are checked by
// their form first: anything that is not an id is not found, before any
// store call.
func (rt router) handle(pattern string, h handlerFunc) {
	valid := pathid.Check(pattern)
	rt.mux.Handle(pattern, adapt(rt.d.Log, rt.d.Metrics, pattern, func(w http.ResponseWriter, r *http.Request) error {
		if !valid(r) {
			return errNotFound()
		}
		return h(w, r)
	}))
}

// NewHandler returns the API handler. Every route of the API is listed
// here or in a *Routes function called from here, and a test checks them
// against openapi.yaml.
func NewHandler(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	mux := http.NewServeMux()
	rt := router{mux: mux, d: &d}
	handle := rt.handle
	sd := sessionDeps{auth: d.Auth, login: d.Login, keys: d.Keys, freeze: d.Freeze, proxies: d.Proxies, now: d.Now}
	ld := loginDeps{svc: d.Login, cookies: d.Auth.Cookies, origin: d.Auth.Origin, maxAge: d.Auth.MaxAge, replay: d.LoginReplay,
		proxies: d.Proxies, now: d.Now, deviceCookieAge: 400 * 24 * time.Hour, flowAge: 15 * time.Minute, approvals: d.Approvals}

	handle("POST /v1/login", handleLogin(ld))
	handle("POST /v1/logout", handleLogout(sd))
	handle("POST /v1/password", handlePassword(sd, d.Login))
	handle("GET /v1/me", handleMe(sd))
	handle("GET /v1/sessions", handleListSessions(sd))
	handle("DELETE /v1/sessions/{id}", handleDeleteSession(sd))
	handle("DELETE /v1/sessions", handleDeleteSessions(sd))
	handle("GET /v1/audit", handleAudit(sd))
	factorRoutes(rt, ld, sd)
	keyRoutes(rt)
	postureRoutes(rt)
	noticeRoutes(rt, sd)
	ssfRoutes(rt)
	approvalRoutes(rt, ld)
	freezeRoutes(rt, sd)
	recoveryRoutes(rt, ld, sd)
	signalRoutes(rt, sd)
	cooldownRoutes(rt, sd)
	handle("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(openapi)
		return err
	})
	handle("/v1/", func(w http.ResponseWriter, r *http.Request) error { return errNotFound() })
	return mux
}
