package policy_test

import (
	"strings"
	"testing"

	"gatehouse/internal/policy"
)

func TestCheckPath(t *testing.T) {
	ok := []string{
		"/",
		"/api/orders",
		"/api/orders/",
		"/api/orders/ord-7_x.y~z",
		"/api/marketdata/AAPL/quotes",
		"/api/a%20b/%C3%A9",
		"/api/%25",
		"/api/%3B",
		"/api/x:y@z!$&'()*+,=",
		"/...",
		"/.well-known/x",
	}
	for _, p := range ok {
		if err := policy.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	bad := []string{
		"",
		"api/orders",
		"//",
		"//api/orders",
		"/api//orders",
		"/api/orders//",
		"/api/orders/../transfers",
		"/api/orders/..",
		"/api/./orders",
		"/.",
		"/api/orders/%2E%2E/transfers",
		"/api/orders/%2e%2e/transfers",
		"/api/orders%2Ftransfers",
		"/api/orders%2ftransfers",
		"/api/orders%5Ctransfers",
		"/api/orders\\..\\transfers",
		"/api/transfers;jsessionid=1",
		"/api/transfers;",
		"/api/%6Frders",
		"/api/%41",
		"/api/%2D",
		"/api/%7E",
		"/api/%00",
		"/api/%0A",
		"/api/%7F",
		"/api/%c3%a9",
		"/api/%",
		"/api/%2",
		"/api/%GG",
		"/api/orders?x=1",
		"/api/orders#frag",
		"/api/ord ers",
		"/api/ord\x00ers",
		"/api/é",
		"/api/\t",
		"/api/orders/\"",
		"/api/<script>",
		"/" + strings.Repeat("a", policy.MaxPathLen),
	}
	for _, p := range bad {
		if err := policy.CheckPath(p); err != policy.ErrPath {
			t.Errorf("CheckPath(%q) = %v, want ErrPath", p, err)
		}
	}
}

func compile(t testing.TB, specs ...policy.RuleSpec) *policy.RuleSet {
	t.Helper()
	rs, err := policy.Compile(specs)
	if err != nil {
		t.Fatalf("Compile = %v", err)
	}
	return rs
}

func TestMatch(t *testing.T) {
	rs := compile(t,
		policy.RuleSpec{Path: "/healthz", Methods: []string{"GET"}},                             // 0
		policy.RuleSpec{Host: "Live.Localhost", Path: "/api/accounts/{id}/orders/{oid}"},        // 1
		policy.RuleSpec{Host: "live.localhost", Path: "/api/accounts/{id}"},                     // 2
		policy.RuleSpec{Host: "live.localhost", Path: "/api/orders", Methods: []string{"post"}}, // 3
		policy.RuleSpec{Host: "live.localhost", Path: "/api/orders"},                            // 4
		policy.RuleSpec{Host: "live.localhost", Path: "/api/marketdata/{rest...}"},              // 5
		policy.RuleSpec{Host: "live.localhost", Path: "/static/"},                               // 6
		policy.RuleSpec{Host: "::1", Path: "/v6"},                                               // 7
		policy.RuleSpec{Path: "/api/"},                                                          // 8
	)
	tests := []struct {
		name               string
		host, method, path string
		rule               int // -1: no match
		params             map[string]string
	}{
		{"Exact", "any.example", "GET", "/healthz", 0, nil},
		{"GetImpliesHead", "any.example", "HEAD", "/healthz", 0, nil},
		{"MethodMismatch", "any.example", "POST", "/healthz", -1, nil},
		{"MethodCaseSensitive", "any.example", "get", "/healthz", -1, nil},
		{"TrailingSlashOnExact", "any.example", "GET", "/healthz/", 0, nil},
		{"NoExtraSegments", "any.example", "GET", "/healthz/x", -1, nil},
		{"TwoParams", "live.localhost", "GET", "/api/accounts/acc-1/orders/o-9", 1, map[string]string{"id": "acc-1", "oid": "o-9"}},
		{"HostCaseAndPort", "LIVE.localhost:8443", "GET", "/api/accounts/acc-1", 2, map[string]string{"id": "acc-1"}},
		{"HostTrailingDot", "live.localhost.", "GET", "/api/accounts/acc-1", 2, map[string]string{"id": "acc-1"}},
		{"HostUnicodeFoldRefused", "live.local\u212ahost", "GET", "/api/accounts/acc-1", 8, nil},
		{"OtherHostFallsThrough", "paper.localhost", "GET", "/api/accounts/acc-1", 8, nil},
		{"ParamNotEmpty", "live.localhost", "GET", "/api/accounts/", 8, nil},
		{"MethodRule", "live.localhost", "POST", "/api/orders", 3, nil},
		{"AnyMethod", "live.localhost", "PATCH", "/api/orders", 4, nil},
		{"RestEmpty", "live.localhost", "GET", "/api/marketdata/", 5, map[string]string{"rest": ""}},
		{"RestDeep", "live.localhost", "GET", "/api/marketdata/AAPL/bars/1m", 5, map[string]string{"rest": "AAPL/bars/1m"}},
		{"RestNeedsSlash", "live.localhost", "GET", "/api/marketdata", 8, nil},
		{"Subtree", "live.localhost", "GET", "/static/app.js", 6, nil},
		{"SubtreeItself", "live.localhost", "GET", "/static/", 6, nil},
		{"SubtreeNoSlash", "live.localhost", "GET", "/static", -1, nil},
		{"IPv6Host", "[::1]:8080", "GET", "/v6", 7, nil},
		{"CatchAll", "x", "GET", "/api/anything/at/all", 8, nil},
		{"DotDotRefused", "live.localhost", "GET", "/api/orders/../transfers", -1, nil},
		{"EncodedSlashRefused", "live.localhost", "GET", "/api/marketdata%2F..%2Ftransfers", -1, nil},
		{"LiteralCaseSensitive", "live.localhost", "POST", "/API/orders", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ps, ok := rs.Match(tt.host, tt.method, tt.path)
			if tt.rule < 0 {
				if ok {
					t.Fatalf("Match(%q, %q, %q) = %v, want no match", tt.host, tt.method, tt.path, r)
				}
				return
			}
			if !ok {
				t.Fatalf("Match(%q, %q, %q) = no match, want rule %d", tt.host, tt.method, tt.path, tt.rule)
			}
			if got := ruleIndex(r); got != tt.rule {
				t.Fatalf("Match(%q, %q, %q) = rule %d (%v), want rule %d", tt.host, tt.method, tt.path, got, r, tt.rule)
			}
			if ps.Len() != len(tt.params) {
				t.Errorf("Match(%q) bound %d params, want %d", tt.path, ps.Len(), len(tt.params))
			}
			for k, v := range tt.params {
				if got := ps.Get(k); got != v {
					t.Errorf("Match(%q): param %q = %q, want %q", tt.path, k, got, v)
				}
			}
		})
	}
}

// ruleIndex recovers a rule's index from its String, "… (rule N)".
func ruleIndex(r *policy.Rule) int {
	s := r.String()
	i := strings.LastIndex(s, "(rule ")
	n := 0
	for _, c := range s[i+len("(rule ") : len(s)-1] {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestMatchNilRuleSet(t *testing.T) {
	var rs *policy.RuleSet
	if r, _, ok := rs.Match("h", "GET", "/"); ok {
		t.Errorf("nil RuleSet matched %v", r)
	}
	if rs.Len() != 0 {
		t.Errorf("nil RuleSet Len = %d", rs.Len())
	}
}

func TestRuleString(t *testing.T) {
	rs := compile(t, policy.RuleSpec{Host: "Live.localhost", Methods: []string{"GET"}, Path: "/api/orders", Line: 12})
	r, _, _ := rs.Match("live.localhost", "GET", "/api/orders")
	if got, want := r.String(), "GET,HEAD live.localhost/api/orders (line 12)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
