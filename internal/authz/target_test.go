package authz_test

import (
	"errors"
	"strings"
	"testing"

	"gatehouse/internal/authz"
	"gatehouse/internal/policy"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name string
		in   authz.Forwarded
		want authz.Target
		err  error
	}{
		{
			name: "NginxURL",
			in:   authz.Forwarded{OriginalMethod: "POST", OriginalURL: "https://Live.Localhost:8443/api/orders?sym=AAPL&x=1", RequestHost: "gatehouse:8080"},
			want: authz.Target{Style: authz.StyleNginx, Method: "POST", Scheme: "https", Host: "Live.Localhost:8443", Path: "/api/orders", Query: "sym=AAPL&x=1"},
		},
		{
			name: "NginxURLNoPath",
			in:   authz.Forwarded{OriginalMethod: "GET", OriginalURL: "HTTP://paper.localhost"},
			want: authz.Target{Style: authz.StyleNginx, Method: "GET", Scheme: "http", Host: "paper.localhost", Path: "/"},
		},
		{
			name: "NginxURIAndHost",
			in:   authz.Forwarded{OriginalMethod: "DELETE", OriginalURI: "/api/orders/ord-7", Proto: "https", RequestHost: "live.localhost"},
			want: authz.Target{Style: authz.StyleNginx, Method: "DELETE", Scheme: "https", Host: "live.localhost", Path: "/api/orders/ord-7"},
		},
		{
			// X-Forwarded-Host may come from the client through nginx:
			// it is not read in the nginx style.
			name: "NginxIgnoresForwardedHost",
			in:   authz.Forwarded{OriginalMethod: "GET", OriginalURI: "/api/orders", Host: "paper.localhost", RequestHost: "live.localhost"},
			want: authz.Target{Style: authz.StyleNginx, Method: "GET", Scheme: "http", Host: "live.localhost", Path: "/api/orders"},
		},
		{
			name: "Traefik",
			in:   authz.Forwarded{Method: "GET", Proto: "https", Host: "live.localhost", URI: "/api/marketdata/AAPL/bars?from=1", RequestHost: "gatehouse"},
			want: authz.Target{Style: authz.StyleForwarded, Method: "GET", Scheme: "https", Host: "live.localhost", Path: "/api/marketdata/AAPL/bars", Query: "from=1"},
		},
		{
			name: "ForwardedHostFallback",
			in:   authz.Forwarded{Method: "GET", URI: "/healthz", RequestHost: "paper.localhost:80"},
			want: authz.Target{Style: authz.StyleForwarded, Method: "GET", Scheme: "http", Host: "paper.localhost:80", Path: "/healthz"},
		},
		{
			name: "IPv6Host",
			in:   authz.Forwarded{Method: "GET", URI: "/", Host: "[::1]:8443", Proto: "HTTPS"},
			want: authz.Target{Style: authz.StyleForwarded, Method: "GET", Scheme: "https", Host: "[::1]:8443", Path: "/"},
		},
		{name: "QuestionMarkInQuery", in: authz.Forwarded{Method: "GET", URI: "/a?b=c?d", Host: "h"},
			want: authz.Target{Style: authz.StyleForwarded, Method: "GET", Scheme: "http", Host: "h", Path: "/a", Query: "b=c?d"}},

		{name: "Nothing", in: authz.Forwarded{RequestHost: "h"}, err: authz.ErrNoTarget},
		{name: "NginxNoMethod", in: authz.Forwarded{OriginalURI: "/a", RequestHost: "h"}, err: authz.ErrNoTarget},
		{name: "NginxNoURI", in: authz.Forwarded{OriginalMethod: "GET", RequestHost: "h"}, err: authz.ErrNoTarget},
		{name: "ForwardedNoURI", in: authz.Forwarded{Method: "GET", Host: "h"}, err: authz.ErrNoTarget},
		{name: "BothFamilies", in: authz.Forwarded{OriginalMethod: "GET", OriginalURI: "/api/orders", URI: "/api/transfers", RequestHost: "h"}, err: authz.ErrAmbiguous},
		{name: "BothMethods", in: authz.Forwarded{OriginalMethod: "GET", Method: "POST", OriginalURI: "/a", RequestHost: "h"}, err: authz.ErrAmbiguous},
		{name: "DotDot", in: authz.Forwarded{Method: "POST", URI: "/api/orders/../transfers", Host: "h"}, err: authz.ErrBadTarget},
		{name: "EncodedDot", in: authz.Forwarded{Method: "POST", URI: "/api/orders/%2E%2E/transfers", Host: "h"}, err: authz.ErrBadTarget},
		{name: "EncodedSlash", in: authz.Forwarded{Method: "GET", URI: "/api/orders%2Fx", Host: "h"}, err: authz.ErrBadTarget},
		{name: "DoubleSlash", in: authz.Forwarded{Method: "GET", URI: "//api/orders", Host: "h"}, err: authz.ErrBadTarget},
		{name: "Semicolon", in: authz.Forwarded{Method: "GET", URI: "/api/transfers;x=1", Host: "h"}, err: authz.ErrBadTarget},
		{name: "Backslash", in: authz.Forwarded{Method: "GET", URI: "/api\\transfers", Host: "h"}, err: authz.ErrBadTarget},
		{name: "Fragment", in: authz.Forwarded{Method: "GET", URI: "/a#b", Host: "h"}, err: authz.ErrBadTarget},
		{name: "SpaceInQuery", in: authz.Forwarded{Method: "GET", URI: "/a?b c", Host: "h"}, err: authz.ErrBadTarget},
		{name: "CRLF", in: authz.Forwarded{Method: "GET", URI: "/a?\r\nX: y", Host: "h"}, err: authz.ErrBadTarget},
		{name: "NotOriginForm", in: authz.Forwarded{Method: "GET", URI: "api/orders", Host: "h"}, err: authz.ErrBadTarget},
		{name: "AbsoluteInURI", in: authz.Forwarded{Method: "GET", URI: "http://evil/api", Host: "h"}, err: authz.ErrBadTarget},
		{name: "BadMethod", in: authz.Forwarded{Method: "GE T", URI: "/a", Host: "h"}, err: authz.ErrBadTarget},
		{name: "LongMethod", in: authz.Forwarded{Method: strings.Repeat("A", 33), URI: "/a", Host: "h"}, err: authz.ErrBadTarget},
		{name: "BadScheme", in: authz.Forwarded{Method: "GET", URI: "/a", Host: "h", Proto: "ftp"}, err: authz.ErrBadTarget},
		{name: "BadHost", in: authz.Forwarded{Method: "GET", URI: "/a", Host: "live.localhost/evil"}, err: authz.ErrBadTarget},
		{name: "UserInfo", in: authz.Forwarded{OriginalMethod: "GET", OriginalURL: "https://paper.localhost@live.localhost/api/orders"}, err: authz.ErrBadTarget},
		{name: "NoHost", in: authz.Forwarded{OriginalMethod: "GET", OriginalURI: "/a"}, err: authz.ErrBadTarget},
		{name: "URLWrongScheme", in: authz.Forwarded{OriginalMethod: "GET", OriginalURL: "javascript://x/a"}, err: authz.ErrBadTarget},
		{name: "URLQueryNoPath", in: authz.Forwarded{OriginalMethod: "GET", OriginalURL: "http://h?x"}, err: authz.ErrBadTarget},
		{name: "HugeURI", in: authz.Forwarded{Method: "GET", URI: "/" + strings.Repeat("a", 20000), Host: "h"}, err: authz.ErrBadTarget},
		{name: "HugeHost", in: authz.Forwarded{Method: "GET", URI: "/", Host: strings.Repeat("a", 300)}, err: authz.ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authz.ParseTarget(&tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ParseTarget(%+v) = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTargetURL(t *testing.T) {
	tg, err := authz.ParseTarget(&authz.Forwarded{OriginalMethod: "GET", OriginalURL: "https://live.localhost:8443/api/orders?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tg.URL(), "https://live.localhost:8443/api/orders"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestParseTargetAllocs(t *testing.T) {
	f := authz.Forwarded{OriginalMethod: "POST", OriginalURL: "https://live.localhost/api/orders?x=1"}
	if n := testing.AllocsPerRun(100, func() { authz.ParseTarget(&f) }); n != 0 {
		t.Errorf("ParseTarget allocates %v times, want 0", n)
	}
}

// FuzzParseTarget checks that forwarded headers, which a proxy copies
// from whatever a client sent, never make ParseTarget panic, and that a
// target it accepts is safe to decide on: a canonical path, a token
// method, a known scheme, a host of host characters, and no bytes that
// could split a header or a log line.
func FuzzParseTarget(f *testing.F) {
	seeds := [][8]string{
		{"GET", "https://live.localhost/api/orders?x=1", "", "", "", "", "", "gatehouse"},
		{"POST", "", "/api/orders/../transfers", "", "https", "", "", "live.localhost"},
		{"", "", "", "GET", "https", "paper.localhost", "/api/marketdata/AAPL", ""},
		{"", "", "", "DELETE", "http", "[::1]:80", "/api/orders/%41", ""},
		{"GET", "http://a@b/c", "", "", "", "", "", ""},
		{"GET", "", "/a", "GET", "", "", "/b", "h"},
		{"GET", "HTTPS://H", "", "", "", "", "", ""},
		{"", "", "", "GET", "", "", "/a?b#c", "h"},
		{"", "", "", "G\x00T", "", "", "/a", "h"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	f.Fuzz(func(t *testing.T, om, ourl, ouri, m, proto, host, uri, reqHost string) {
		in := authz.Forwarded{OriginalMethod: om, OriginalURL: ourl, OriginalURI: ouri, Method: m, Proto: proto, Host: host, URI: uri, RequestHost: reqHost}
		tg, err := authz.ParseTarget(&in)
		if err != nil {
			if tg != (authz.Target{}) {
				t.Fatalf("ParseTarget failed with %v but returned %+v", err, tg)
			}
			if !errors.Is(err, authz.ErrNoTarget) && !errors.Is(err, authz.ErrAmbiguous) && !errors.Is(err, authz.ErrBadTarget) {
				t.Fatalf("ParseTarget = %v, not one of its errors", err)
			}
			return
		}
		if policy.CheckPath(tg.Path) != nil {
			t.Fatalf("accepted a path that is not canonical: %q", tg.Path)
		}
		if tg.Method == "" || strings.ContainsAny(tg.Method, " \t\r\n/:") {
			t.Fatalf("accepted method %q", tg.Method)
		}
		if tg.Scheme != "http" && tg.Scheme != "https" {
			t.Fatalf("accepted scheme %q", tg.Scheme)
		}
		if tg.Host == "" || strings.ContainsAny(tg.Host, "/@?# \r\n\\%") {
			t.Fatalf("accepted host %q", tg.Host)
		}
		for _, c := range []byte(tg.Query) {
			if c <= ' ' || c >= 0x7f || c == '#' {
				t.Fatalf("accepted query %q", tg.Query)
			}
		}
		// The style follows the family present, and the other family's
		// method and URI were absent.
		nginx := om != "" || ourl != "" || ouri != ""
		if nginx && (m != "" || uri != "") {
			t.Fatalf("accepted both families: %+v", in)
		}
		if (tg.Style == authz.StyleNginx) != nginx {
			t.Fatalf("style %v for %+v", tg.Style, in)
		}
		// The URL rebuilt for DPoP names the accepted host and path.
		if u := tg.URL(); !strings.HasSuffix(u, "://"+tg.Host+tg.Path) {
			t.Fatalf("URL() = %q", u)
		}
	})
}
