package policy

import (
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

// CredentialKind says what kind of credential a request carried.
type CredentialKind string

// Credential kinds.
const (
	SessionCredential CredentialKind = "session" // web cookie, or desktop/mobile DPoP-bound token
	KeyCredential     CredentialKind = "apikey"  // Authorization: Bearer gatehouse_…
)

// Credential is the authenticated caller of one request, after the
// caller of [Decide] checked that the session or key exists and is
// usable.
//
// AccountID, Environment and Scopes say what the credential may act on.
// For a key they are the key's own. For a session, which belongs to a
// user rather than an account, they come from the user's memberships:
// fill them with [Credential.ResolveSession].
type Credential struct {
	Kind      CredentialKind
	UserID    string // the session's user, or the key's creator
	SessionID string // sessions only
	KeyID     string // keys only

	AccountID   string
	Environment account.Environment
	Scopes      apikey.Scopes

	// AAL and AuthTime are the session's assurance level and the time of
	// its last strong proof (login or step-up). Keys leave them zero: see
	// the package documentation.
	AAL      int
	AuthTime time.Time

	// Unresolved says which account the credential could not act on, as
	// [Decision.Missing] will name it: "account ACC-7" (a session that is
	// no member of the account its request names, a key for another
	// account than the one named), or [MissingAccountName] (see
	// [Credential.ResolveSession]). Decide refuses a credential that has
	// it.
	Unresolved string
}

// Membership is what [Credential.ResolveSession] needs of one of a user's
// memberships.
type Membership struct {
	AccountID   string
	Environment account.Environment
	Role        account.Role
}

// AccountHeader is the request header in which a session's client names
// the account a request acts on, for rules without account_param. The
// proxy passes it to forward-auth with the client's other headers. It is
// not the X-Gatehouse-Account identity header, which the proxy strips
// from clients and sets from gatehouse's answer.
const AccountHeader = "Gatehouse-Account"

// ApprovalHeader is the request header that carries an approval token
// for rules with approval: required.
const ApprovalHeader = "Gatehouse-Approval"

// AmountHeader is the request header in which the client declares the
// amount (a notional, a transfer amount) that a rule's approval_over
// threshold is compared with. The upstream must check the body against
// it: forward-auth never sees the body.
const AmountHeader = "Gatehouse-Amount"

// MissingAccountName is what [Decision.Missing] holds when a session must
// name its account and did not.
const MissingAccountName = "account named in the " + AccountHeader + " header"

// ResolveSession sets a session credential's AccountID, Environment and
// Scopes for a request that matched rule with params, from the user's
// memberships ms and the account the request names in [AccountHeader]
// (named, "" when absent). A session acts on one account at a time, with
// [apikey.RoleScopes] of the user's role on it, never with the union of
// its roles over several:
//
//   - when the rule names an account (account_param), it is that one; a
//     header naming another, or a user who is not a member, leaves the
//     credential empty, and [Decide] refuses;
//   - otherwise, when the request names an account, it is that one, if the
//     user is a member of it in the rule's environment (any, when the rule
//     names none); if not, Unresolved says so and Decide refuses;
//   - otherwise the candidates are the user's accounts in the rule's
//     environment. One candidate is the account. Several give the
//     scopes every candidate role holds (their intersection) and no
//     AccountID: the upstream picks the account, and whichever it picks,
//     the user holds at least those scopes there. When the roles differ
//     and the intersection lacks a scope the rule requires (a viewer of
//     one account and the owner of another asking to place an order),
//     Unresolved asks the client to name the account.
//
// It does nothing to a key credential.
func (c *Credential) ResolveSession(rule *Rule, params *Params, named string, ms []Membership) {
	if c.Kind != SessionCredential || rule == nil {
		return
	}
	c.AccountID, c.Environment, c.Scopes, c.Unresolved = "", "", 0, ""
	if rule.accountParam != "" {
		want := params.Get(rule.accountParam)
		if want == "" || named != "" && named != want {
			return
		}
		for _, m := range ms {
			if m.AccountID == want {
				c.AccountID, c.Environment, c.Scopes = m.AccountID, m.Environment, apikey.RoleScopes(m.Role)
				return
			}
		}
		return
	}
	n := 0
	var only *Membership
	scopes := apikey.AllScopes
	for i := range ms {
		m := &ms[i]
		if rule.env != "" && m.Environment != rule.env {
			continue
		}
		if named != "" {
			if m.AccountID == named {
				c.AccountID, c.Environment, c.Scopes = m.AccountID, m.Environment, apikey.RoleScopes(m.Role)
				return
			}
			continue
		}
		n++
		only = m
		scopes &= apikey.RoleScopes(m.Role)
	}
	switch {
	case named != "":
		c.Unresolved = "account " + named
	case n == 1:
		c.AccountID, c.Environment, c.Scopes = only.AccountID, only.Environment, apikey.RoleScopes(only.Role)
	case n > 1:
		c.Environment, c.Scopes = rule.env, scopes
		if rule.scopes&^scopes != 0 {
			c.Unresolved = MissingAccountName
		}
	}
}

// Kind classifies a [Decision] for the HTTP answer.
type Kind int

// Decision kinds.
const (
	// Allowed: 200, with identity headers.
	Allowed Kind = iota
	// Unauthenticated: no usable credential; 401.
	Unauthenticated
	// StepUp: a session that lacks only assurance or freshness; 401 with
	// a step-up challenge (RFC 9470 insufficient_user_authentication,
	// with the rule's AAL and Fresh as acr_values and max_age), so the
	// client raises the session rather than starting over.
	StepUp
	// Forbidden: a credential that can never pass this rule (scope,
	// environment, account), or no rule matched; 403.
	Forbidden
	// ApprovalRequired: a credential the rule allows, on a route that
	// needs a transaction-bound approval it did not bring (or brought a
	// bad, used, expired or mismatched one); 403 approval-required.
	ApprovalRequired
	// Cooldown: a credential the rule allows, of a user whose cool-down
	// runs, on a route it covers ([Rule.CoolsDown]); 403 cooldown.
	Cooldown
	// RateLimited: an order-placing request over its credential's ceiling
	// per minute; 403 rate-limited with retry_after.
	RateLimited
	// Hold: an API key with a hold on new networks, used from one its
	// owner has not approved; 403 hold.
	Hold
)

var kindNames = [...]string{"allowed", "unauthenticated", "step_up", "forbidden", "approval_required", "cooldown", "rate_limited", "hold"}

// String returns the kind's name, e.g. "step_up".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Decision is the outcome of [Decide].
type Decision struct {
	Allow bool
	Kind  Kind
	// Missing lists what the credential lacks, e.g. "scope orders:write",
	// "environment live", "aal 3", "fresh step-up within 5m0s",
	// "account acc-1". It is for the audit log and the operator; clients
	// should get no more than the Kind.
	Missing []string
	// Rule is the rule that decided, or nil when none matched.
	Rule *Rule
}

// Decide decides whether cred may make a request that matched rule with
// params at now. A nil rule (nothing matched) is Forbidden; an anonymous
// rule allows anything; a nil credential or a session without assurance
// is Unauthenticated. Otherwise every requirement is checked and all that
// fail are listed. Allowing does not allocate.
func Decide(rule *Rule, params Params, cred *Credential, now time.Time) Decision {
	if rule == nil {
		return Decision{Kind: Forbidden, Missing: []string{"matching rule"}}
	}
	if rule.anonymous {
		return Decision{Allow: true, Kind: Allowed, Rule: rule}
	}
	if cred == nil ||
		cred.Kind != KeyCredential && cred.Kind != SessionCredential ||
		cred.Kind == SessionCredential && cred.AAL < 1 {
		return Decision{Kind: Unauthenticated, Missing: []string{"credential"}, Rule: rule}
	}

	var missing []string
	if rule.env != "" && cred.Environment != rule.env {
		missing = append(missing, rule.missEnv)
	}
	if lack := rule.scopes &^ cred.Scopes; lack != 0 {
		for b, s := range rule.missScope {
			if lack&(1<<b) != 0 {
				missing = append(missing, s)
			}
		}
	}
	if rule.accountParam != "" {
		if want := params.Get(rule.accountParam); want == "" || cred.AccountID != want {
			missing = append(missing, "account "+want)
		}
	}
	if cred.Unresolved != "" {
		missing = append(missing, cred.Unresolved)
	}
	stepUpOnly := len(missing) == 0
	if cred.Kind == SessionCredential {
		if cred.AAL < rule.aal {
			missing = append(missing, rule.missAAL)
		}
		if rule.fresh > 0 && (cred.AuthTime.IsZero() || now.Sub(cred.AuthTime) > rule.fresh) {
			missing = append(missing, rule.missFresh)
		}
	}

	switch {
	case len(missing) == 0:
		return Decision{Allow: true, Kind: Allowed, Rule: rule}
	case stepUpOnly:
		return Decision{Kind: StepUp, Missing: missing, Rule: rule}
	}
	return Decision{Kind: Forbidden, Missing: missing, Rule: rule}
}
