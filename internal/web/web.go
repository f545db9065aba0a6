package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/freeze"
	"gatehouse/internal/login"
	"gatehouse/internal/posturegate"
)

// Deps are the portal's dependencies, set by the command line.
type Deps struct {
	Login *login.Service
	// Keys manages API keys; nil leaves the API keys pages out.
	Keys *authz.Keys
	// Approvals shows transaction-bound approvals to their owner, to
	// approve with a security key; nil leaves the page out.
	Approvals *authz.Approvals
	// Posture makes the overview's posture report; nil leaves it out.
	Posture *posturegate.Service
	// Freeze serves "This wasn't me" and the unfreeze page; nil leaves
	// them out.
	Freeze *freeze.Service
	// ReturnHosts are the hosts a sign-in may send the browser back to
	// (the login page's rd, from forward-auth): the public origin's and
	// the forward-auth rules'. Others are ignored.
	ReturnHosts []string
	// Auth turns the session cookie into a session (its Sessions are the
	// cache the portal's revocations clear). The portal hands it only the
	// cookie, never an Authorization header: the browser door takes no
	// bearer credentials.
	Auth *authn.Authenticator
	// Cookies names the cookies the portal shares with the API.
	Cookies edge.Cookies
	// Origin is the public origin (scheme://host[:port]); form posts that
	// carry it in their Origin header are accepted behind a proxy that
	// rewrites Host.
	Origin  string
	Proxies []netip.Prefix // trusted reverse proxies, for client addresses
	Log     *slog.Logger   // nil discards
	Now     func() time.Time
	Rand    io.Reader // login cookies; nil means crypto/rand.Reader
}

// deps is Deps with its defaults filled in, shared by the handlers.
type deps struct{ Deps }

func (d *deps) now() time.Time { return d.Now().UTC() }

// NewHandler returns the portal. Every route is in routes.go. It fails
// only for a malformed origin.
func NewHandler(in Deps) (http.Handler, error) {
	d := &deps{Deps: in}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	routes(mux, d)

	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(d.Origin); err != nil {
		return nil, fmt.Errorf("web: public origin: %w", err)
	}
	cop.SetDenyHandler(adapt(d, func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{Code: http.StatusForbidden, Msg: "This form was sent from another site, so it was refused. Open the portal and try again.",
			Err: errors.New("cross-origin request")}
	}))
	return securityHeaders(cop.Handler(mux)), nil
}

// contentSecurityPolicy allows nothing inline and nothing from elsewhere:
// scripts and styles come from /static/ only, and the portal cannot be
// framed, post forms elsewhere or have its base URL changed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every portal answer carries, errors
// and assets included.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		// Pages and redirects depend on the session: never stored by a
		// browser or a proxy, so the back button after sign-out shows
		// nothing. Assets say otherwise for themselves.
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// handlerFunc is a handler that returns its failure instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is what a handler returns to answer with an error page. The
// visitor sees Msg; only the log sees Err.
type httpError struct {
	Code int
	Msg  string
	Err  error
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, http.StatusText(e.Code), e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, http.StatusText(e.Code))
}

func (e *httpError) Unwrap() error { return e.Err }

// errSignedOut says the request has no live web session: the visitor is
// sent to the sign-in page.
var errSignedOut = errors.New("web: not signed in")

func errNotFound() *httpError {
	return &httpError{Code: http.StatusNotFound, Msg: sayings[fault.NotFound].msg}
}

func errBadRequest(msg string) *httpError { return &httpError{Code: http.StatusBadRequest, Msg: msg} }

// adapt turns a handlerFunc into an http.Handler: it renders a returned
// error as a page, or sends a signed-out visitor to sign in, and logs it.
func adapt(d *deps, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if errors.Is(err, errSignedOut) {
			// A cookie that names no live session is dead: drop it, so the
			// sign-in page is not sent back here.
			if _, cerr := r.Cookie(d.Cookies.Session()); cerr == nil {
				d.Cookies.Clear(w, d.Cookies.Session())
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		var e *httpError
		if !errors.As(err, &e) {
			code, msg := d.saidFor(w, err)
			if code == statusClientClosed && r.Context().Err() == nil {
				// Canceled by the server itself, not by a visitor who left: a bug.
				code, msg = d.saidFor(w, errors.New("internal"))
			}
			e = &httpError{Code: code, Msg: msg, Err: err}
		}
		level := slog.LevelInfo
		switch {
		case e.Code == statusClientClosed:
			// The visitor left: nobody reads the page, and it is not ours.
			level = slog.LevelDebug
		case e.Code >= 500:
			level = slog.LevelError
		}
		attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.Code}
		if e.Err != nil {
			attrs = append(attrs, "err", e.Err.Error())
		}
		d.Log.Log(r.Context(), level, "portal request failed", attrs...)
		renderError(w, d, e)
	})
}
