package apikey_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

func TestDefaultLimits(t *testing.T) {
	want := apikey.Limits{
		DefaultTTL:                90 * day,
		MaxTTL:                    365 * day,
		UnrestrictedTradingMaxTTL: 30 * day,
		RotationOverlap:           24 * time.Hour,
		DormantAfter:              30 * day,
	}
	l := apikey.DefaultLimits()
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("DefaultLimits() mismatch (-want +got):\n%s", diff)
	}
	if err := l.Validate(); err != nil {
		t.Errorf("DefaultLimits().Validate() = %v, want nil", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*apikey.Limits)
		want []string // substrings, one per problem
	}{
		{"DefaultOverMax", func(l *apikey.Limits) { l.DefaultTTL = 400 * day }, []string{"default ttl 400 days exceeds max ttl 365 days"}},
		{"Zeroes", func(l *apikey.Limits) { *l = apikey.Limits{} }, []string{"default ttl must be positive", "max ttl must be positive", "unrestricted trading max ttl must be positive"}},
		{"Negative", func(l *apikey.Limits) { l.RotationOverlap, l.DormantAfter = -1, -1 }, []string{"rotation overlap", "dormant-after"}},
		{"DormantOff", func(l *apikey.Limits) { l.DormantAfter, l.RotationOverlap = 0, 0 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := apikey.DefaultLimits()
			tt.edit(&l)
			err := l.Validate()
			if (err != nil) != (len(tt.want) > 0) {
				t.Fatalf("Validate() = %v, want problems %q", err, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestValidateOK(t *testing.T) {
	l := apikey.DefaultLimits()
	tests := []struct {
		name string
		req  apikey.Request
		acct account.Environment
		aal  int
		want apikey.Spec
	}{
		{
			name: "ReadOnlyDefaultTTL",
			req:  apikey.Request{Name: "dashboard", Scopes: []string{"account:read", "orders:read"}},
			acct: account.Live, aal: 1,
			want: apikey.Spec{Name: "dashboard", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.AccountRead, apikey.OrdersRead), TTL: 90 * day},
		},
		{
			name: "PaperTradingNotShortened",
			req:  apikey.Request{Name: "backtest", Environment: "paper", Scopes: []string{"orders:write"}, ExpiresIn: 365 * day},
			acct: account.Paper, aal: 1,
			want: apikey.Spec{Name: "backtest", Environment: account.Paper, Scopes: apikey.ScopesOf(apikey.OrdersWrite), TTL: 365 * day},
		},
		{
			name: "LiveTradingNoAllowlistShortened",
			req:  apikey.Request{Name: "bot", Environment: "live", Scopes: []string{"orders:write"}, ExpiresIn: 60 * day},
			acct: account.Live, aal: 2,
			want: apikey.Spec{Name: "bot", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.OrdersWrite), TTL: 30 * day, Shortened: true},
		},
		{
			name: "LiveTradingNoAllowlistDefaultShortened",
			req:  apikey.Request{Name: "bot", Scopes: []string{"orders:write"}},
			acct: account.Live, aal: 2,
			want: apikey.Spec{Name: "bot", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.OrdersWrite), TTL: 30 * day, Shortened: true},
		},
		{
			name: "LiveTradingShortRequestKept",
			req:  apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, ExpiresIn: 7 * day},
			acct: account.Live, aal: 2,
			want: apikey.Spec{Name: "bot", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.OrdersWrite), TTL: 7 * day},
		},
		{
			name: "LiveTradingWithAllowlist",
			req:  apikey.Request{Name: "vm-3 bot", Scopes: []string{"orders:write", "orders:read"}, AllowIPs: []string{"203.0.113.7", "2001:db8::/48"}, ExpiresIn: 180 * day},
			acct: account.Live, aal: 2,
			want: apikey.Spec{Name: "vm-3 bot", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.OrdersRead, apikey.OrdersWrite), AllowIPs: prefixes("203.0.113.7/32", "2001:db8::/48"), TTL: 180 * day},
		},
		{
			name: "TransfersAtAAL3WithAllowlist",
			req:  apikey.Request{Name: "treasury", Scopes: []string{"transfers:write"}, AllowIPs: []string{"198.51.100.0/24"}},
			acct: account.Live, aal: 3,
			want: apikey.Spec{Name: "treasury", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.TransfersWrite), AllowIPs: prefixes("198.51.100.0/24"), TTL: 90 * day},
		},
		{
			name: "MappedAddressesUnmapped",
			req:  apikey.Request{Name: "x", Scopes: []string{"orders:read"}, AllowIPs: []string{"::ffff:10.1.2.3", "::ffff:10.0.0.0/104", "2001:db8::1"}},
			acct: account.Paper, aal: 1,
			want: apikey.Spec{Name: "x", Environment: account.Paper, Scopes: apikey.ScopesOf(apikey.OrdersRead), AllowIPs: prefixes("10.1.2.3/32", "10.0.0.0/8", "2001:db8::1/128"), TTL: 90 * day},
		},
		{
			name: "ExactlyMaxTTL",
			req:  apikey.Request{Name: "😀 émoji name", Scopes: []string{"marketdata:read"}, ExpiresIn: 365 * day},
			acct: account.Live, aal: 1,
			want: apikey.Spec{Name: "😀 émoji name", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.MarketdataRead), TTL: 365 * day},
		},
		{
			name: "Name64Runes",
			req:  apikey.Request{Name: strings.Repeat("é", 64), Scopes: []string{"marketdata:read"}},
			acct: account.Live, aal: 1,
			want: apikey.Spec{Name: strings.Repeat("é", 64), Environment: account.Live, Scopes: apikey.ScopesOf(apikey.MarketdataRead), TTL: 90 * day},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.Validate(l, tt.acct, tt.aal)
			if err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpNetip); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateProblems(t *testing.T) {
	l := apikey.DefaultLimits()
	type P = apikey.Problem
	many := make([]string, 33)
	for i := range many {
		many[i] = "10.0.0.1"
	}
	tests := []struct {
		name string
		req  apikey.Request
		acct account.Environment
		aal  int
		want []P
	}{
		{
			name: "Everything",
			req: apikey.Request{
				Name:        "",
				Environment: "paper",
				Scopes:      []string{"orders:all", "transfers:write"},
				AllowIPs:    []string{"10.0.0.0/8", "10.0.0.0/33"},
				ExpiresIn:   400 * day,
			},
			acct: account.Live, aal: 2,
			want: []P{
				{"name", "is required"},
				{"environment", `key for "paper" on a "live" account`},
				{"scopes[0]", `unknown scope "orders:all"`},
				{"allow_ips[1]", `"10.0.0.0/33" is not a CIDR`},
				{"scopes", "transfers:write needs AAL3"},
				{"expires_in", "400 days exceeds the maximum of 365 days"},
			},
		},
		{
			name: "TransfersNeedAllowlist",
			req:  apikey.Request{Name: "t", Scopes: []string{"transfers:write"}},
			acct: account.Live, aal: 3,
			want: []P{{"scopes", "transfers:write needs an IP allowlist"}},
		},
		{
			name: "TransfersNeedAllowlistAndAAL3",
			req:  apikey.Request{Name: "t", Scopes: []string{"transfers:write"}},
			acct: account.Paper, aal: 2,
			want: []P{{"scopes", "transfers:write needs an IP allowlist"}, {"scopes", "transfers:write needs AAL3"}},
		},
		{
			name: "UnknownEnvironment",
			req:  apikey.Request{Name: "t", Environment: "prod", Scopes: []string{"orders:read"}},
			acct: account.Live, aal: 1,
			want: []P{{"environment", `unknown environment "prod" (want paper or live)`}},
		},
		{
			name: "NoScopes",
			req:  apikey.Request{Name: "t", Scopes: []string{}},
			acct: account.Live, aal: 1,
			want: []P{{"scopes", "at least one scope is required"}},
		},
		{
			name: "TooManyEntries",
			req:  apikey.Request{Name: "t", Scopes: make([]string, 33), AllowIPs: many},
			acct: account.Live, aal: 1,
			want: []P{{"scopes", "too many entries (33, at most 32)"}, {"allow_ips", "too many entries (33, at most 32)"}},
		},
		{
			name: "BadAllowlist",
			req: apikey.Request{Name: "t", Scopes: []string{"orders:read"}, AllowIPs: []string{
				"10.0.0.1/8", "0.0.0.0/0", "::/0", "2001:db8::/31", "fe80::1%eth0", " 10.0.0.1", "example.com",
				"::ffff:0:0/95", strings.Repeat("1", 100), "10.0.0.0/7", "2001:db8::1/48", "10.0.0.0/8", "2001:db8::/32",
			}},
			acct: account.Live, aal: 1,
			want: []P{
				{"allow_ips[0]", `"10.0.0.1/8" has host bits set; did you mean "10.0.0.0/8"?`},
				{"allow_ips[1]", `"0.0.0.0/0" is wider than /8, too broad to restrict anything`},
				{"allow_ips[2]", `"::/0" is wider than /32, too broad to restrict anything`},
				{"allow_ips[3]", `"2001:db8::/31" is wider than /32, too broad to restrict anything`},
				{"allow_ips[4]", `"fe80::1%eth0" is not a CIDR`},
				{"allow_ips[5]", `" 10.0.0.1" is not a CIDR`},
				{"allow_ips[6]", `"example.com" is not a CIDR`},
				{"allow_ips[7]", `"::ffff:0:0/95" mixes IPv4-mapped and IPv6 addresses; write the IPv4 prefix`},
				{"allow_ips[8]", `"` + strings.Repeat("1", 64) + `"… is not a CIDR`},
				{"allow_ips[9]", `"10.0.0.0/7" is wider than /8, too broad to restrict anything`},
				{"allow_ips[10]", `"2001:db8::1/48" has host bits set; did you mean "2001:db8::/48"?`},
			},
		},
		{
			name: "BadNames",
			req:  apikey.Request{Name: strings.Repeat("x", 65), Scopes: []string{"orders:read"}, ExpiresIn: -time.Second},
			acct: account.Live, aal: 1,
			want: []P{{"name", "longer than 64 characters"}, {"expires_in", "must not be negative"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.req.Validate(l, tt.acct, tt.aal)
			var re *apikey.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("Validate() = %v, want a *RequestError", err)
			}
			if !errors.Is(err, apikey.ErrInvalidRequest) {
				t.Errorf("errors.Is(%v, ErrInvalidRequest) = false, want true", err)
			}
			if diff := cmp.Diff(tt.want, re.Problems); diff != "" {
				t.Errorf("Validate() problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name string
		want string // "" for valid
	}{
		{"a", ""},
		{"momentum bot #2 (vm-3)", ""},
		{"日本語のボット", ""},
		{" bot", "has leading or trailing spaces"},
		{"bot ", "has leading or trailing spaces"},
		{"bot\n", "must be printable text"},
		{"bot\tx", "must be printable text"},
		{"bot\u202eevil", "must be printable text"},
		{"bot\u00a0x", "must be printable text"},
		{"bot\u200bx", "must be printable text"},
		{"\xff", "must be printable text"},
		{strings.Repeat("é", 65), "longer than 64 characters"},
	}
	for _, tt := range tests {
		req := apikey.Request{Name: tt.name, Scopes: []string{"orders:read"}}
		_, err := req.Validate(apikey.DefaultLimits(), account.Paper, 1)
		var got string
		if re := (*apikey.RequestError)(nil); errors.As(err, &re) {
			got = re.Problems[0].Message
		} else if err != nil {
			t.Fatalf("Validate(name %q) = %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("Validate(name %q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRequestErrorMessage(t *testing.T) {
	err := &apikey.RequestError{Problems: []apikey.Problem{{"name", "is required"}, {"scopes[0]", `unknown scope "x"`}}}
	if got, want := err.Error(), `apikey: invalid key request: name: is required; scopes[0]: unknown scope "x"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSpecNewKey(t *testing.T) {
	spec, err := apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, AllowIPs: []string{"203.0.113.0/24"}}.
		Validate(apikey.DefaultLimits(), account.Live, 2)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustGenerate(t, account.Live, nil)
	k, err := spec.NewKey(tok, "acc-1", "u1", t0)
	if err != nil {
		t.Fatalf("NewKey = %v", err)
	}
	want := apikey.Key{
		ID: tok.ID, AccountID: "acc-1", Name: "bot", Environment: account.Live,
		Scopes: apikey.ScopesOf(apikey.OrdersWrite), AllowIPs: prefixes("203.0.113.0/24"),
		SecretHash: tok.Hash, CreatedBy: "u1", CreatedAt: t0, ExpiresAt: t0.Add(90 * day),
	}
	if diff := cmp.Diff(want, k, cmpNetip); diff != "" {
		t.Errorf("NewKey mismatch (-want +got):\n%s", diff)
	}
	if err := k.Usable(t0); err != nil {
		t.Errorf("new key: Usable = %v, want nil", err)
	}
	if !k.AllowsAddr(netip.MustParseAddr("::ffff:203.0.113.9")) || k.AllowsAddr(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("new key's allowlist does not work: %v", k.AllowIPs)
	}

	if _, err := spec.NewKey(mustGenerate(t, account.Paper, nil), "acc-1", "u1", t0); err != apikey.ErrEnvironment {
		t.Errorf("NewKey with a paper token = %v, want ErrEnvironment", err)
	}
	if _, err := spec.NewKey(tok, "acc 1", "u1", t0); err != account.ErrInvalidID {
		t.Errorf("NewKey with a bad account ID = %v, want account.ErrInvalidID", err)
	}
}
