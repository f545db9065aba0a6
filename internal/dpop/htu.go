package dpop

import (
	"net/url"
	"strconv"
	"strings"
)

// stripQuery returns u without its query and fragment, which "htu" omits
// (RFC 9449 §4.2) and which may carry secrets that must not reach a log.
func stripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// sameHTU reports whether the proof's htu and the request URL name the same
// resource, ignoring query and fragment.
func sameHTU(htu, request string) bool {
	htu, request = stripQuery(htu), stripQuery(request)
	if htu == request {
		// The common case, with no allocation: the client signed exactly the
		// URL the proxy forwarded. ParseProof has validated htu already.
		return true
	}
	a, ok := normalizeHTU(htu)
	if !ok {
		return false
	}
	b, ok := normalizeHTU(request)
	return ok && a == b
}

// normalizeHTU returns the RFC 3986 §6.2.2 and §6.2.3 normal form of an
// absolute http or https URL without its query and fragment, and whether raw
// is such a URL. User info is refused: it has no place in a request target
// and would otherwise be one more way to spell the same URL.
func normalizeHTU(raw string) (string, bool) {
	u, err := url.Parse(stripQuery(raw))
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "http":
		defaultPort = "80"
	case "https":
		defaultPort = "443"
	default:
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port := u.Port(); port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", false
		}
		if port = strconv.FormatUint(n, 10); port != defaultPort {
			host += ":" + port
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	path = removeDotSegments(normalizePercent(path))
	return scheme + "://" + host + path, true
}

// normalizePercent decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the others (RFC 3986 §6.2.2.1, §6.2.2.2).
// p must be validly encoded, as url.URL.EscapedPath returns it.
func normalizePercent(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		hi, lo := unhex(p[i+1]), unhex(p[i+2])
		if hi < 0 || lo < 0 {
			b.WriteByte(p[i])
			continue
		}
		if c := byte(hi<<4 | lo); isUnreserved(c) {
			b.WriteByte(c)
		} else {
			const digits = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(digits[hi])
			b.WriteByte(digits[lo])
		}
		i += 2
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments applies RFC 3986 §5.2.4 to an absolute path. Unlike
// path.Clean it keeps empty segments and trailing slashes, which are
// significant in a URL.
func removeDotSegments(p string) string {
	if len(p) == 0 || p[0] != '/' || !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for _, s := range segs {
		trailing = false
		switch s {
		case ".":
			trailing = true
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = true
		default:
			out = append(out, s)
		}
	}
	r := "/" + strings.Join(out, "/")
	if trailing && !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}
