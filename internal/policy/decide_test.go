package policy_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
)

var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func match(t testing.TB, rs *policy.RuleSet, host, method, path string) (*policy.Rule, policy.Params) {
	t.Helper()
	r, ps, ok := rs.Match(host, method, path)
	if !ok {
		t.Fatalf("Match(%q, %q, %q) = no match", host, method, path)
	}
	return r, ps
}

func TestDecide(t *testing.T) {
	rs := compile(t,
		policy.RuleSpec{Path: "/pub", AllowAnonymous: true},
		policy.RuleSpec{Path: "/acct/{id}/move", Environment: "live", Scopes: []string{"transfers:write", "account:read"}, AAL: 3, Fresh: 5 * time.Minute, AccountParam: "id"},
		policy.RuleSpec{Path: "/open"},
	)
	all := apikey.AllScopes
	key := func(acct string, env account.Environment, s apikey.Scopes) *policy.Credential {
		return &policy.Credential{Kind: policy.KeyCredential, KeyID: "k", AccountID: acct, Environment: env, Scopes: s}
	}
	session := func(acct string, s apikey.Scopes, aal int, auth time.Time) *policy.Credential {
		return &policy.Credential{Kind: policy.SessionCredential, SessionID: "s", AccountID: acct, Environment: account.Live, Scopes: s, AAL: aal, AuthTime: auth}
	}
	tests := []struct {
		name    string
		path    string
		cred    *policy.Credential
		kind    policy.Kind
		missing []string
	}{
		{"AnonymousNoCredential", "/pub", nil, policy.Allowed, nil},
		{"AnonymousAnyCredential", "/pub", &policy.Credential{Kind: "weird"}, policy.Allowed, nil},
		{"NoCredential", "/open", nil, policy.Unauthenticated, []string{"credential"}},
		{"UnknownKind", "/open", &policy.Credential{Kind: "cookie", AAL: 3}, policy.Unauthenticated, []string{"credential"}},
		{"SessionWithoutAssurance", "/open", session("", 0, 0, now), policy.Unauthenticated, []string{"credential"}},
		{"OpenRuleKey", "/open", key("a", account.Paper, 0), policy.Allowed, nil},
		{"OpenRuleSession", "/open", session("", 0, 2, time.Time{}), policy.Allowed, nil},
		// A rule that names no aal still asks sessions for AAL2.
		{"OpenRuleEnrolmentSession", "/open", session("", 0, 1, time.Time{}), policy.StepUp, []string{"aal 2"}},
		{"KeyAllowed", "/acct/acc-1/move", key("acc-1", account.Live, all), policy.Allowed, nil},
		{"KeyIgnoresAAL", "/acct/acc-1/move", key("acc-1", account.Live, apikey.ScopesOf(apikey.TransfersWrite, apikey.AccountRead)), policy.Allowed, nil},
		{"KeyWrongEnvironment", "/acct/acc-1/move", key("acc-1", account.Paper, all), policy.Forbidden, []string{"environment live"}},
		{"KeyMissingScopes", "/acct/acc-1/move", key("acc-1", account.Live, apikey.ScopesOf(apikey.OrdersWrite)), policy.Forbidden, []string{"scope account:read", "scope transfers:write"}},
		{"KeyOtherAccount", "/acct/acc-2/move", key("acc-1", account.Live, all), policy.Forbidden, []string{"account acc-2"}},
		{"KeyEverythingWrong", "/acct/acc-2/move", key("acc-1", account.Paper, 0), policy.Forbidden, []string{"environment live", "scope account:read", "scope transfers:write", "account acc-2"}},
		{"SessionAllowed", "/acct/acc-1/move", session("acc-1", all, 3, now.Add(-5*time.Minute)), policy.Allowed, nil},
		{"SessionFutureAuthTime", "/acct/acc-1/move", session("acc-1", all, 3, now.Add(time.Minute)), policy.Allowed, nil},
		{"SessionStaleStepUp", "/acct/acc-1/move", session("acc-1", all, 3, now.Add(-5*time.Minute-time.Second)), policy.StepUp, []string{"fresh step-up within 5m0s"}},
		{"SessionNeverSteppedUp", "/acct/acc-1/move", session("acc-1", all, 3, time.Time{}), policy.StepUp, []string{"fresh step-up within 5m0s"}},
		{"SessionLowAAL", "/acct/acc-1/move", session("acc-1", all, 2, now), policy.StepUp, []string{"aal 3"}},
		{"SessionLowAALStale", "/acct/acc-1/move", session("acc-1", all, 1, now.Add(-time.Hour)), policy.StepUp, []string{"aal 3", "fresh step-up within 5m0s"}},
		{"SessionScopeAndAAL", "/acct/acc-1/move", session("acc-1", apikey.ReadScopes, 2, now), policy.Forbidden, []string{"scope transfers:write", "aal 3"}},
		{"SessionOtherAccount", "/acct/acc-2/move", session("acc-1", all, 3, now), policy.Forbidden, []string{"account acc-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ps := match(t, rs, "h", "POST", tt.path)
			d := policy.Decide(r, ps, tt.cred, now)
			if d.Kind != tt.kind || d.Allow != (tt.kind == policy.Allowed) || d.Rule != r {
				t.Errorf("Decide = {Allow: %v, Kind: %v, Rule: %v}, want {%v, %v, %v}", d.Allow, d.Kind, d.Rule, tt.kind == policy.Allowed, tt.kind, r)
			}
			if diff := cmp.Diff(tt.missing, d.Missing); diff != "" {
				t.Errorf("Decide missing mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNoRule(t *testing.T) {
	d := policy.Decide(nil, policy.Params{}, &policy.Credential{Kind: policy.KeyCredential}, now)
	if d.Allow || d.Kind != policy.Forbidden {
		t.Errorf("Decide(nil rule) = %+v, want Forbidden", d)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[policy.Kind]string{policy.Allowed: "allowed", policy.Unauthenticated: "unauthenticated", policy.StepUp: "step_up", policy.Forbidden: "forbidden", 9: "unknown", -1: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestResolveSession(t *testing.T) {
	rs := compile(t,
		policy.RuleSpec{Host: "live.localhost", Path: "/api/accounts/{id}", Environment: "live", AccountParam: "id"},
		policy.RuleSpec{Host: "live.localhost", Methods: []string{"GET"}, Path: "/api/orders", Environment: "live", Scopes: []string{"orders:read"}},
		policy.RuleSpec{Host: "live.localhost", Methods: []string{"POST"}, Path: "/api/orders", Environment: "live", Scopes: []string{"orders:write"}},
		policy.RuleSpec{Methods: []string{"GET"}, Path: "/api/orders"},
		policy.RuleSpec{Methods: []string{"POST"}, Path: "/api/orders", Scopes: []string{"orders:write"}},
	)
	// The viewer of a family account who owns another: the union of her
	// roles would let her trade on the family account.
	family := []policy.Membership{
		{AccountID: "family", Environment: account.Live, Role: account.Viewer},
		{AccountID: "mine", Environment: account.Live, Role: account.Owner},
		{AccountID: "paper-1", Environment: account.Paper, Role: account.Owner},
	}
	traders := []policy.Membership{
		{AccountID: "live-1", Environment: account.Live, Role: account.Trader},
		{AccountID: "live-2", Environment: account.Live, Role: account.Trader},
	}
	const (
		read  = "account:read marketdata:read orders:read"
		trade = read + " orders:write"
		all   = trade + " transfers:write"
	)
	type out struct {
		Account string
		Env     account.Environment
		Scopes  string
	}
	tests := []struct {
		name               string
		method, host, path string
		named              string
		ms                 []policy.Membership
		want               out
		kind               policy.Kind
		missing            []string
	}{
		{"PathAccountViewer", "GET", "live.localhost", "/api/accounts/family", "", family, out{"family", account.Live, read}, policy.Allowed, nil},
		{"PathAccountOwner", "GET", "live.localhost", "/api/accounts/mine", "", family, out{"mine", account.Live, all}, policy.Allowed, nil},
		{"PathAccountNotMember", "GET", "live.localhost", "/api/accounts/live-9", "", family, out{}, policy.Forbidden, []string{"environment live", "account live-9"}},
		{"PathAccountHeaderAgrees", "GET", "live.localhost", "/api/accounts/mine", "mine", family, out{"mine", account.Live, all}, policy.Allowed, nil},
		{"PathAccountHeaderDisagrees", "GET", "live.localhost", "/api/accounts/mine", "family", family, out{}, policy.Forbidden, []string{"environment live", "account mine"}},

		// The case: no account named, roles differ, a write rule.
		{"UnnamedDifferingRolesWriteRefused", "POST", "live.localhost", "/api/orders", "", family, out{"", account.Live, read}, policy.Forbidden, []string{"scope orders:write", policy.MissingAccountName}},
		{"UnnamedDifferingRolesReadPasses", "GET", "live.localhost", "/api/orders", "", family, out{"", account.Live, read}, policy.Allowed, nil},
		{"NamedOwnAccountWrite", "POST", "live.localhost", "/api/orders", "mine", family, out{"mine", account.Live, all}, policy.Allowed, nil},
		{"NamedViewerAccountWrite", "POST", "live.localhost", "/api/orders", "family", family, out{"family", account.Live, read}, policy.Forbidden, []string{"scope orders:write"}},
		{"NamedNotMember", "POST", "live.localhost", "/api/orders", "other", family, out{}, policy.Forbidden, []string{"environment live", "scope orders:write", "account other"}},
		{"NamedOtherEnvironment", "POST", "live.localhost", "/api/orders", "paper-1", family, out{}, policy.Forbidden, []string{"environment live", "scope orders:write", "account paper-1"}},
		{"UnnamedSingleCandidate", "POST", "live.localhost", "/api/orders", "", family[1:], out{"mine", account.Live, all}, policy.Allowed, nil},
		{"UnnamedIdenticalRoles", "POST", "live.localhost", "/api/orders", "", traders, out{"", account.Live, trade}, policy.Allowed, nil},
		{"UnnamedNoMembershipInEnvironment", "POST", "live.localhost", "/api/orders", "", family[2:], out{}, policy.Forbidden, []string{"environment live", "scope orders:write"}},
		{"NoEnvironmentUnnamedIntersection", "POST", "paper.localhost", "/api/orders", "", family, out{"", "", read}, policy.Forbidden, []string{"scope orders:write", policy.MissingAccountName}},
		{"NoEnvironmentNamed", "POST", "paper.localhost", "/api/orders", "paper-1", family, out{"paper-1", account.Paper, all}, policy.Allowed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ps := match(t, rs, tt.host, tt.method, tt.path)
			c := &policy.Credential{Kind: policy.SessionCredential, AccountID: "stale", Environment: account.Paper, Scopes: apikey.AllScopes, AAL: 2, Unresolved: "stale"}
			c.ResolveSession(r, &ps, tt.named, tt.ms)
			got := out{c.AccountID, c.Environment, c.Scopes.String()}
			if got != tt.want {
				t.Errorf("ResolveSession = %+v, want %+v", got, tt.want)
			}
			d := policy.Decide(r, ps, c, now)
			if d.Kind != tt.kind {
				t.Errorf("Decide = %v, want %v", d.Kind, tt.kind)
			}
			if diff := cmp.Diff(tt.missing, d.Missing); diff != "" {
				t.Errorf("Decide missing mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// A key is left alone.
	r, ps := match(t, rs, "live.localhost", "GET", "/api/accounts/live-1")
	k := &policy.Credential{Kind: policy.KeyCredential, AccountID: "live-9", Environment: account.Live, Scopes: apikey.ScopesOf(apikey.OrdersRead)}
	before := *k
	k.ResolveSession(r, &ps, "live-1", family)
	if *k != before {
		t.Errorf("ResolveSession changed a key credential: %+v, want %+v", *k, before)
	}
}
