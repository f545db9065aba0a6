package policy_test

import (
	"strings"
	"testing"

	"gatehouse/internal/approval"
	"gatehouse/internal/policy"
)

func TestApprovalRules(t *testing.T) {
	specs, err := policy.ParseSpecs([]byte(`
- path: /api/transfers
  approval: required
  approval_kind: transfer
- path: /api/orders
  approval: required
  approval_kind: order
  approval_over: 10000
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := policy.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	tr, _, _ := rs.Match("h", "POST", "/api/transfers")
	or, _, _ := rs.Match("h", "POST", "/api/orders")
	if tr.ApprovalKind() != approval.Transfer || tr.ApprovalWaived("1") {
		t.Errorf("transfer rule: kind %q, waived for 1", tr.ApprovalKind())
	}
	if or.ApprovalKind() != approval.Order {
		t.Errorf("order rule kind = %q", or.ApprovalKind())
	}
	for amount, want := range map[string]bool{
		"9999.99": true, "0": true, ".5": true, "10000": false, "10000.01": false, "": false, "-1": false, "1e3": false,
		"NaN": false, "Inf": false, "0x10": false, "1,000": false, " 5": false, "1.2.3": false, strings.Repeat("1", 40): false,
	} {
		if got := or.ApprovalWaived(amount); got != want {
			t.Errorf("ApprovalWaived(%q) = %v, want %v", amount, got, want)
		}
	}
}

func TestApprovalRuleProblems(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"- path: /a\n  approval: maybe\n", `approval: "maybe"`},
		{"- path: /a\n  approval: required\n", "approval_kind"},
		{"- path: /a\n  approval: required\n  approval_kind: lottery\n", "approval_kind"},
		{"- path: /a\n  approval_kind: order\n", "need approval: required"},
		{"- path: /a\n  approval: required\n  approval_kind: order\n  approval_over: -1\n", "approval_over"},
		{"- path: /a\n  allow_anonymous: true\n  approval: required\n  approval_kind: order\n", "anonymous"},
		{"- path: /a\n  approvals: required\n", "unknown field"},
	} {
		specs, err := policy.ParseSpecs([]byte(tt.doc))
		if err == nil {
			_, err = policy.Compile(specs)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rules %q: %v, want a problem naming %q", tt.doc, err, tt.want)
		}
	}
}

// FuzzApprovalWaived: never panics, and waives only plain decimals below
// the threshold.
func FuzzApprovalWaived(f *testing.F) {
	specs, _ := policy.ParseSpecs([]byte("- path: /a\n  approval: required\n  approval_kind: order\n  approval_over: 100\n"))
	rs := policy.MustCompile(specs)
	r, _, _ := rs.Match("h", "POST", "/a")
	for _, s := range []string{"1", "99.99", "100", "1e1", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, amount string) {
		if !r.ApprovalWaived(amount) {
			return
		}
		if strings.Trim(amount, "0123456789.") != "" || strings.Count(amount, ".") > 1 {
			t.Fatalf("ApprovalWaived(%q): not a plain decimal", amount)
		}
	})
}
