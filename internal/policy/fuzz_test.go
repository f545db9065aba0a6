package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
)

// FuzzMatch checks that Match and Decide never panic on what a client
// controls, and that a matched path is canonical.
func FuzzMatch(f *testing.F) {
	for _, s := range [][3]string{
		{"live.localhost", "GET", "/api/accounts/acc-1"},
		{"paper.localhost:8080", "DELETE", "/api/orders/ord-1"},
		{"LIVE.LOCALHOST.", "GET", "/api/marketdata/AAPL/bars"},
		{"[::1]:443", "HEAD", "/healthz"},
		{"live.localhost", "POST", "/api/orders/../transfers"},
		{"live.localhost", "POST", "/api/orders/%2E%2E/transfers"},
		{"live.localhost", "POST", "/api/transfers;x"},
		{"live.localhost", "POST", "//api/transfers"},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	rs := policy.ReferenceRules()
	key := &policy.Credential{Kind: policy.KeyCredential, AccountID: "acc-1", Environment: account.Live, Scopes: apikey.AllScopes}
	session := &policy.Credential{Kind: policy.SessionCredential, AAL: 2, AuthTime: now.Add(-time.Hour)}
	ms := []policy.Membership{{AccountID: "acc-1", Environment: account.Live, Role: account.Owner}}
	f.Fuzz(func(t *testing.T, host, method, path string) {
		r, ps, ok := rs.Match(host, method, path)
		canonical := policy.CheckPath(path) == nil
		if ok {
			if !canonical {
				t.Fatalf("Match(%q) matched a path CheckPath refuses", path)
			}
			for _, bad := range []string{"/../", "/./", "//", "%2F", "%2f", "%2E", "%2e", "%5C", "\\", ";"} {
				// The appended "/" exposes a final dot segment; a
				// trailing slash is allowed, so look for "//" without it.
				if strings.Contains(path+"/", bad) && (bad != "//" || strings.Contains(path, bad)) {
					t.Fatalf("Match matched %q, which contains %q", path, bad)
				}
			}
			if r == nil {
				t.Fatal("Match = nil rule, true")
			}
			if id := ps.Get(r.AccountParam()); r.AccountParam() != "" && (id == "" || !strings.Contains(path, "/"+id)) {
				t.Fatalf("Match(%q): account param %q", path, id)
			}
		} else if r != nil || ps.Len() != 0 {
			t.Fatalf("Match = %v, %d params, false", r, ps.Len())
		}
		for _, c := range []*policy.Credential{nil, key, session} {
			if c == session {
				s := *session
				s.ResolveSession(r, &ps, "", ms)
				c = &s
			}
			d := policy.Decide(r, ps, c, now)
			if d.Allow != (d.Kind == policy.Allowed) || (d.Allow && len(d.Missing) > 0) || (!d.Allow && len(d.Missing) == 0) {
				t.Fatalf("Decide = %+v: inconsistent", d)
			}
			if d.Allow && r == nil {
				t.Fatal("Decide allowed without a rule")
			}
		}
	})
}

// FuzzCompile checks that decoding and compiling any rule file never
// panics, that every problem names a line, and that a compiled set
// matches without panicking.
func FuzzCompile(f *testing.F) {
	f.Add(string(policy.ReferenceYAML()))
	f.Add("- path: /a/{id}\n  account_param: id\n  scopes: [orders:read]\n- path: /a/\n  methods: [GET]\n")
	f.Add("- path: /a\n- path: /a\n")
	f.Add("- {path: '/x/{rest...}', aal: 4, fresh: 1m, environment: live}\n")
	f.Add("- &a {path: /x}\n- <<: *a\n  host: h\n")
	f.Fuzz(func(t *testing.T, doc string) {
		specs, err := policy.ParseSpecs([]byte(doc))
		if err != nil {
			return
		}
		rs, err := policy.Compile(specs)
		if err != nil {
			var ce *policy.CompileError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Compile = %v, want a *CompileError with problems", err)
			}
			for _, p := range ce.Problems {
				if p.Line <= 0 {
					t.Fatalf("problem without a line: %+v", p)
				}
			}
			return
		}
		for _, s := range specs {
			p := strings.NewReplacer("{", "", "}", "", "...", "").Replace(s.Path)
			for _, m := range []string{"GET", "POST"} {
				if r, ps, ok := rs.Match(s.Host, m, p); ok {
					policy.Decide(r, ps, &policy.Credential{Kind: policy.SessionCredential, AAL: 1}, now)
				}
			}
		}
	})
}
