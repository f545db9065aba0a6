package policy

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
)

// MaxParams is the most wildcards a path pattern may hold. A fixed bound
// lets [Params] live on the stack.
const MaxParams = 8

// RuleSpec is one route rule as written in the configuration; [Compile]
// checks it. See the package documentation for the meaning of each field.
type RuleSpec struct {
	Host           string        `yaml:"host"`
	Methods        []string      `yaml:"methods"`
	Path           string        `yaml:"path"`
	Scopes         []string      `yaml:"scopes"`
	Environment    string        `yaml:"environment"`
	AAL            int           `yaml:"aal"`
	Fresh          time.Duration `yaml:"fresh"` // a Go duration: "5m", "90s"
	AccountParam   string        `yaml:"account_param"`
	AllowAnonymous bool          `yaml:"allow_anonymous"`
	// Approval "required" asks for a transaction-bound approval token of
	// ApprovalKind in the Gatehouse-Approval header; ApprovalOver, when
	// set, waives it for requests whose [AmountHeader] is below it.
	Approval     string   `yaml:"approval"`
	ApprovalKind string   `yaml:"approval_kind"`
	ApprovalOver *float64 `yaml:"approval_over"`

	// Line is where the rule starts in its YAML file, set by
	// UnmarshalYAML; zero for rules built in code.
	Line int `yaml:"-"`
}

var specFields = []string{"host", "methods", "path", "scopes", "environment", "aal", "fresh", "account_param", "allow_anonymous", "approval", "approval_kind", "approval_over"}

// UnmarshalYAML decodes a rule and records its line. It refuses unknown
// fields even when the surrounding decoder does not: a misspelt "scope:"
// silently dropped would leave a route open to every credential.
func (s *RuleSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("policy: line %d: a route rule must be a mapping", n.Line)
	}
	if err := checkFields(n, 0); err != nil {
		return err
	}
	type plain RuleSpec // no methods: no recursion into UnmarshalYAML
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = RuleSpec(p)
	s.Line = n.Line
	return nil
}

// checkFields refuses unknown keys in a rule mapping, following merge
// keys ("<<: *common") into the mappings they merge.
func checkFields(n *yaml.Node, depth int) error {
	if depth > 8 {
		return fmt.Errorf("policy: line %d: merge keys nested too deep", n.Line)
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := checkFields(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	case yaml.MappingNode:
	default:
		return fmt.Errorf("policy: line %d: a route rule must be a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case k.Value == "<<" && k.Tag == "!!merge":
			if err := checkFields(n.Content[i+1], depth+1); err != nil {
				return err
			}
		case !slices.Contains(specFields, k.Value):
			return fmt.Errorf("policy: line %d: unknown field %q in route rule (known: %s)", k.Line, k.Value, strings.Join(specFields, ", "))
		}
	}
	return nil
}

// Rule is a compiled route rule. It is immutable and safe for concurrent
// use.
type Rule struct {
	line, index  int
	host         string   // lower case; "" matches every host
	methods      []string // nil matches every method; GET implies HEAD
	path         string
	pat          pattern
	scopes       apikey.Scopes
	env          account.Environment
	aal          int
	fresh        time.Duration
	accountParam string
	anonymous    bool
	approvalKind approval.Kind // "": no approval needed
	approvalOver float64       // meaningful when hasOver
	hasOver      bool

	// What Decide reports missing, built once here so that denying
	// does not format on the hot path.
	missEnv, missAAL, missFresh string
	missScope                   [32]string
}

// Line returns the YAML line the rule came from, or zero.
func (r *Rule) Line() int { return r.line }

// Path returns the rule's path pattern.
func (r *Rule) Path() string { return r.path }

// Scopes returns the scopes the rule requires.
func (r *Rule) Scopes() apikey.Scopes { return r.scopes }

// Environment returns the environment the rule requires, or "".
func (r *Rule) Environment() account.Environment { return r.env }

// AAL returns the assurance a session needs for the rule, or 0.
func (r *Rule) AAL() int { return r.aal }

// Fresh returns how recent a session's last strong proof must be, or 0.
func (r *Rule) Fresh() time.Duration { return r.fresh }

// AccountParam returns the name of the path wildcard that holds the
// account, or "".
func (r *Rule) AccountParam() string { return r.accountParam }

// AllowAnonymous reports whether the rule lets requests through without
// a credential.
func (r *Rule) AllowAnonymous() bool { return r.anonymous }

// CoolsDown reports whether a user's cool-down refuses the rule's
// requests: those that move money out or change where it may go
// (scope transfers:write, or an approval of a transfer, a bank-account
// change, a live key or a permission). Orders are not covered: a
// cool-down slows the risky actions that follow a security change, it
// does not stop trading.
func (r *Rule) CoolsDown() bool {
	switch r.approvalKind {
	case approval.Transfer, approval.BankAccountChange, approval.LiveKey, approval.Permission:
		return true
	}
	return r.scopes.Has(apikey.TransfersWrite)
}

// ApprovalKind returns the kind of approval the rule requires, or "".
func (r *Rule) ApprovalKind() approval.Kind { return r.approvalKind }

// ApprovalWaived reports whether a request declaring amount (the value
// of [AmountHeader], "" when absent) needs no approval: the rule has an
// approval_over threshold and amount is a plain decimal below it. An
// absent or malformed amount never waives: the rule fails closed.
func (r *Rule) ApprovalWaived(amount string) bool {
	if !r.hasOver || amount == "" || len(amount) > 32 {
		return false
	}
	for i := 0; i < len(amount); i++ {
		if c := amount[i]; !(c >= '0' && c <= '9' || c == '.') {
			return false // no sign, exponent, NaN or Inf
		}
	}
	v, err := strconv.ParseFloat(amount, 64)
	return err == nil && v < r.approvalOver
}

// ApprovalOver returns the rule's approval_over threshold and whether it
// has one.
func (r *Rule) ApprovalOver() (float64, bool) { return r.approvalOver, r.hasOver }

// String describes the rule for logs, e.g. "GET,HEAD live.localhost/api/orders (line 12)".
func (r *Rule) String() string {
	var b strings.Builder
	if r.methods != nil {
		b.WriteString(strings.Join(r.methods, ","))
		b.WriteByte(' ')
	}
	b.WriteString(r.host)
	b.WriteString(r.path)
	b.WriteString(" (")
	b.WriteString(r.where())
	b.WriteByte(')')
	return b.String()
}

func (r *Rule) where() string {
	if r.line > 0 {
		return "line " + strconv.Itoa(r.line)
	}
	return "rule " + strconv.Itoa(r.index)
}

// RuleSet is an ordered list of compiled rules. It is immutable and safe
// for concurrent use; a nil *RuleSet matches nothing.
type RuleSet struct {
	rules []Rule
}

// Len returns the number of rules.
func (rs *RuleSet) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// ErrInvalidRules matches every [*CompileError] with [errors.Is].
var ErrInvalidRules = errors.New("policy: invalid route rules")

// Problem is one thing wrong with one rule.
type Problem struct {
	Line    int // YAML line of the rule, or 0 for rules built in code
	Rule    int // index of the rule in the list given to Compile
	Field   string
	Message string
}

// String returns "line 12: scopes[0]: unknown scope "x"", or "rule 3: …"
// when the line is unknown.
func (p Problem) String() string {
	where := "rule " + strconv.Itoa(p.Rule)
	if p.Line > 0 {
		where = "line " + strconv.Itoa(p.Line)
	}
	if p.Field == "" {
		return where + ": " + p.Message
	}
	return where + ": " + p.Field + ": " + p.Message
}

// CompileError lists every problem [Compile] found, so that an operator
// fixes the configuration in one pass.
type CompileError struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidRules.Error())
	b.WriteByte(':')
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is [ErrInvalidRules].
func (e *CompileError) Is(target error) bool { return target == ErrInvalidRules }

// Compile checks specs and returns the rule set, or a [*CompileError] with
// every problem, each naming its YAML line.
func Compile(specs []RuleSpec) (*RuleSet, error) {
	rs := &RuleSet{rules: make([]Rule, len(specs))}
	var probs []Problem
	for i, s := range specs {
		add := func(field, format string, args ...any) {
			probs = append(probs, Problem{Line: s.Line, Rule: i, Field: field, Message: fmt.Sprintf(format, args...)})
		}
		r := &rs.rules[i]
		r.line, r.index = s.Line, i

		if h, msg := compileHost(s.Host); msg != "" {
			add("host", "%s", msg)
		} else {
			r.host = h
		}

		for j, m := range s.Methods {
			if !isToken(m) {
				add("methods["+strconv.Itoa(j)+"]", "%q is not an HTTP method", m)
				continue
			}
			m = strings.ToUpper(m)
			if !slices.Contains(r.methods, m) {
				r.methods = append(r.methods, m)
			}
		}
		if slices.Contains(r.methods, "GET") && !slices.Contains(r.methods, "HEAD") {
			r.methods = append(r.methods, "HEAD")
		}
		if s.Methods != nil && len(s.Methods) == 0 {
			add("methods", "empty list; leave methods out to match every method")
		}

		r.path = s.Path
		pat, patErr := parsePattern(s.Path)
		if patErr != nil {
			add("path", "%v", patErr)
		} else {
			r.pat = pat
		}

		for j, name := range s.Scopes {
			x, err := apikey.ParseScope(name)
			if err != nil {
				add("scopes["+strconv.Itoa(j)+"]", "unknown scope %q", name)
				continue
			}
			r.scopes |= apikey.Scopes(x)
		}

		if s.Environment != "" {
			env, err := account.ParseEnvironment(s.Environment)
			if err != nil {
				add("environment", "unknown environment %q (want paper or live)", s.Environment)
			}
			r.env = env
		}

		switch {
		case s.AAL < 0 || s.AAL > 3:
			add("aal", "%d is not an assurance level (want 1, 2 or 3)", s.AAL)
		case s.AAL == 0 && !s.AllowAnonymous:
			// A session without a second factor (AAL1, for enrolment) must
			// not reach an upstream unless a rule says so with aal: 1.
			r.aal = 2
		default:
			r.aal = s.AAL
		}

		if s.Fresh < 0 {
			add("fresh", "must not be negative")
		}
		r.fresh = s.Fresh

		if s.AccountParam != "" {
			r.accountParam = s.AccountParam
			if patErr == nil {
				switch k := pat.param(s.AccountParam); {
				case k == paramNone:
					add("account_param", "%q is not a wildcard of path %q", s.AccountParam, s.Path)
				case k == paramRest:
					add("account_param", "%q is a {...} wildcard; an account is one segment", s.AccountParam)
				}
			}
		}

		switch s.Approval {
		case "":
			if s.ApprovalKind != "" || s.ApprovalOver != nil {
				add("approval", `approval_kind and approval_over need approval: required`)
			}
		case "required":
			k, err := approval.ParseKind(s.ApprovalKind)
			if err != nil {
				add("approval_kind", "%q: want order, transfer, bank_account_change, live_key or permission", s.ApprovalKind)
			}
			r.approvalKind = k
			if s.ApprovalOver != nil {
				if o := *s.ApprovalOver; o < 0 || math.IsNaN(o) || o > 1e15 {
					add("approval_over", "a threshold from 0 to 1e15")
				}
				r.approvalOver, r.hasOver = *s.ApprovalOver, true
			}
		default:
			add("approval", "%q: want required, or leave it out", s.Approval)
		}

		r.anonymous = s.AllowAnonymous
		if s.AllowAnonymous && (len(s.Scopes) > 0 || s.Environment != "" || s.AAL != 0 || s.Fresh != 0 || s.AccountParam != "" || s.Approval != "") {
			add("allow_anonymous", "an anonymous rule cannot require scopes, environment, aal, fresh, account_param or approval")
		}

		r.missEnv = "environment " + string(r.env)
		r.missAAL = "aal " + strconv.Itoa(r.aal)
		r.missFresh = "fresh step-up within " + r.fresh.String()
		for b := range r.missScope {
			if x := apikey.Scope(1) << b; apikey.Scopes(x)&r.scopes != 0 {
				r.missScope[b] = "scope " + x.String()
			}
		}
	}
	if len(probs) == 0 {
		// Only meaningful once every rule parsed.
		for i := range rs.rules {
			for j := range i {
				if covers(&rs.rules[j], &rs.rules[i]) {
					s := specs[i]
					probs = append(probs, Problem{Line: s.Line, Rule: i, Message: fmt.Sprintf(
						"unreachable: the rule at %s matches every request this one does; put the narrower rule first",
						rs.rules[j].where())})
					break
				}
			}
		}
	}
	if len(probs) > 0 {
		return nil, &CompileError{Problems: probs}
	}
	return rs, nil
}

// MustCompile is like Compile but panics on error. It is for rule sets
// fixed in the program, such as [ReferenceRules].
func MustCompile(specs []RuleSpec) *RuleSet {
	rs, err := Compile(specs)
	if err != nil {
		panic(err)
	}
	return rs
}

// compileHost lower-cases a rule's host and checks it is a bare host name
// or address.
func compileHost(h string) (string, string) {
	if h == "" {
		return "", ""
	}
	if h == "*" {
		return "", `"*" is not a host; leave host out to match every host`
	}
	l := strings.ToLower(h)
	if len(l) > 253 || hostOnly(l) != l {
		return "", fmt.Sprintf("%q is not a bare host name (no port, no brackets, no trailing dot)", h)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':') {
			return "", fmt.Sprintf("%q is not a host name", h)
		}
	}
	return l, ""
}

// isToken reports whether s is an HTTP token (RFC 9110), as methods are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// covers reports whether every request rule b matches is matched by a,
// which makes b unreachable after a.
func covers(a, b *Rule) bool {
	if a.host != "" && a.host != b.host {
		return false
	}
	if a.methods != nil {
		if b.methods == nil {
			return false
		}
		for _, m := range b.methods {
			if !slices.Contains(a.methods, m) {
				return false
			}
		}
	}
	return a.pat.covers(&b.pat)
}
