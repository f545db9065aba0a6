package authz

import (
	"net/netip"

	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
)

// Session jumps. A web or mobile session is a cookie or a token on one
// device; when it shows up on another network mid-session, the likeliest
// stories are a phone that left the office Wi-Fi and a token copied to
// an intruder's machine. Reading goes on either way; trading waits for a
// step-up from the new network, which then becomes the session's.
// Desktop sessions are bound to a device key by DPoP, so a copied token is
// worthless there and they are not asked.

// Network sizes within which an address counts as the same network: a
// /24 for IPv4 and a /48 for IPv6, what one site is usually given.
const (
	sameNetworkBits4 = 24
	sameNetworkBits6 = 48
)

// movedToTrade reports whether a session of door, which last
// authenticated from the address was, asks from client to do what
// trades: a request that changes something on a route that needs
// orders:write or transfers:write.
func movedToTrade(door session.Door, was string, client netip.Addr, rule *policy.Rule, method string) bool {
	if door != session.Web && door != session.Mobile {
		return false
	}
	if method == "GET" || method == "HEAD" || method == "OPTIONS" {
		return false
	}
	if s := rule.Scopes(); !s.Has(apikey.OrdersWrite) && !s.Has(apikey.TransfersWrite) {
		return false
	}
	return !sameNetwork(was, client)
}

// sameNetwork reports whether client is on the network of the address
// was. An address not recorded (a session older than the record, or made
// at the command line) or a client address unknown asks nothing.
func sameNetwork(was string, client netip.Addr) bool {
	if was == "" || !client.IsValid() {
		return true
	}
	a, err := netip.ParseAddr(was)
	if err != nil {
		return true
	}
	// Prefixes of the two families never compare equal: a switch between
	// IPv4 and IPv6 is a move.
	return homePrefix(a) == homePrefix(client)
}

// homePrefix is the network of a, one site's usual share: its /24 for
// IPv4 (IPv4-mapped IPv6 counts as IPv4), its /48 for IPv6.
func homePrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := sameNetworkBits6
	if a.Is4() {
		bits = sameNetworkBits4
	}
	p, _ := a.Prefix(bits)
	return p
}
