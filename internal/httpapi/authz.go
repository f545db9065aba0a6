package httpapi

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/approval"
	"gatehouse/internal/approvalcheck"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
)

// keyRoutes registers API keys and forward-auth.
func keyRoutes(rt router) {
	d := rt.d
	if d.Keys == nil || d.Authz == nil {
		return
	}
	kd := keyDeps{auth: d.Auth, keys: d.Keys, proxies: d.Proxies, now: d.Now}
	rt.handle("GET /v1/accounts/{account}/keys", handleListKeys(kd))
	rt.handle("POST /v1/accounts/{account}/keys", handleCreateKey(kd))
	rt.handle("POST /v1/accounts/{account}/keys/{id}/rotate", handleRotateKey(kd))
	rt.handle("DELETE /v1/accounts/{account}/keys/{id}", handleRevokeKey(kd))
	rt.handle("GET /v1/accounts/{account}/keys/{id}/networks", handleKeyNetworks(kd))
	rt.handle("POST /v1/accounts/{account}/keys/{id}/networks/approve", handleApproveKeyNetwork(kd))
	rt.handle("GET /v1/authz", handleAuthz(newAuthzDeps(d)))
}

// AuthzHandler returns forward-auth alone, answering as GET /v1/authz
// does (with the adapter's logging and metrics, under route), for a
// transport that puts another protocol in front of it: Envoy's gRPC
// ext_authz. d needs Auth, Authz and Proxies.
func AuthzHandler(d Deps, route string) http.Handler {
	return adapt(d.Log, d.Metrics, route, handleAuthz(newAuthzDeps(&d)))
}

func newAuthzDeps(d *Deps) authzDeps {
	return authzDeps{svc: d.Authz, proxies: d.Proxies, cookie: d.Auth.Cookies.Session(), loginURL: d.LoginURL}
}

// authzDeps is what forward-auth needs.
type authzDeps struct {
	svc      *authz.Service
	proxies  []netip.Prefix
	cookie   string // the web session cookie's name
	loginURL string // where browsers without a session go; "" for none
}

// The identity headers of an allowed request. nginx copies them to the
// upstream with auth_request_set, Traefik with authResponseHeaders, Caddy
// with copy_headers.
const (
	hdrUser        = "X-Gatehouse-User"
	hdrAccount     = "X-Gatehouse-Account"
	hdrEnvironment = "X-Gatehouse-Environment"
	hdrScopes      = "X-Gatehouse-Scopes"
	hdrCredential  = "X-Gatehouse-Credential"
)

// IdentityHeaders are the names of the identity headers an allowed
// request is answered with, each present only when it has a value.
var IdentityHeaders = [...]string{hdrUser, hdrAccount, hdrEnvironment, hdrScopes, hdrCredential}

// The forwarded headers, canonical, so that reading them does not
// allocate.
var forwardedHeaders = [...]string{"X-Original-Method", "X-Original-Url", "X-Original-Uri", "X-Forwarded-Method", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Uri"}

// handleAuthz answers forward-auth: 200 with identity headers, 401 when
// no credential authenticates (or, for a browser, a redirect to the login
// page), 403 when the credential lacks what the route rule asks for.
//
// Only a trusted proxy is answered: the headers that describe the
// original request, and the client address the allowlists check, are its
// word, and anyone else's word for them is worthless.
func handleAuthz(d authzDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !edge.FromProxy(r, d.proxies) {
			return errUntrustedProxy()
		}
		h := r.Header
		var vals [len(forwardedHeaders)]string
		for i, k := range forwardedHeaders {
			v := h[k]
			if len(v) > 1 {
				return errBadTarget(errors.New("authz: " + k + " sent more than once"))
			}
			if len(v) == 1 {
				vals[i] = v[0]
			}
		}
		fw := authz.Forwarded{OriginalMethod: vals[0], OriginalURL: vals[1], OriginalURI: vals[2],
			Method: vals[3], Proto: vals[4], Host: vals[5], URI: vals[6], RequestHost: r.Host}
		t, err := authz.ParseTarget(&fw)
		if err != nil {
			return errBadTarget(err)
		}
		req := authz.Request{Target: t, Client: edge.ClientAddr(r, d.proxies), Cookie: cookieValue(h, d.cookie)}
		if a := h["Authorization"]; len(a) > 0 {
			if len(a) > 1 {
				return errAuthzUnauthenticated(errors.New("authz: more than one Authorization header"))
			}
			req.Authorization = a[0]
		}
		if p := h["Dpop"]; len(p) > 0 {
			req.DPoP, req.DPoPCount = p[0], len(p)
		}
		if v := h[policy.AccountHeader]; len(v) > 0 {
			// An account is one valid id, named once: anything else is a
			// malformed request, not a name to look up.
			if len(v) > 1 || !account.ValidID(v[0]) {
				return errBadTarget(errors.New("authz: " + policy.AccountHeader + " is not one account id"))
			}
			req.Account = v[0]
		}
		if v := h[policy.ApprovalHeader]; len(v) > 0 {
			if len(v) > 1 {
				return errBadTarget(errors.New("authz: " + policy.ApprovalHeader + " sent more than once"))
			}
			req.Approval = v[0]
		}
		if v := h[policy.AmountHeader]; len(v) > 0 {
			if len(v) > 1 {
				return errBadTarget(errors.New("authz: " + policy.AmountHeader + " sent more than once"))
			}
			req.Amount = v[0]
		}
		res, err := d.svc.Authorize(r.Context(), &req)
		if err != nil {
			return err
		}
		switch res.Kind {
		case policy.Allowed:
			writeIdentity(w.Header(), &res)
			if res.ApprovalWaived {
				over, _ := res.Rule.ApprovalOver()
				w.Header()[approvalcheck.WaivedHeader] = []string{strconv.FormatFloat(over, 'f', -1, 64)}
			}
			w.WriteHeader(http.StatusOK)
			return nil
		case policy.Unauthenticated:
			if fault.Of(res.Why) == fault.Frozen {
				// Before the login redirect: signing in again is not the
				// way out, unfreezing is.
				return kindError(fault.Frozen, res.Why)
			}
			if d.loginURL != "" && req.Authorization == "" && wantsHTML(h) {
				return loginRedirect(w, d.loginURL, &t)
			}
			why := res.Why
			if why == nil {
				why = errors.New("authz: no credential")
			}
			return errAuthzUnauthenticated(why)
		case policy.StepUp:
			if res.Signal != nil {
				return errStepUpSignal(res.Rule, res.Signal, res.Missing)
			}
			if res.Moved {
				return errStepUpMoved(res.Rule, res.Missing)
			}
			return errStepUpRoute(res.Rule, res.Missing)
		case policy.ApprovalRequired:
			return errApprovalRequired(res.ApprovalKind, &res.Credential, res.Why)
		case policy.Cooldown:
			return kindError(fault.Cooldown, res.Why)
		case policy.RateLimited:
			return errRateLimited(res.RetryAfter)
		case policy.Hold:
			return errHold(res.Credential.KeyID, res.HeldNetwork)
		}
		return errForbidden(res.Missing)
	}
}

// writeIdentity sets the identity headers of an allowed request, and the
// approved hash of a rule that asks for an approval. The values share one
// allocation; an empty value is left out, so that a proxy sends the
// upstream no header rather than an empty one.
func writeIdentity(h http.Header, res *authz.Result) {
	c := &res.Credential
	if c.Kind == "" {
		return // an anonymous route: nobody to name
	}
	id := c.SessionID
	if c.Kind == policy.KeyCredential {
		id = c.KeyID
	}
	vals := [...]string{c.UserID, c.AccountID, string(c.Environment), res.Scopes, id, res.ApprovedHash}
	names := &answerHeaders
	backing := make([]string, len(vals))
	for i, v := range vals {
		if v == "" {
			continue
		}
		backing[i] = v
		h[names[i]] = backing[i : i+1 : i+1]
	}
}

// answerHeaders name writeIdentity's values: the identity headers, then
// the approved hash.
var answerHeaders = [...]string{hdrUser, hdrAccount, hdrEnvironment, hdrScopes, hdrCredential, approvalcheck.HashHeader}

// cookieValue returns the value of the first cookie called name in h,
// without parsing the others (net/http's r.Cookie allocates for each).
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// wantsHTML reports whether the client is a browser navigating: its
// Accept names text/html.
func wantsHTML(h http.Header) bool {
	for _, a := range h["Accept"] {
		if strings.Contains(a, "text/html") {
			return true
		}
	}
	return false
}

// loginRedirect sends a browser to the login page with the URL it asked
// for in "rd". Traefik and Caddy hand a 302 to the browser; nginx's
// auth_request accepts only 2xx, 401 and 403, so it gets a 401 with the
// Location that its configuration turns into the redirect
// (error_page 401 =302 $gatehouse_login).
func loginRedirect(w http.ResponseWriter, loginURL string, t *authz.Target) error {
	rd := t.URL()
	if t.Query != "" {
		rd += "?" + t.Query
	}
	sep := "?"
	if strings.Contains(loginURL, "?") {
		sep = "&"
	}
	w.Header().Set("Location", loginURL+sep+"rd="+url.QueryEscape(rd))
	w.Header().Set("Cache-Control", "no-store")
	if t.Style == authz.StyleNginx {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		return nil
	}
	w.WriteHeader(http.StatusFound)
	return nil
}

func errUntrustedProxy() *Error {
	return problem(http.StatusForbidden, "untrusted-proxy", "Not a trusted proxy",
		"Forward-auth answers only the reverse proxies listed in trusted_proxies.")
}

func errBadTarget(err error) *Error {
	e := problem(http.StatusForbidden, "bad-forwarded-request", "Forwarded request refused",
		"The proxy's description of the request (X-Original-* or X-Forwarded-* headers) is missing, ambiguous, malformed, or names a path that is not in canonical form.")
	e.Err = err
	return e
}

func errAuthzUnauthenticated(why error) *Error {
	e := errUnauthenticated()
	e.Err = why
	e.Header = http.Header{"Www-Authenticate": {`Bearer realm="gatehouse"`}}
	return e
}

func errForbidden(missing []string) *Error {
	detail := "The credential lacks: " + strings.Join(missing, ", ") + "."
	if len(missing) == 1 && missing[0] == "matching rule" {
		detail = "No route rule allows this request."
	}
	e := problem(http.StatusForbidden, "forbidden", "Forbidden", detail)
	e.Problem.Extra = map[string]any{"missing": missing}
	return e
}

// errStepUpRoute asks a session for the assurance a route rule needs.
func errStepUpRoute(rule *policy.Rule, missing []string) *Error {
	aal := max(rule.AAL(), 1)
	e := problem(http.StatusForbidden, "step-up-required", "Step-up required",
		"This request needs a stronger or more recent authentication: step up, then retry.")
	e.Problem.Extra = map[string]any{"required_assurance": "AAL" + strconv.Itoa(aal), "missing": missing}
	f := rule.Fresh()
	if f > 0 {
		e.Problem.Extra["max_age"] = int(f.Seconds())
	}
	e.Header = stepUpChallenge(session.Assurance(aal), f)
	return e
}

// errStepUpMoved asks a session that moved to another network to
// authenticate again, from there, before it trades: at least AAL2, and
// max_age=0 in the challenge, since the assurance it holds was proven
// elsewhere.
func errStepUpMoved(rule *policy.Rule, missing []string) *Error {
	aal := max(session.Assurance(rule.AAL()), session.AAL2)
	e := problem(http.StatusForbidden, "step-up-required", "Step-up required",
		"This session is being used from another network than the one it signed in from: step up from here, then retry.")
	e.Problem.Extra = map[string]any{"required_assurance": aal.String(), "missing": missing, "reason": "network_changed", "max_age": 0}
	e.Header = stepUpChallenge(aal, 0)
	v := e.Header["Www-Authenticate"][0] + ", max_age=0"
	e.Header["Www-Authenticate"] = []string{v}
	return e
}

// errStepUpSignal asks a session for what a security signal in force
// demands beyond the route's rule: the higher of the two assurances and,
// when the signal asks for an authentication since it was applied, the
// max_age that reaches back to then. The signal's title and what the
// user must do are in the problem, for the client to show.
func errStepUpSignal(rule *policy.Rule, d *signal.Demand, missing []string) *Error {
	aal := max(session.Assurance(rule.AAL()), d.AAL, session.AAL1)
	e := problem(http.StatusForbidden, "step-up-required", "Step-up required",
		"A security notice asks you to sign in again: step up, then retry.")
	e.Problem.Extra = map[string]any{"required_assurance": aal.String(), "missing": missing, "signal": d.Title, "todo": d.Todo}
	f := rule.Fresh()
	if !d.Since.IsZero() {
		since := max(time.Since(d.Since), time.Second)
		if f == 0 || since < f {
			f = since
		}
	}
	if f > 0 {
		e.Problem.Extra["max_age"] = int(f.Seconds())
	}
	e.Header = stepUpChallenge(aal, f)
	return e
}

// stepUpChallenge is the RFC 9470 challenge beside a step-up problem, so
// that a standard OAuth client knows what to do: the assurance levels
// that would do (acr_values, weakest first, named as the problem's
// required_assurance) and, when the proof must be recent, max_age in
// seconds. The status stays 403, the API's and forward-auth's answer to a
// step-up: a 401 is what nginx's auth_request turns into the login
// redirect, and the session is not to be thrown out.
func stepUpChallenge(need session.Assurance, within time.Duration) http.Header {
	var b strings.Builder
	b.WriteString(`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is needed", acr_values="`)
	for a := max(need, session.AAL1); a <= session.AAL3; a++ {
		if a > max(need, session.AAL1) {
			b.WriteByte(' ')
		}
		b.WriteString(a.String())
	}
	b.WriteByte('"')
	if within > 0 {
		b.WriteString(", max_age=")
		b.WriteString(strconv.Itoa(int(within.Seconds())))
	}
	return http.Header{"Www-Authenticate": {b.String()}}
}

// errApprovalRequired refuses a request that needs an approval it did not
// bring, and says where to start one. The reason a token was refused
// (used, expired, another account) is for the log only.
func errApprovalRequired(kind approval.Kind, c *policy.Credential, why error) *Error {
	e := problem(http.StatusForbidden, "approval-required", "Approval required",
		"This request needs the account owner's approval of this very transaction: POST /v1/approvals with its account, kind and details, have the owner approve it on their phone or security key, then retry with the token in the "+policy.ApprovalHeader+" header. A token is good for one request.")
	e.Err = why
	e.Problem.Extra = map[string]any{"kind": string(kind), "start": "/v1/approvals"}
	if c.AccountID != "" {
		e.Problem.Extra["account"] = c.AccountID
	}
	return e
}

// errRateLimited refuses an order over its credential's ceiling per
// minute. It is a 403, not a 429: nginx's auth_request passes on only
// 401 and 403.
// errHold refuses a key held on a network its owner has not approved,
// and says where the owner approves it.
func errHold(keyID, network string) *Error {
	e := problem(http.StatusForbidden, "hold", "Key held on a new network",
		"This API key waits on networks it has not been used from, and this is one: its owner approves the network in the portal (Keys), then the key works from it.")
	e.Problem.Extra = map[string]any{"network": network, "key": keyID}
	return e
}

func errRateLimited(wait time.Duration) *Error {
	e := problem(http.StatusForbidden, "rate-limited", "Order rate over its ceiling",
		"This credential placed more orders in the last minute than its ceiling allows: wait, then retry.")
	retry(e, wait)
	return e
}
