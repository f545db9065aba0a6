package edge

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the rightmost address in
// X-Forwarded-For that is not itself a trusted proxy. A header from an
// untrusted peer is ignored, so it cannot forge an address; a garbled
// chain counts as the peer. It does not allocate: forward-auth calls it
// on every proxied request.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r)
	if !inAny(peer, trusted) {
		return peer
	}
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		rest := xff[i]
		for {
			part := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				part, rest = rest[j+1:], rest[:j]
			}
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				return peer
			}
			if a = a.Unmap(); !inAny(a, trusted) {
				return a
			}
			if j < 0 {
				break
			}
		}
	}
	return peer
}

// FromProxy reports whether the connection's peer is one of the trusted
// proxies: only their word on the original request counts.
func FromProxy(r *http.Request, trusted []netip.Prefix) bool {
	return inAny(peerAddr(r), trusted)
}

// peerAddr is the connection's peer; the unspecified address when
// RemoteAddr is not an address (a test's handler, a unix socket).
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return a.Unmap()
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
