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
}

// Membership is what [Credential.ResolveSession] needs of one of a user's
// memberships.
type Membership struct {
	AccountID   string
	Environment account.Environment
	Role        account.Role
}

// ResolveSession sets a session credential's AccountID, Environment and
// Scopes for a request that matched rule with params, from the user's
// memberships ms:
//
//   - when the rule names an account (account_param), they are that
//     account's, with [apikey.RoleScopes] of the user's role on it; if the
//     user is not a member they stay empty and [Decide] refuses;
//   - otherwise AccountID stays empty (the upstream learns the user and
//     picks the account itself), Environment is the rule's if the user is
//     a member of any account in it, and Scopes is the union of the
//     role scopes over the user's accounts in that environment (over all
//     accounts if the rule names no environment).
//
// It does nothing to a key credential.
func (c *Credential) ResolveSession(rule *Rule, params *Params, ms []Membership) {
	if c.Kind != SessionCredential || rule == nil {
		return
	}
	c.AccountID, c.Environment, c.Scopes = "", "", 0
	if rule.accountParam != "" {
		want := params.Get(rule.accountParam)
		for _, m := range ms {
			if want != "" && m.AccountID == want {
				c.AccountID, c.Environment, c.Scopes = m.AccountID, m.Environment, apikey.RoleScopes(m.Role)
				return
			}
		}
		return
	}
	for _, m := range ms {
		if rule.env == "" || m.Environment == rule.env {
			c.Environment = rule.env
			c.Scopes |= apikey.RoleScopes(m.Role)
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
)

var kindNames = [...]string{"allowed", "unauthenticated", "step_up", "forbidden"}

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
