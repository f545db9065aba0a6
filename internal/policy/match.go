package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxPathLen is the longest path [CheckPath] accepts.
const MaxPathLen = 8192

// ErrPath is returned by [CheckPath] for a path that is not canonical; see
// the package documentation. Forward-auth answers it with 400.
var ErrPath = errors.New("policy: path not in canonical form")

// CheckPath returns [ErrPath] unless path is canonical: it starts with
// "/", has no empty, "." or ".." segment, and no character or
// percent-escape that a server could decode or strip into a different
// path. Path is the raw request path without the query. CheckPath does not
// allocate.
func CheckPath(path string) error {
	if path == "" || path[0] != '/' || len(path) > MaxPathLen {
		return ErrPath
	}
	for rest := path[1:]; rest != ""; {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if segmentProblem(seg) != "" {
			return ErrPath
		}
	}
	return nil
}

// pathChar[c] reports whether c may appear raw in a canonical segment:
// RFC 3986 pchar minus ";" (path parameters, which Tomcat and others
// strip before routing).
var pathChar = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,=:@") {
		t[c] = true
	}
	return t
}()

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// upperHex returns the value of an upper-case hex digit, or -1.
func upperHex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// segmentProblem returns why seg is not a canonical path segment, or "".
func segmentProblem(seg string) string {
	switch seg {
	case "":
		return "empty segment (//)"
	case ".", "..":
		return "dot segment"
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '%' {
			if !pathChar[c] {
				return "a character outside RFC 3986 path characters, or ';'"
			}
			continue
		}
		if i+2 >= len(seg) || upperHex(seg[i+1]) < 0 || upperHex(seg[i+2]) < 0 {
			return "malformed or lower-case percent-escape"
		}
		switch v := byte(upperHex(seg[i+1])<<4 | upperHex(seg[i+2])); {
		case unreserved(v):
			return "percent-escape of an unreserved character"
		case v == '/' || v == '\\' || v < 0x20 || v == 0x7f:
			return "percent-escape of a slash, backslash or control character"
		}
		i += 2
	}
	return ""
}

// segment is one segment of a pattern: a literal, or a wildcard when
// name is set.
type segment struct {
	lit, name string
}

// pattern is a compiled path pattern.
type pattern struct {
	segs    []segment
	subtree bool   // ends in "/" or {rest...}: matches everything below
	rest    string // name of the {rest...} wildcard, if any
}

type paramKind int

const (
	paramNone paramKind = iota
	paramOne
	paramRest
)

func (p *pattern) param(name string) paramKind {
	if p.rest == name {
		return paramRest
	}
	for _, s := range p.segs {
		if s.name == name {
			return paramOne
		}
	}
	return paramNone
}

func parsePattern(p string) (pattern, error) {
	switch {
	case p == "":
		return pattern{}, errors.New("is required")
	case p[0] != '/':
		return pattern{}, fmt.Errorf("%q must start with /", p)
	case len(p) > MaxPathLen:
		return pattern{}, errors.New("too long")
	}
	pt := pattern{subtree: strings.HasSuffix(p, "/")}
	var names []string
	for body := p[1:]; body != ""; {
		seg, last := body, true
		if i := strings.IndexByte(body, '/'); i >= 0 {
			seg, body, last = body[:i], body[i+1:], false
		} else {
			body = ""
		}
		if !strings.HasPrefix(seg, "{") {
			if strings.ContainsAny(seg, "{}") {
				return pattern{}, fmt.Errorf("%q: a wildcard must be a whole segment", seg)
			}
			if msg := segmentProblem(seg); msg != "" {
				return pattern{}, fmt.Errorf("segment %q is not canonical: %s", seg, msg)
			}
			pt.segs = append(pt.segs, segment{lit: seg})
			continue
		}
		if !strings.HasSuffix(seg, "}") {
			return pattern{}, fmt.Errorf("%q: a wildcard must be a whole segment", seg)
		}
		name := seg[1 : len(seg)-1]
		multi := strings.HasSuffix(name, "...")
		name = strings.TrimSuffix(name, "...")
		switch {
		case name == "$":
			return pattern{}, errors.New("{$} is not supported: a pattern without a trailing slash already matches only its own path")
		case !isIdent(name):
			return pattern{}, fmt.Errorf("wildcard %q: the name must be a Go identifier", seg)
		case slices.Contains(names, name):
			return pattern{}, fmt.Errorf("wildcard {%s} appears twice", name)
		case len(names) == MaxParams:
			return pattern{}, fmt.Errorf("more than %d wildcards", MaxParams)
		case multi && !last:
			return pattern{}, fmt.Errorf("wildcard %q must be the last segment", seg)
		}
		names = append(names, name)
		if multi {
			pt.subtree, pt.rest = true, name
		} else {
			pt.segs = append(pt.segs, segment{name: name})
		}
	}
	return pt, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// match reports whether the canonical path matches p, recording
// wildcards in ps.
func (p *pattern) match(path string, ps *Params) bool {
	rest, slash := path[1:], true // slash: the last segment read was followed by "/"
	for _, sg := range p.segs {
		if rest == "" {
			return false
		}
		s := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			s, rest, slash = rest[:i], rest[i+1:], true
		} else {
			rest, slash = "", false
		}
		if sg.name == "" {
			if s != sg.lit {
				return false
			}
		} else {
			ps.add(sg.name, s)
		}
	}
	if p.subtree {
		if !slash {
			return false
		}
		if p.rest != "" {
			ps.add(p.rest, rest)
		}
		return true
	}
	return rest == "" // an optional trailing slash is already consumed
}

// covers reports whether every path b matches is matched by p.
func (p *pattern) covers(b *pattern) bool {
	n := len(p.segs)
	switch {
	case !p.subtree:
		// p matches exactly n segments, so b must too.
		if b.subtree || len(b.segs) != n {
			return false
		}
	case b.subtree:
		// Both are subtrees: b's paths have its segments and a "/".
		if len(b.segs) < n {
			return false
		}
	default:
		// b matches exactly its segments; p needs a "/" after its n.
		if len(b.segs) <= n {
			return false
		}
	}
	for i, s := range p.segs {
		if s.name == "" && (b.segs[i].name != "" || b.segs[i].lit != s.lit) {
			return false
		}
	}
	return true
}

// Params are the wildcards a matched path bound. The values share memory
// with the path.
type Params struct {
	n      int
	names  [MaxParams]string
	values [MaxParams]string
}

func (p *Params) add(name, value string) {
	if p.n < MaxParams {
		p.names[p.n], p.values[p.n] = name, value
		p.n++
	}
}

// Get returns the value bound to name, or "". A nil *Params binds nothing.
func (p *Params) Get(name string) string {
	if p == nil {
		return ""
	}
	for i := range p.n {
		if p.names[i] == name {
			return p.values[i]
		}
	}
	return ""
}

// Len returns the number of bound wildcards.
func (p *Params) Len() int {
	if p == nil {
		return 0
	}
	return p.n
}

// hostOnly strips the port, IPv6 brackets and one trailing dot from a Host
// value, without allocating.
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && i == strings.LastIndexByte(h, ':') {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// equalFoldASCII is strings.EqualFold for ASCII only. Unicode folding
// would let a Host the proxy routes elsewhere ("\u212a" folds to "k")
// match a rule written for another host.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Match returns the first rule matching host, method and path, and the
// wildcards the path bound. Host may carry a port and is compared without
// regard to ASCII case; method is compared exactly (HTTP methods are
// case-sensitive); path is the raw path without the query and matches
// nothing unless canonical (check it first with [CheckPath] to answer
// 400). Match does not allocate.
func (rs *RuleSet) Match(host, method, path string) (*Rule, Params, bool) {
	if rs == nil || CheckPath(path) != nil {
		return nil, Params{}, false
	}
	host = hostOnly(host)
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.host != "" && !equalFoldASCII(host, r.host) {
			continue
		}
		if r.methods != nil && !slices.Contains(r.methods, method) {
			continue
		}
		var ps Params
		if r.pat.match(path, &ps) {
			return r, ps, true
		}
	}
	return nil, Params{}, false
}
