package authz

import (
	"errors"

	"gatehouse/internal/policy"
)

// Style says which family of headers a reverse proxy described the
// original request with.
type Style int

// Proxy styles.
const (
	// StyleNginx: nginx auth_request with X-Original-Method and
	// X-Original-URL (or X-Original-URI and the Host header). nginx
	// accepts only 2xx, 401 and 403 from the auth server, so a browser is
	// sent to the login page by a 401 with a Location header that the
	// nginx configuration turns into a redirect.
	StyleNginx Style = iota + 1
	// StyleForwarded: Traefik ForwardAuth and Caddy forward_auth, with
	// X-Forwarded-Method, -Proto, -Host and -Uri. They hand the auth
	// server's answer to the client, so a browser gets a 302 directly.
	StyleForwarded
)

// Forwarded holds the header values a reverse proxy sends about the
// original request, each "" when absent. Only a trusted proxy's values
// may be given: a client that reaches gatehouse directly could say
// anything.
type Forwarded struct {
	OriginalMethod string // X-Original-Method (nginx)
	OriginalURL    string // X-Original-URL: scheme://host/path?query (nginx)
	OriginalURI    string // X-Original-URI: /path?query (nginx)
	Method         string // X-Forwarded-Method (Traefik, Caddy)
	Proto          string // X-Forwarded-Proto
	Host           string // X-Forwarded-Host
	URI            string // X-Forwarded-Uri (Traefik, Caddy)
	// RequestHost is the Host of the auth request itself. With nginx's
	// X-Original-URI it names the original host, when the nginx
	// configuration sets "proxy_set_header Host $host".
	RequestHost string
}

// Target is the original request, as [ParseTarget] read it.
type Target struct {
	Style  Style
	Method string
	Scheme string // "http" or "https"
	Host   string // as the client sent it, port included
	// Path is canonical (see [policy.CheckPath]) and still
	// percent-encoded; Query is what followed "?" (without it).
	Path  string
	Query string
}

// URL returns the target's absolute URL without its query, as a DPoP
// proof's htu names it.
func (t *Target) URL() string { return t.Scheme + "://" + t.Host + t.Path }

// Errors of [ParseTarget]. The caller denies with 403: a reverse proxy
// accepts no other refusal from its auth server.
var (
	// ErrNoTarget: the proxy sent no method or URI; its configuration
	// lacks the headers.
	ErrNoTarget = errors.New("authz: the proxy sent no original method and URI")
	// ErrAmbiguous: both the nginx headers and the X-Forwarded ones name
	// a method or URI. A client can add either family to its own request,
	// and each proxy forwards the family it does not set; refusing both
	// is what keeps a forged family from choosing the rule.
	ErrAmbiguous = errors.New("authz: both X-Original-* and X-Forwarded-Method/-Uri are present")
	// ErrBadTarget: a method, scheme, host or URI that is malformed, too
	// long, or a path not in canonical form.
	ErrBadTarget = errors.New("authz: malformed forwarded request")
)

// Bounds on what ParseTarget accepts.
const (
	maxMethodLen = 32
	maxHostLen   = 255
	maxURILen    = policy.MaxPathLen + 4096 // path and query
)

// ParseTarget reads the original request from what a proxy forwarded:
//
//   - nginx: X-Original-Method, and X-Original-URL, or else X-Original-URI
//     with the host from RequestHost and the scheme from X-Forwarded-Proto
//     (http when absent). X-Forwarded-Host is not read in this style, as
//     nginx passes a client's own X-Forwarded-Host through unless told not to.
//   - Traefik and Caddy: X-Forwarded-Method, -Uri, -Host (RequestHost when
//     absent) and -Proto (http when absent).
//
// It fails with [ErrNoTarget], [ErrAmbiguous] or [ErrBadTarget]. A target
// it returns has a token method, a scheme of http or https, a host of
// host-name characters and a canonical path. It does not allocate.
func ParseTarget(f *Forwarded) (Target, error) {
	nginx := f.OriginalMethod != "" || f.OriginalURL != "" || f.OriginalURI != ""
	fwd := f.Method != "" || f.URI != ""
	var t Target
	var uri string
	switch {
	case nginx && fwd:
		return Target{}, ErrAmbiguous
	case nginx:
		t.Style, t.Method = StyleNginx, f.OriginalMethod
		if f.OriginalURL != "" {
			var ok bool
			if t.Scheme, t.Host, uri, ok = splitURL(f.OriginalURL); !ok {
				return Target{}, ErrBadTarget
			}
		} else {
			t.Scheme, t.Host, uri = f.Proto, f.RequestHost, f.OriginalURI
		}
	case fwd:
		t.Style, t.Method, t.Scheme, t.Host, uri = StyleForwarded, f.Method, f.Proto, f.Host, f.URI
		if t.Host == "" {
			t.Host = f.RequestHost
		}
	default:
		return Target{}, ErrNoTarget
	}
	if t.Method == "" || uri == "" {
		return Target{}, ErrNoTarget
	}
	switch t.Scheme {
	case "", "http", "HTTP":
		t.Scheme = "http"
	case "https", "HTTPS":
		t.Scheme = "https"
	default:
		return Target{}, ErrBadTarget
	}
	if !isMethod(t.Method) || !isHost(t.Host) || len(uri) > maxURILen || uri[0] != '/' {
		return Target{}, ErrBadTarget
	}
	t.Path = uri
	inQuery := false
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c == '?' && !inQuery:
			t.Path, t.Query, inQuery = uri[:i], uri[i+1:], true
		case c == '#':
			// Clients never send a fragment; a proxy that forwards one
			// has been handed something other than a request target.
			return Target{}, ErrBadTarget
		case c <= ' ' || c >= 0x7f:
			return Target{}, ErrBadTarget
		}
	}
	if policy.CheckPath(t.Path) != nil {
		return Target{}, ErrBadTarget
	}
	return t, nil
}

// splitURL splits an absolute http(s) URL into its scheme (lower case),
// host and request target ("/" when the URL has no path). It refuses user
// info: a request target never carries one.
func splitURL(u string) (scheme, host, uri string, ok bool) {
	switch {
	case len(u) > 7 && equalFold(u[:7], "http://"):
		scheme, u = "http", u[7:]
	case len(u) > 8 && equalFold(u[:8], "https://"):
		scheme, u = "https", u[8:]
	default:
		return "", "", "", false
	}
	end := len(u)
	for i := 0; i < len(u); i++ {
		if c := u[i]; c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	host, uri = u[:end], u[end:]
	switch {
	case uri == "":
		uri = "/"
	case uri[0] == '?':
		// "http://h?q": the path is empty, which means "/". Rebuilding
		// the target would allocate, and no proxy sends this form.
		return "", "", "", false
	}
	return scheme, host, uri, true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x := a[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != b[i] {
			return false
		}
	}
	return true
}

// isMethod reports whether m is an RFC 9110 token of sensible length.
func isMethod(m string) bool {
	if m == "" || len(m) > maxMethodLen {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !tokenChar[m[i]] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// isHost reports whether h is a plausible Host value: a DNS name or
// address with an optional port, in bracketed form for IPv6. Anything
// else ("@", "/", spaces, "%") cannot be a host the proxy routed on.
func isHost(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !hostChar[h[i]] {
			return false
		}
	}
	return true
}

var hostChar = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]") {
		t[c] = true
	}
	return t
}()
