package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"gatehouse/internal/policy"
)

func TestUnmarshalYAML(t *testing.T) {
	doc := `
rules:
  - host: live.localhost
    methods: [GET, post]
    path: /api/orders/{id}
    scopes: [orders:read]
    environment: live
    aal: 2
    fresh: 5m
    account_param: id

  - path: /healthz
    allow_anonymous: true
`
	var cfg struct {
		Rules []policy.RuleSpec `yaml:"rules"`
	}
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := []policy.RuleSpec{
		{Host: "live.localhost", Methods: []string{"GET", "post"}, Path: "/api/orders/{id}", Scopes: []string{"orders:read"},
			Environment: "live", AAL: 2, Fresh: 5 * time.Minute, AccountParam: "id", Line: 3},
		{Path: "/healthz", AllowAnonymous: true, Line: 12},
	}
	if diff := cmp.Diff(want, cfg.Rules); diff != "" {
		t.Errorf("decoded rules mismatch (-want +got):\n%s", diff)
	}
}

func TestUnmarshalYAMLErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"UnknownField", "- path: /x\n  scope: [orders:write]\n", `line 2: unknown field "scope"`},
		{"LineNotAField", "- path: /x\n  line: 3\n", `line 2: unknown field "line"`},
		{"NotAMapping", "- /x\n", "line 1: a route rule must be a mapping"},
		{"BadDuration", "- path: /x\n  fresh: 300\n", "line 2"},
		{"BadAAL", "- path: /x\n  aal: three\n", "line 2"},
		{"UnknownFieldInMerge", "- &a {path: /x, scops: [x]}\n- <<: *a\n  host: h\n", `line 1: unknown field "scops"`},
		{"DuplicateKey", "- path: /x\n  path: /y\n", "already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.ParseSpecs([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSpecs(%q) = %v, want an error containing %q", tt.doc, err, tt.want)
			}
		})
	}
}

func TestUnmarshalYAMLMerge(t *testing.T) {
	doc := `
- &paper
  host: paper.localhost
  environment: paper
  path: /api/orders
  scopes: [orders:read]
- <<: *paper
  path: /api/positions
`
	specs, err := policy.ParseSpecs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := policy.RuleSpec{Host: "paper.localhost", Environment: "paper", Path: "/api/positions", Scopes: []string{"orders:read"}, Line: 7}
	if diff := cmp.Diff(want, specs[1]); diff != "" {
		t.Errorf("merged rule mismatch (-want +got):\n%s", diff)
	}
}

func TestCompileProblems(t *testing.T) {
	doc := `
- path: /ok
- host: live.localhost:8443
  path: api/orders
- methods: [GET, "G ET"]
  path: /a/{id}/{id}
  scopes: [orders:read, orders:all]
  environment: prod
  aal: 4
  fresh: -5m
- path: /a/{x}
  account_param: id
- path: /a/{rest...}
  account_param: rest
- path: /pub
  allow_anonymous: true
  scopes: [orders:read]
- host: "*"
  methods: []
  path: /a/{x...}/b
- path: /a/../b
- path: /x/y{z}
- path: /x/{$}
- path: /x/{9}
- path: /x/%2F
- path: /x/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}
`
	specs, err := policy.ParseSpecs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = policy.Compile(specs)
	var ce *policy.CompileError
	if !errors.As(err, &ce) || !errors.Is(err, policy.ErrInvalidRules) {
		t.Fatalf("Compile = %v, want a *CompileError", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`line 3: host: "live.localhost:8443" is not a bare host name (no port, no brackets, no trailing dot)`,
		`line 3: path: "api/orders" must start with /`,
		`line 5: methods[1]: "G ET" is not an HTTP method`,
		`line 5: path: wildcard {id} appears twice`,
		`line 5: scopes[1]: unknown scope "orders:all"`,
		`line 5: environment: unknown environment "prod" (want paper or live)`,
		`line 5: aal: 4 is not an assurance level (want 1, 2 or 3)`,
		`line 5: fresh: must not be negative`,
		`line 11: account_param: "id" is not a wildcard of path "/a/{x}"`,
		`line 13: account_param: "rest" is a {...} wildcard; an account is one segment`,
		`line 15: allow_anonymous: an anonymous rule cannot require scopes, environment, aal, fresh, account_param or approval`,
		`line 18: host: "*" is not a host; leave host out to match every host`,
		`line 18: methods: empty list; leave methods out to match every method`,
		`line 18: path: wildcard "{x...}" must be the last segment`,
		`line 21: path: segment ".." is not canonical: dot segment`,
		`line 22: path: "y{z}": a wildcard must be a whole segment`,
		`line 23: path: {$} is not supported: a pattern without a trailing slash already matches only its own path`,
		`line 24: path: wildcard "{9}": the name must be a Go identifier`,
		`line 25: path: segment "%2F" is not canonical: percent-escape of a slash, backslash or control character`,
		`line 26: path: more than 8 wildcards`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "\n\tline 26: path: more than 8 wildcards") {
		t.Errorf("Error() = %q, want one problem per line", err.Error())
	}
}

func TestCompileUnreachable(t *testing.T) {
	tests := []struct {
		name      string
		first     policy.RuleSpec
		second    policy.RuleSpec
		reachable bool
	}{
		{"Identical", policy.RuleSpec{Host: "h", Methods: []string{"GET"}, Path: "/a"}, policy.RuleSpec{Host: "H", Methods: []string{"get"}, Path: "/a", Scopes: []string{"orders:read"}}, false},
		{"AnyHostFirst", policy.RuleSpec{Path: "/a"}, policy.RuleSpec{Host: "h", Path: "/a"}, false},
		{"AnyHostSecond", policy.RuleSpec{Host: "h", Path: "/a"}, policy.RuleSpec{Path: "/a"}, true},
		{"OtherHost", policy.RuleSpec{Host: "h", Path: "/a"}, policy.RuleSpec{Host: "g", Path: "/a"}, true},
		{"AnyMethodFirst", policy.RuleSpec{Path: "/a"}, policy.RuleSpec{Methods: []string{"POST"}, Path: "/a"}, false},
		{"AnyMethodSecond", policy.RuleSpec{Methods: []string{"POST"}, Path: "/a"}, policy.RuleSpec{Path: "/a"}, true},
		{"MethodSubset", policy.RuleSpec{Methods: []string{"GET", "POST"}, Path: "/a"}, policy.RuleSpec{Methods: []string{"POST"}, Path: "/a"}, false},
		{"HeadUnderGet", policy.RuleSpec{Methods: []string{"GET"}, Path: "/a"}, policy.RuleSpec{Methods: []string{"HEAD"}, Path: "/a"}, false},
		{"GetNotUnderHead", policy.RuleSpec{Methods: []string{"HEAD"}, Path: "/a"}, policy.RuleSpec{Methods: []string{"GET"}, Path: "/a"}, true},
		{"OtherMethod", policy.RuleSpec{Methods: []string{"GET"}, Path: "/a"}, policy.RuleSpec{Methods: []string{"POST"}, Path: "/a"}, true},
		{"WildcardCoversLiteral", policy.RuleSpec{Path: "/a/{id}"}, policy.RuleSpec{Path: "/a/b"}, false},
		{"LiteralBeforeWildcard", policy.RuleSpec{Path: "/a/b"}, policy.RuleSpec{Path: "/a/{id}"}, true},
		{"RenamedWildcard", policy.RuleSpec{Path: "/a/{id}"}, policy.RuleSpec{Path: "/a/{x}"}, false},
		{"SubtreeCoversDeeper", policy.RuleSpec{Path: "/api/"}, policy.RuleSpec{Path: "/api/orders"}, false},
		{"SubtreeCoversSubtree", policy.RuleSpec{Path: "/api/"}, policy.RuleSpec{Path: "/api/md/{rest...}"}, false},
		{"RestEqualsSubtree", policy.RuleSpec{Path: "/api/{rest...}"}, policy.RuleSpec{Path: "/api/"}, false},
		{"RootCoversAll", policy.RuleSpec{Path: "/"}, policy.RuleSpec{Path: "/x/{y}/z"}, false},
		{"SubtreeNotItsBase", policy.RuleSpec{Path: "/api/"}, policy.RuleSpec{Path: "/api"}, true},
		{"SubtreeNotSameDepthExact", policy.RuleSpec{Path: "/api/{x}/"}, policy.RuleSpec{Path: "/api/{x}"}, true},
		{"ExactNotSubtree", policy.RuleSpec{Path: "/api"}, policy.RuleSpec{Path: "/api/"}, true},
		{"DeeperSubtreeNotShallower", policy.RuleSpec{Path: "/api/md/"}, policy.RuleSpec{Path: "/api/"}, true},
		{"DifferentLength", policy.RuleSpec{Path: "/a/{x}"}, policy.RuleSpec{Path: "/a/{x}/{y}"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.first.Line, tt.second.Line = 3, 7
			_, err := policy.Compile([]policy.RuleSpec{tt.first, tt.second})
			if tt.reachable {
				if err != nil {
					t.Errorf("Compile(%+v, %+v) = %v, want nil", tt.first, tt.second, err)
				}
				return
			}
			want := "line 7: unreachable: the rule at line 3 matches every request this one does; put the narrower rule first"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Compile(%+v, %+v) = %v, want %q", tt.first, tt.second, err, want)
			}
		})
	}
}

func TestCompileWithoutLines(t *testing.T) {
	_, err := policy.Compile([]policy.RuleSpec{{Path: "/a"}, {Path: "/a"}})
	if want := "rule 1: unreachable: the rule at rule 0 matches"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Compile = %v, want %q", err, want)
	}
}

func TestRuleAccessors(t *testing.T) {
	rs := compile(t, policy.RuleSpec{
		Host: "h", Path: "/api/accounts/{id}/transfers", Scopes: []string{"transfers:write", "account:read"},
		Environment: "live", AAL: 3, Fresh: 5 * time.Minute, AccountParam: "id",
	})
	r, _, ok := rs.Match("h", "POST", "/api/accounts/a/transfers")
	if !ok {
		t.Fatal("no match")
	}
	if r.Path() != "/api/accounts/{id}/transfers" || r.Scopes().String() != "account:read transfers:write" ||
		r.Environment() != "live" || r.AAL() != 3 || r.Fresh() != 5*time.Minute || r.AccountParam() != "id" ||
		r.AllowAnonymous() || r.Line() != 0 {
		t.Errorf("accessors of %v disagree with the spec", r)
	}
}
