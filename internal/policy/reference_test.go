package policy_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
)

func TestReferenceRulesCompile(t *testing.T) {
	specs := policy.ReferenceSpecs()
	if _, err := policy.Compile(specs); err != nil {
		t.Fatalf("Compile(reference.yaml) = %v", err)
	}
	for i, s := range specs {
		if s.Line == 0 {
			t.Errorf("reference rule %d has no line", i)
		}
	}
	if got := policy.ReferenceRules().Len(); got != len(specs) || got < 15 {
		t.Errorf("ReferenceRules().Len() = %d, want %d (at least 15)", got, len(specs))
	}
	file, err := os.ReadFile("reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := policy.ReferenceYAML(); !bytes.Equal(got, file) {
		t.Error("ReferenceYAML() differs from reference.yaml")
	}
}

func TestReferenceDecisions(t *testing.T) {
	rs := policy.ReferenceRules()
	key := func(env account.Environment, acct string, s ...apikey.Scope) *policy.Credential {
		return &policy.Credential{Kind: policy.KeyCredential, KeyID: "k1", UserID: "u1", AccountID: acct, Environment: env, Scopes: apikey.ScopesOf(s...)}
	}
	session := func(env account.Environment, acct string, role account.Role, aal int, authAgo time.Duration) *policy.Credential {
		return &policy.Credential{Kind: policy.SessionCredential, SessionID: "s1", UserID: "u1", AccountID: acct, Environment: env,
			Scopes: apikey.RoleScopes(role), AAL: aal, AuthTime: now.Add(-authAgo)}
	}
	tests := []struct {
		name               string
		host, method, path string
		cred               *policy.Credential
		kind               policy.Kind
		missing            []string
	}{
		{"HealthzAnonymous", "paper.localhost", "GET", "/healthz", nil, policy.Allowed, nil},
		{"HealthzAnyHost", "other.example:80", "HEAD", "/healthz", nil, policy.Allowed, nil},
		{"HealthzPostRefused", "paper.localhost", "POST", "/healthz", nil, policy.Forbidden, []string{"matching rule"}},

		{"AccountRead", "paper.localhost", "GET", "/api/accounts/acc-1", key(account.Paper, "acc-1", apikey.AccountRead), policy.Allowed, nil},
		{"AccountReadOtherAccount", "paper.localhost", "GET", "/api/accounts/acc-2", key(account.Paper, "acc-1", apikey.AccountRead), policy.Forbidden, []string{"account acc-2"}},
		{"AccountReadNoScope", "paper.localhost", "GET", "/api/accounts/acc-1", key(account.Paper, "acc-1", apikey.OrdersRead), policy.Forbidden, []string{"scope account:read"}},
		{"AccountNoCredential", "paper.localhost", "GET", "/api/accounts/acc-1", nil, policy.Unauthenticated, []string{"credential"}},
		{"LiveKeyOnPaperHost", "paper.localhost:8080", "GET", "/api/accounts/acc-1", key(account.Live, "acc-1", apikey.AccountRead), policy.Forbidden, []string{"environment paper"}},
		{"PaperKeyOnLiveHost", "live.localhost", "POST", "/api/orders", key(account.Paper, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"environment live"}},

		{"MarketdataDeep", "live.localhost", "GET", "/api/marketdata/AAPL/bars", key(account.Live, "acc-1", apikey.MarketdataRead), policy.Allowed, nil},
		{"MarketdataNeedsScope", "live.localhost", "GET", "/api/marketdata/AAPL", key(account.Live, "acc-1", apikey.OrdersRead), policy.Forbidden, []string{"scope marketdata:read"}},

		{"OrdersList", "live.localhost", "GET", "/api/orders", key(account.Live, "acc-1", apikey.OrdersRead), policy.Allowed, nil},
		{"OrdersListTrailingSlash", "live.localhost", "GET", "/api/orders/", key(account.Live, "acc-1", apikey.OrdersRead), policy.Allowed, nil},
		{"OrdersReadCannotPost", "live.localhost", "POST", "/api/orders", key(account.Live, "acc-1", apikey.OrdersRead), policy.Forbidden, []string{"scope orders:write"}},
		{"OrdersPost", "live.localhost", "POST", "/api/orders", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Allowed, nil},
		{"OrdersWriteCannotList", "live.localhost", "GET", "/api/orders", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"scope orders:read"}},
		{"OrderCancel", "live.localhost", "DELETE", "/api/orders/ord-9", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Allowed, nil},
		{"OrderCancelNeedsWrite", "live.localhost", "DELETE", "/api/orders/ord-9", key(account.Live, "acc-1", apikey.OrdersRead), policy.Forbidden, []string{"scope orders:write"}},
		{"OrdersPut", "live.localhost", "PUT", "/api/orders/ord-9", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"matching rule"}},

		{"TransferKey", "live.localhost", "POST", "/api/transfers", key(account.Live, "acc-1", apikey.TransfersWrite), policy.Allowed, nil},
		{"TransferKeyWithoutScope", "live.localhost", "POST", "/api/transfers", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"scope transfers:write"}},
		{"TransferOwnerFreshAAL3", "live.localhost", "POST", "/api/transfers", session(account.Live, "", account.Owner, 3, time.Minute), policy.Allowed, nil},
		{"TransferOwnerAAL2", "live.localhost", "POST", "/api/transfers", session(account.Live, "", account.Owner, 2, time.Minute), policy.StepUp, []string{"aal 3"}},
		{"TransferOwnerStale", "live.localhost", "POST", "/api/transfers", session(account.Live, "", account.Owner, 3, 6*time.Minute), policy.StepUp, []string{"fresh step-up within 5m0s"}},
		{"TransferTrader", "live.localhost", "POST", "/api/transfers", session(account.Live, "", account.Trader, 3, time.Minute), policy.Forbidden, []string{"scope transfers:write"}},
		{"PaperTransferStepUp", "paper.localhost", "POST", "/api/transfers", session(account.Paper, "", account.Owner, 1, time.Hour), policy.StepUp, []string{"aal 3", "fresh step-up within 5m0s"}},
		{"ViewerCannotTrade", "live.localhost", "POST", "/api/orders", session(account.Live, "", account.Viewer, 2, time.Hour), policy.Forbidden, []string{"scope orders:write"}},
		{"TraderTrades", "live.localhost", "POST", "/api/orders", session(account.Live, "", account.Trader, 2, time.Hour), policy.Allowed, nil},
		{"EnrolmentSessionStepsUp", "live.localhost", "POST", "/api/orders", session(account.Live, "", account.Trader, 1, time.Hour), policy.StepUp, []string{"aal 2"}},
		{"SessionAccountMember", "live.localhost", "GET", "/api/accounts/acc-1", session(account.Live, "acc-1", account.Viewer, 2, time.Hour), policy.Allowed, nil},

		{"UnknownPath", "live.localhost", "GET", "/api/positions", key(account.Live, "acc-1", apikey.AccountRead), policy.Forbidden, []string{"matching rule"}},
		{"UnknownHost", "evil.localhost", "GET", "/api/orders", key(account.Live, "acc-1", apikey.OrdersRead), policy.Forbidden, []string{"matching rule"}},
		{"TraversalToTransfers", "live.localhost", "POST", "/api/orders/../transfers", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"matching rule"}},
		{"EncodedSlashToTransfers", "live.localhost", "DELETE", "/api/orders/x%2F..%2F..%2Ftransfers", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"matching rule"}},
		{"PathParamToTransfers", "live.localhost", "POST", "/api/transfers;x", key(account.Live, "acc-1", apikey.OrdersWrite), policy.Forbidden, []string{"matching rule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ps, _ := rs.Match(tt.host, tt.method, tt.path)
			d := policy.Decide(r, ps, tt.cred, now)
			if d.Kind != tt.kind || d.Allow != (tt.kind == policy.Allowed) {
				t.Errorf("Decide(%s %s%s) = %v (rule %v), want %v", tt.method, tt.host, tt.path, d.Kind, d.Rule, tt.kind)
			}
			if diff := cmp.Diff(tt.missing, d.Missing); diff != "" {
				t.Errorf("Decide(%s %s%s) missing mismatch (-want +got):\n%s", tt.method, tt.host, tt.path, diff)
			}
		})
	}
}

func TestMatchDecideDoesNotAllocate(t *testing.T) {
	rs := policy.ReferenceRules()
	cred := &policy.Credential{Kind: policy.KeyCredential, AccountID: "acc-1", Environment: account.Live, Scopes: apikey.AllScopes}
	allocs := testing.AllocsPerRun(100, func() {
		r, ps, ok := rs.Match("live.localhost:8443", "GET", "/api/accounts/acc-1")
		if !ok || !policy.Decide(r, ps, cred, now).Allow {
			t.Fatal("not allowed")
		}
		if _, _, ok := rs.Match("live.localhost", "GET", "/api/orders/../transfers"); ok {
			t.Fatal("matched a traversal")
		}
	})
	if allocs != 0 {
		t.Errorf("Match+Decide allocates %v times, want 0", allocs)
	}
}

func BenchmarkMatchDecide(b *testing.B) {
	rs := policy.ReferenceRules()
	cred := &policy.Credential{Kind: policy.KeyCredential, AccountID: "acc-1", Environment: account.Live, Scopes: apikey.AllScopes}
	b.ReportAllocs()
	for b.Loop() {
		// The last rule: the worst case of the linear scan.
		r, ps, ok := rs.Match("live.localhost:8443", "POST", "/api/transfers")
		if !ok || !policy.Decide(r, ps, cred, now).Allow {
			b.Fatal("not allowed")
		}
	}
}
