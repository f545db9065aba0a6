package edge

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

var trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// clientAddrReference is the plain reading of ClientAddr's rule, kept to
// check the allocation-free one against.
func clientAddrReference(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r)
	if !inAny(peer, trusted) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer
			}
			if a = a.Unmap(); !inAny(a, trusted) {
				return a
			}
		}
	}
	return peer
}

// FuzzForwardedClient holds ClientAddr to the plain reading of its rule,
// for any X-Forwarded-For a client could send.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range [][2]string{
		{"10.0.0.1:1", "203.0.113.7"},
		{"10.0.0.1:1", "198.51.100.1, 203.0.113.7,10.0.0.2"},
		{"10.0.0.1:1", " ::ffff:203.0.113.7 , 10.9.9.9"},
		{"10.0.0.1:1", "garbage, 203.0.113.7"},
		{"10.0.0.1:1", "203.0.113.7,,"},
		{"[::1]:1", "2001:db8::1"},
		{"198.51.100.1:1", "203.0.113.7"},
		{"not an addr", ""},
	} {
		f.Add(s[0], s[1], "")
	}
	f.Fuzz(func(t *testing.T, peer, xff1, xff2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		if xff1 != "" {
			r.Header.Add("X-Forwarded-For", xff1)
		}
		if xff2 != "" {
			r.Header.Add("X-Forwarded-For", xff2)
		}
		if got, want := ClientAddr(r, trusted), clientAddrReference(r, trusted); got != want {
			t.Fatalf("ClientAddr(%q, %q) = %v, want %v", peer, r.Header["X-Forwarded-For"], got, want)
		}
	})
}

func TestClientAddrAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.0.0.2")
	if n := testing.AllocsPerRun(100, func() { ClientAddr(r, trusted) }); n != 0 {
		t.Errorf("ClientAddr allocates %v times, want 0", n)
	}
}
