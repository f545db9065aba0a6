// Package authz is gatehouse's decision point: forward-auth
// (GET /v1/authz), which a reverse proxy asks before every request reaches
// the trading API, and the API keys it accepts.
//
// A forward-auth request flows, cheapest refusal first:
//
//  1. [ParseTarget]: the original method, host and canonical path, from the
//     headers of a trusted proxy;
//  2. the route rule ([policy.RuleSet.Match]); none denies;
//  3. the credential: an API key (Authorization: Bearer gatehouse_…),
//     parsed and checksummed before any look-up, then read by id through
//     a cache, its secret compared in constant time, its state and
//     allowlist checked; or a session, from the web cookie or from
//     Authorization: DPoP with a proof whose htm and htu name the
//     original request;
//  4. [policy.Decide]: scopes, environment, account, and for sessions
//     assurance and step-up freshness.
//
// Every cache here (keys, memberships, and the sessions of package authn)
// believes an entry for at most its max age, so a revocation made
// elsewhere takes effect within it; a change made through this instance
// is seen by the very next request. Uses are recorded in memory and
// written in batches off the request path.
package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
	"gatehouse/internal/audit"
	"gatehouse/internal/authn"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// MembershipSource is what the membership cache reads; store.Store is one.
type MembershipSource interface {
	// UserByID gives the user's cool-down, cached with the memberships.
	UserByID(ctx context.Context, id string) (*user.User, error)
	MembershipsOfUser(ctx context.Context, userID string) ([]*account.Membership, error)
	AccountByID(ctx context.Context, id string) (*account.Account, error)
	// FactorsOfUser tells whether a user owes a phishing-resistant
	// factor a signal asks for; read only while such a rule is in force.
	FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error)
}

// Config configures [New].
type Config struct {
	Rules    *policy.RuleSet
	Keys     *Keys
	Sessions *authn.Sessions
	Members  MembershipSource
	// Watch, when set, follows revocations made by other processes on the
	// store, for the key cache and the session cache alike.
	Watch *authn.Watcher
	// Replay remembers the DPoP proofs seen by forward-auth; nil means a
	// new one whose window covers the proofs' accepted age. It must not be the API's own
	// cache: a proof is made for one request, and forward-auth and the
	// API each see their own requests.
	Replay *dpop.ReplayCache
	// Shared, when set, spends every proof forward-auth accepts in the
	// store too (kind "dpop:authz"), so that no other instance accepts it
	// again; see [authn.Authenticator.Shared].
	Shared store.Once
	// DPoPMaxAge is how old a proof's iat may be.
	DPoPMaxAge time.Duration
	// MaxAge bounds how long memberships are believed before they are
	// read again.
	MaxAge time.Duration
	// Approvals checks and spends the approval tokens of rules with
	// approval: required; nil refuses every such request.
	Approvals *Approvals
	// OrdersPerMinute is the ceiling on order-placing requests (POST on a
	// rule asking for orders:write) per key and per session, counted in
	// this instance (see [bursts]); 0 sets none.
	OrdersPerMinute int
	// Signals holds the temporary rules of the security signals in force
	// (re-authentication, route assurance, phishing-resistant factor by a
	// deadline); nil for none.
	Signals *signal.InForce
	// Networks names the networks of watched keys' clients (an
	// operator's autonomous-system map, else /24 and /48); nil for the
	// prefixes alone.
	Networks *NetworkMap
	Now      func() time.Time // nil means time.Now
}

// Service makes forward-auth decisions. It is safe for concurrent use.
type Service struct {
	rules   *policy.RuleSet
	keys    *Keys
	auth    *authn.Authenticator // with forward-auth's own replay cache
	watch   *authn.Watcher
	now     func() time.Time
	members members
	appr    *Approvals
	bursts  *bursts
	signals *signal.InForce
	nets    *keyNetworks // nil without a key store
}

// New returns the forward-auth service.
func New(c Config) *Service {
	s := &Service{rules: c.Rules, keys: c.Keys, watch: c.Watch, now: c.Now, appr: c.Approvals, signals: c.Signals,
		bursts:  &bursts{perMinute: c.OrdersPerMinute, buckets: map[string]*bucket{}},
		members: members{src: c.Members, maxAge: c.MaxAge, byUser: map[string]*memberEntry{}}}
	if s.now == nil {
		s.now = time.Now
	}
	replay := c.Replay
	if replay == nil {
		replay = &dpop.ReplayCache{Window: max(c.DPoPMaxAge, dpop.DefaultMaxAge)}
	}
	// Authorize consults the watcher itself, before either cache.
	s.auth = &authn.Authenticator{Sessions: c.Sessions, Replay: replay, Shared: c.Shared, SharedKind: "dpop:authz", MaxAge: c.DPoPMaxAge, Now: s.now}
	s.members.now = s.now
	if c.Keys != nil && c.Keys.store != nil {
		s.nets = &keyNetworks{store: c.Keys.store, m: c.Networks, seen: map[seenKey]time.Time{}}
	}
	return s
}

// Request is one forward-auth question.
type Request struct {
	Target Target
	// Client is the original client's address: the connection's peer, or
	// what a trusted proxy says it is.
	Client netip.Addr
	// Authorization is the Authorization header, "" when absent.
	Authorization string
	// DPoP is the one DPoP header; DPoPCount how many there were.
	DPoP      string
	DPoPCount int
	// Cookie is the web session cookie's value, "" when absent.
	Cookie string
	// Account is the account the request names in the
	// [policy.AccountHeader] header, "" when absent: the one a session
	// acts on for rules without account_param, and the one a key must
	// belong to.
	Account string
	// Approval is the [policy.ApprovalHeader] token, "" when absent;
	// Amount the [policy.AmountHeader] value, "" when absent.
	Approval, Amount string
}

// Result is a forward-auth answer.
type Result struct {
	policy.Decision
	// Credential is who asked, when a credential authenticated (even if
	// the rule then refused it).
	Credential policy.Credential
	// Scopes is the credential's scopes, as the X-Gatehouse-Scopes header
	// says them: names separated by spaces.
	Scopes string
	// Why says, for the log, why a credential did not authenticate, or
	// why an approval token was refused.
	Why error
	// ApprovedHash is the hash of the details an approval token approved,
	// for X-Gatehouse-Approved-Hash; "" when the rule needs none.
	ApprovedHash string
	// ApprovalKind is the kind of approval a refused request needed.
	ApprovalKind approval.Kind
	// ApprovalWaived says the rule's approval_over threshold let the
	// request through without an approval, on its declared amount.
	ApprovalWaived bool
	// RetryAfter is, for a request over its order ceiling, when the next
	// one would pass.
	RetryAfter time.Duration
	// Signal is, for a session a security signal refused, what the signal
	// demands (the step-up, or read-only routes until a phishing-
	// resistant factor is enrolled) and why.
	Signal *signal.Demand
	// Moved says a web or mobile session asked to trade from another
	// network than the one it last authenticated from: it must step up
	// from where it is now.
	Moved bool
	// HeldNetwork is, for a key held on a network its owner has not
	// approved, that network.
	HeldNetwork string
	key         *apikey.Key // a key credential's

	door      session.Door // a session's
	sessionIP string       // a session's address when it last authenticated
	// member is a session's user as the membership cache holds them, read
	// once per request for its memberships, cool-down and profile.
	member *memberEntry

	decided bool // the credential was refused before Decide
	// keyApproval is set for a key whose transfers wait for an approval.
	keyApproval bool
}

// Authorize decides req. The error is for failures of the store; every
// refusal is a Result.
func (s *Service) Authorize(ctx context.Context, req *Request) (Result, error) {
	t := &req.Target
	rule, params, ok := s.rules.Match(t.Host, t.Method, t.Path)
	if !ok {
		return Result{Decision: policy.Decide(nil, params, nil, time.Time{})}, nil
	}
	now := s.now()
	if rule.AllowAnonymous() {
		return Result{Decision: policy.Decide(rule, params, nil, now)}, nil
	}
	s.watch.Check(ctx)
	var res Result
	var err error
	if scheme, cred := cutScheme(req.Authorization); equalFold(scheme, "bearer") {
		err = s.apiKey(ctx, req, cred, rule, &res)
	} else {
		err = s.session(ctx, req, rule, &params, &res)
	}
	if err != nil {
		return Result{}, err
	}
	if res.decided {
		return res, nil
	}
	if res.Why != nil {
		res.Decision = policy.Decide(rule, params, nil, now)
		return res, nil
	}
	res.Decision = policy.Decide(rule, params, &res.Credential, now)
	if res.Allow && res.key != nil {
		held, err := s.nets.check(ctx, res.key, req.Client, now)
		if err != nil {
			return Result{}, err
		}
		if held != "" {
			res.HeldNetwork = held
			res.Decision = policy.Decision{Kind: policy.Hold, Missing: []string{"owner's approval of network " + held}, Rule: rule}
			return res, nil
		}
	}
	if res.Allow && res.Credential.Kind == policy.SessionCredential {
		if r := s.signals.Rules(); !r.Empty() {
			if err := s.signalRules(ctx, r, t, rule, now, &res); err != nil || !res.Allow {
				return res, err
			}
		}
	}
	if res.Allow && res.Credential.Kind == policy.SessionCredential && movedToTrade(res.door, res.sessionIP, req.Client, rule, t.Method) {
		res.Moved = true
		res.Decision = policy.Decision{Kind: policy.StepUp, Missing: []string{"step-up from this network"}, Rule: rule}
		return res, nil
	}
	if res.Allow && placesOrder(rule, t.Method) {
		id := res.Credential.KeyID
		if id == "" {
			id = "s:" + res.Credential.SessionID
		}
		if ok, wait, first := s.bursts.take(id, now); !ok {
			res.Decision = policy.Decision{Kind: policy.RateLimited, Missing: []string{"order rate"}, Rule: rule}
			res.RetryAfter = wait
			if first {
				// Once per run of refusals, never on an allowed request.
				return res, s.tellBurst(ctx, req, &res.Credential, now)
			}
			return res, nil
		}
	}
	if res.Allow && rule.CoolsDown() {
		if err := s.cooldown(ctx, rule, now, &res); err != nil || !res.Allow {
			return res, err
		}
	}
	if res.Allow && (rule.ApprovalKind() != "" || res.keyApproval && rule.Scopes().Has(apikey.TransfersWrite)) {
		return res, s.approve(ctx, req, rule, &res)
	}
	return res, nil
}

// signalRules refuses a session's request the rule allowed when a
// security signal in force asks more of it: a step-up (higher assurance,
// or an authentication since the signal was applied), or, past a
// phishing-resistant factor's deadline for a user without one, reading
// only. The user's profile and factors come through the membership cache.
func (s *Service) signalRules(ctx context.Context, r *signal.Rules, t *Target, rule *policy.Rule, now time.Time, res *Result) error {
	e, err := s.memberOf(ctx, res)
	if err != nil {
		return err
	}
	c := &res.Credential
	var ferr error
	hasStrong := func() bool {
		fs, err := s.members.factors(ctx, e, res.Credential.UserID)
		if err != nil {
			ferr = err
			return true
		}
		return fs
	}
	d, ok := r.Session(e.profile, res.door, session.Assurance(c.AAL), c.AuthTime, t.Method, t.Host, t.Path, now, hasStrong)
	if ferr != nil {
		return ferr
	}
	if !ok {
		return nil
	}
	res.Signal = &d
	if d.ReadOnly {
		res.Decision = policy.Decision{Kind: policy.Forbidden, Missing: []string{"a security key or passkey (signal: " + d.Title + ")"}, Rule: rule}
		return nil
	}
	res.Decision = policy.Decision{Kind: policy.StepUp, Missing: []string{"step-up (signal: " + d.Title + ")"}, Rule: rule}
	return nil
}

// memberOf is the credential's user in the membership cache: a
// session's, read already, or a key creator's.
func (s *Service) memberOf(ctx context.Context, res *Result) (*memberEntry, error) {
	if res.member != nil {
		return res.member, nil
	}
	return s.members.entry(ctx, res.Credential.UserID)
}

// tellBurst records, for the owner's notice, that a credential went over
// its order ceiling.
func (s *Service) tellBurst(ctx context.Context, req *Request, c *policy.Credential, now time.Time) error {
	if s.keys == nil || s.keys.store == nil {
		return nil
	}
	d := map[string]string{"per_minute": strconv.Itoa(s.bursts.perMinute)}
	iface := "api"
	if c.KeyID != "" {
		d["key"], d["account"] = c.KeyID, c.AccountID
	} else {
		d["session"] = c.SessionID
		iface = ""
	}
	err := s.keys.store.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.OrdersRateLimited, UserID: c.UserID, Actor: c.UserID,
		Interface: iface, IP: req.Client.String(), Detail: d})
	if err != nil {
		return fmt.Errorf("authz: record order burst: %w", err)
	}
	return nil
}

// cooldown refuses a request the rule allowed when the credential's user
// (a session's, or a key's creator) is in a cool-down, before any
// approval token is spent. Only the routes a cool-down covers pay for
// the look-up, which the membership cache answers.
func (s *Service) cooldown(ctx context.Context, rule *policy.Rule, now time.Time, res *Result) error {
	e, err := s.memberOf(ctx, res)
	if err != nil {
		return err
	}
	if now.Before(e.cooldownUntil) {
		res.Decision = policy.Decision{Kind: policy.Cooldown, Missing: []string{"end of cool-down"}, Rule: rule}
		res.Why = &user.CooldownError{Action: "this request", Until: e.cooldownUntil, Reason: e.cooldownReason}
	}
	return nil
}

// approve checks and spends the approval a rule asks for, after
// everything else allowed the request: a token is spent only by a
// request that would otherwise pass.
//
// A key with approval required ([apikey.Key.ApprovalRequired]) needs a
// transfer's approval on every rule that asks for transfers:write, and
// no threshold waives it.
func (s *Service) approve(ctx context.Context, req *Request, rule *policy.Rule, res *Result) error {
	kind := rule.ApprovalKind()
	if kind == "" {
		kind = approval.Transfer // the key's own rule
	} else if rule.ApprovalWaived(req.Amount) && !res.keyApproval {
		res.ApprovalWaived = true
		return nil
	}
	refuse := func(why error) {
		res.Decision = policy.Decision{Kind: policy.ApprovalRequired, Missing: []string{"approval " + string(kind)}, Rule: rule}
		res.Why, res.ApprovalKind = why, kind
	}
	if req.Approval == "" {
		refuse(errors.New("authz: no approval token"))
		return nil
	}
	if s.appr == nil {
		refuse(errors.New("authz: approvals not configured"))
		return nil
	}
	c := &res.Credential
	claims, err := s.appr.Use(ctx, req.Approval, Binding{UserID: c.UserID, AccountID: c.AccountID, Kind: kind,
		Rule: rule, Client: req.Client})
	if errors.Is(err, ErrApprovalToken) {
		refuse(err)
		return nil
	}
	if err != nil {
		return err
	}
	res.ApprovedHash = claims.Hash
	return nil
}

// cutScheme splits an Authorization value into scheme and credential.
func cutScheme(h string) (scheme, cred string) {
	i := strings.IndexByte(h, ' ')
	if i < 0 {
		return h, ""
	}
	return h[:i], strings.TrimLeft(h[i+1:], " ")
}

func (s *Service) apiKey(ctx context.Context, req *Request, cred string, rule *policy.Rule, res *Result) error {
	p, err := apikey.Parse(cred)
	if err != nil {
		res.Why = fmt.Errorf("%w: %w", ErrInvalidKey, err)
		return nil
	}
	if env := rule.Environment(); env != "" && p.Environment != env {
		// A key for the other environment is refused before any look-up:
		// what it could be is written on it.
		res.Decision = policy.Decision{Kind: policy.Forbidden, Missing: []string{"environment " + string(env)}, Rule: rule}
		res.decided = true
		return nil
	}
	key, scopes, err := s.keys.Resolve(ctx, p, req.Client)
	if errors.Is(err, ErrInvalidKey) {
		res.Why = err
		return nil
	}
	if err != nil {
		return err
	}
	res.Credential = policy.Credential{Kind: policy.KeyCredential, UserID: key.CreatedBy, KeyID: key.ID,
		AccountID: key.AccountID, Environment: key.Environment, Scopes: key.Scopes}
	if req.Account != "" && req.Account != key.AccountID {
		// A key acts on its own account only; an upstream that read the
		// client's header rather than the answer's must not be misled.
		res.Credential.Unresolved = "account " + req.Account
	}
	res.Scopes = scopes
	res.keyApproval = key.ApprovalRequired
	res.key = key
	return nil
}

// session authenticates the web session cookie, or a key-bound session
// with its proof of the original request, through the one credential
// path ([authn.Authenticator]): the use is recorded only if every check
// passes.
func (s *Service) session(ctx context.Context, req *Request, rule *policy.Rule, params *policy.Params, res *Result) error {
	c := authn.Credential{Cookie: req.Cookie, Authorization: req.Authorization, DPoP: req.DPoP, DPoPCount: req.DPoPCount}
	if req.Authorization != "" {
		// Only a proof needs them, and the URL costs an allocation.
		c.Method, c.URL = req.Target.Method, req.Target.URL()
	}
	ss, err := s.auth.Authenticate(ctx, &c)
	if errors.Is(err, authn.ErrUnauthenticated) {
		res.Why = err
		return nil
	}
	if err != nil {
		return err
	}
	return s.sessionCredential(ctx, ss, req.Account, rule, params, res)
}

func (s *Service) sessionCredential(ctx context.Context, ss *session.Session, named string, rule *policy.Rule, params *policy.Params, res *Result) error {
	e, err := s.members.entry(ctx, ss.UserID)
	if err != nil {
		return err
	}
	ms := e.ms
	res.member = e
	res.Credential = policy.Credential{Kind: policy.SessionCredential, UserID: ss.UserID, SessionID: ss.ID,
		AAL: int(ss.Assurance), AuthTime: ss.AuthTime}
	res.door, res.sessionIP = ss.Door, ss.IP
	res.Credential.ResolveSession(rule, params, named, ms)
	res.Scopes = scopeHeader(res.Credential.Scopes)
	return nil
}

// scopeStrings holds the header value of every set of scopes, so that a
// session's, which depends on the rule, costs no allocation.
var scopeStrings = func() (t [apikey.AllScopes + 1]string) {
	for s := range t {
		t[s] = apikey.Scopes(s).String()
	}
	return t
}()

func scopeHeader(s apikey.Scopes) string { return scopeStrings[s&apikey.AllScopes] }

// members caches each user's memberships, as policy needs them, for at
// most maxAge.
type members struct {
	src    MembershipSource
	maxAge time.Duration
	now    func() time.Time

	mu     sync.Mutex
	byUser map[string]*memberEntry
}

type memberEntry struct {
	ms      []policy.Membership // shared with readers: never modified
	fetched time.Time
	// cooldownUntil and cooldownReason are the user's cool-down.
	cooldownUntil  time.Time
	cooldownReason string
	// profile is the user's, for the signals in scope.
	profile user.Profile
	// strong is whether the user has a usable security key or passkey,
	// read once per entry when a signal first asks (0 unread, 1 no, 2 yes).
	strong atomic.Int32
}

// maxMemberEntries bounds the cache; past it, it is emptied.
const maxMemberEntries = 65536

// factors reports whether the user of e has a usable security key or
// passkey, read from the store once per entry.
func (m *members) factors(ctx context.Context, e *memberEntry, userID string) (bool, error) {
	switch e.strong.Load() {
	case 1:
		return false, nil
	case 2:
		return true, nil
	}
	fs, err := m.src.FactorsOfUser(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("authz: read factors: %w", err)
	}
	has := slices.ContainsFunc(fs, func(f *factor.Factor) bool { return f.Kind == factor.WebAuthn && f.Usable() })
	e.strong.Store(map[bool]int32{false: 1, true: 2}[has])
	return has, nil
}

// entry returns the cached state of userID, read again when older than
// maxAge.
func (m *members) entry(ctx context.Context, userID string) (*memberEntry, error) {
	now := m.now()
	m.mu.Lock()
	e := m.byUser[userID]
	m.mu.Unlock()
	if e != nil && now.Sub(e.fetched) <= m.maxAge {
		return e, nil
	}
	e = &memberEntry{fetched: now}
	u, err := m.src.UserByID(ctx, userID)
	switch {
	case err == nil:
		e.cooldownUntil, e.cooldownReason, e.profile = u.CooldownUntil, u.CooldownReason, u.Profile
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("authz: read user: %w", err)
	}
	list, err := m.src.MembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("authz: read memberships: %w", err)
	}
	ms := make([]policy.Membership, 0, len(list))
	for _, x := range list {
		a, err := m.src.AccountByID(ctx, x.AccountID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("authz: read account: %w", err)
		}
		ms = append(ms, policy.Membership{AccountID: x.AccountID, Environment: a.Environment, Role: x.Role})
	}
	e.ms = ms
	m.mu.Lock()
	if len(m.byUser) >= maxMemberEntries {
		clear(m.byUser)
	}
	m.byUser[userID] = e
	m.mu.Unlock()
	return e, nil
}

// ForgetUsers drops the cached memberships of the users named, so that a
// change made on another instance is seen by the very next request.
func (s *Service) ForgetUsers(ids ...string) {
	s.members.mu.Lock()
	defer s.members.mu.Unlock()
	for _, id := range ids {
		delete(s.members.byUser, id)
	}
}

// ForgetAll empties the membership cache and the key cache, for when
// revocations may have been lost.
func (s *Service) ForgetAll() {
	s.members.mu.Lock()
	clear(s.members.byUser)
	s.members.mu.Unlock()
	if s.keys != nil {
		s.keys.ForgetAll()
	}
}
