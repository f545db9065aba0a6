// Package policy holds the route rules of forward-auth (GET /v1/authz)
// and the pure decision made on every proxied request: given the host,
// method and path the reverse proxy forwards, and the caller's credential,
// may the request through?
//
// # Rules
//
// Rules come from the YAML configuration as a list of [RuleSpec]:
//
//	# one rule, every field shown
//	- host: live.localhost          # optional; a bare host name, any case, no port
//	  methods: [POST]               # optional; none means every method
//	  path: /api/transfers          # required; see Paths below
//	  environment: live             # optional; paper or live
//	  scopes: [transfers:write]     # optional; every one is required
//	  aal: 3                        # optional; 1 to 3, sessions only
//	  fresh: 5m                     # optional; step-up at most this old, sessions only
//	  account_param: id             # optional; the path wildcard that names the account
//	  allow_anonymous: false        # public route: no credential needed, nothing required
//
// They are tried in order and the first that matches host, method and
// path decides; when none matches the request is denied. [Compile] refuses,
// at start and with the YAML line, a rule that can never match because an
// earlier one matches everything it does (two identical rules, or a broad
// rule above a narrow one), an unknown field or scope, an environment other
// than paper or live, an aal outside 1..3, and a bad path pattern.
//
// A rule for GET also matches HEAD, as in [net/http.ServeMux].
//
// # Paths
//
// Patterns follow net/http.ServeMux, minus its precedence rules (here
// order decides) and minus {$}:
//
//   - "/api/orders" matches that path only, with or without one trailing
//     slash ("/api/orders/"): a server that treats both alike must not
//     let the second dodge the first's rule.
//   - "/api/orders/{id}" matches one non-empty segment in place of {id},
//     e.g. "/api/orders/ord-7", and binds it to id.
//   - "/api/marketdata/" (trailing slash) matches that directory and
//     everything below it.
//   - "/api/marketdata/{rest...}" likewise, binding what follows the
//     slash (possibly empty) to rest. It must come last.
//
// A wildcard is a whole segment; names are Go identifiers, unique within
// a pattern, at most [MaxParams] of them. Literal segments compare exactly
// and case-sensitively, against the path as the client sent it (still
// percent-encoded).
//
// # Canonical paths
//
// Forward-auth sees the path before the upstream does, and the two must
// agree on what it names, or "/api/orders/../transfers" would be checked
// against the orders rule and served by the transfers handler. Normalising
// cannot guarantee agreement (every server normalises a little
// differently), so [CheckPath] refuses, and [RuleSet.Match] never matches,
// a path that is not already canonical:
//
//   - empty, or not starting with "/";
//   - an empty segment ("//"), or a "." or ".." segment;
//   - a byte outside RFC 3986 path characters, and ";" (path parameters,
//     which some servers strip) and "\" (which some servers read as "/");
//   - a malformed percent-escape, one in lower-case hex, or one that
//     encodes an unreserved character (%41, %2E), "/" (%2F), "\" (%5C) or
//     a control character: the upstream decodes these into something else
//     than what was checked.
//
// The caller answers [ErrPath] with 400. Clients that build URLs with a
// standard library never send such paths.
//
// # Decisions
//
// [Decide] checks a credential against the matched rule: the environment,
// the scopes, and, when the rule has account_param, that the credential
// acts on the account the path names. Sessions must also hold the rule's
// aal and, with fresh, have proved it (logged in or stepped up) within
// that time; a session lacking only those is told to step up
// ([StepUp]), not refused.
//
// API keys have no assurance of their own: aal and fresh do not apply to
// them, and their scopes are what the rule gates. The powers that need
// strong assurance were paid for when the key was made: a transfers:write
// key can only be created at AAL3 and only with an IP allowlist (see
// [apikey.Request.Validate]).
//
// Sessions belong to a user, not an account. [Credential.ResolveSession]
// gives a session the account, environment and scopes the rule needs from
// the user's memberships, limited by role ([apikey.RoleScopes]: owner
// everything, trader everything but transfers:write, viewer the read
// scopes), so that Decide treats both kinds of credential alike. A session
// acts on one account at a time: the path's (account_param), or the one
// its request names in the [AccountHeader] header; never with the union
// of its roles over several accounts.
package policy
