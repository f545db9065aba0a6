package apikey

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/account"
	"gatehouse/internal/fault"
)

const day = 24 * time.Hour

// Limits are the operator's bounds on key lifetimes. The zero value is not
// useful; start from [DefaultLimits].
type Limits struct {
	// DefaultTTL is the lifetime of a key created without one.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a key may ask for; asking for more
	// is an error, not a silent cut, so the owner knows when to rotate.
	MaxTTL time.Duration
	// UnrestrictedTradingMaxTTL caps the life of a live key that can
	// trade (orders:write or transfers:write) and has no IP allowlist: a
	// leaked key of that kind is the costliest, so it must not live long.
	// Longer requests are shortened, and [Spec.Shortened] says so.
	UnrestrictedTradingMaxTTL time.Duration
	// RotationOverlap is how long a rotated key keeps working beside its
	// successor.
	RotationOverlap time.Duration
	// DormantAfter is how long a key may go unused before it is revoked
	// automatically; zero turns that off.
	DormantAfter time.Duration
}

// DefaultLimits returns the default limits: keys live 90 days by default
// and at most 365; live trading keys without an allowlist at most 30; a
// rotated key overlaps its successor for 24 hours; a key unused for 30 days
// is revoked.
func DefaultLimits() Limits {
	return Limits{
		DefaultTTL:                90 * day,
		MaxTTL:                    365 * day,
		UnrestrictedTradingMaxTTL: 30 * day,
		RotationOverlap:           24 * time.Hour,
		DormantAfter:              30 * day,
	}
}

// Validate returns every inconsistency in l, for configuration loading.
func (l Limits) Validate() error {
	var errs []error
	if l.DefaultTTL <= 0 {
		errs = append(errs, errors.New("apikey: default ttl must be positive"))
	}
	if l.MaxTTL <= 0 {
		errs = append(errs, errors.New("apikey: max ttl must be positive"))
	}
	if l.DefaultTTL > l.MaxTTL {
		errs = append(errs, fmt.Errorf("apikey: default ttl %s exceeds max ttl %s", days(l.DefaultTTL), days(l.MaxTTL)))
	}
	if l.UnrestrictedTradingMaxTTL <= 0 {
		errs = append(errs, errors.New("apikey: unrestricted trading max ttl must be positive"))
	}
	if l.RotationOverlap < 0 {
		errs = append(errs, errors.New("apikey: rotation overlap must not be negative"))
	}
	if l.DormantAfter < 0 {
		errs = append(errs, errors.New("apikey: dormant-after must not be negative (zero turns it off)"))
	}
	return errors.Join(errs...)
}

// clamp applies the lifetime rules to a requested ttl (zero or less means
// the default) and reports whether the trading rule shortened it.
func (l Limits) clamp(ttl time.Duration, env account.Environment, s Scopes, allowlist bool) (time.Duration, bool) {
	if ttl <= 0 {
		ttl = l.DefaultTTL
	}
	ttl = min(ttl, l.MaxTTL)
	if env == account.Live && s.CanTrade() && !allowlist && ttl > l.UnrestrictedTradingMaxTTL {
		return l.UnrestrictedTradingMaxTTL, true
	}
	return ttl, false
}

// Bounds on a [Request], so that a hostile body cannot make validation or
// the forward-auth allowlist check expensive.
const (
	MaxNameLen   = 64 // characters
	MaxListLen   = 32 // entries of Scopes or AllowIPs
	MaxEntryLen  = 64 // bytes of one scope name or CIDR
	MinPrefix4   = 8  // narrowest allowed IPv4 prefix length
	MinPrefix6   = 32 // narrowest allowed IPv6 prefix length (one LIR allocation)
	requiredAAL3 = 3
)

// Request is what a member asks for when creating a key, as it arrives
// from the client.
type Request struct {
	Name string
	// Environment is "paper" or "live" and must be the account's; empty
	// means the account's.
	Environment string
	Scopes      []string
	// AllowIPs are CIDRs ("203.0.113.0/24", "2001:db8::/48") or plain
	// addresses, which mean /32 or /128. Empty allows any address.
	AllowIPs []string
	// ExpiresIn is the wanted lifetime; zero means [Limits.DefaultTTL].
	ExpiresIn time.Duration
	// Approval is "required" for a key whose transfers wait for the
	// owner's approval ([Key.ApprovalRequired]), or "".
	Approval string
	// HoldOnNewNetwork is [Key.HoldOnNewNetwork].
	HoldOnNewNetwork bool
}

// Spec is a validated [Request]: everything needed to make the key but its
// token, account and creator.
type Spec struct {
	Name        string
	Environment account.Environment
	Scopes      Scopes
	AllowIPs    []netip.Prefix
	TTL         time.Duration
	// Shortened reports that TTL is less than asked because the key can
	// trade live without an allowlist; tell the owner why.
	Shortened bool
	// ApprovalRequired is [Key.ApprovalRequired].
	ApprovalRequired bool
	// HoldOnNewNetwork is [Key.HoldOnNewNetwork].
	HoldOnNewNetwork bool
}

// NewKey returns the key that s describes, for accountID, created by the
// user by at now, with tok's identifier and hash. It fails with
// [ErrEnvironment] if tok is for another environment, and with
// [account.ErrInvalidID] for a bad account identifier.
func (s Spec) NewKey(tok Token, accountID, by string, now time.Time) (Key, error) {
	if tok.Environment != s.Environment || tok.ID == "" {
		return Key{}, ErrEnvironment
	}
	if !account.ValidID(accountID) {
		return Key{}, account.ErrInvalidID
	}
	return Key{
		ID:          tok.ID,
		AccountID:   accountID,
		Name:        s.Name,
		Environment: s.Environment,
		Scopes:      s.Scopes,
		AllowIPs:    append([]netip.Prefix(nil), s.AllowIPs...),
		SecretHash:  append([]byte(nil), tok.Hash...),
		CreatedBy:   by,
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.TTL),

		ApprovalRequired: s.ApprovalRequired,
		HoldOnNewNetwork: s.HoldOnNewNetwork,
	}, nil
}

// ErrInvalidRequest matches every [*RequestError] with [errors.Is].
var ErrInvalidRequest = errors.New("apikey: invalid key request")

// Problem is one thing wrong with a [Request]: the field, as the client
// names it ("allow_ips[1]"), and what is wrong with it.
type Problem struct {
	Field   string
	Message string
}

// String returns "field: message".
func (p Problem) String() string { return p.Field + ": " + p.Message }

// RequestError lists every problem of a [Request], so the client can fix
// them all at once.
type RequestError struct {
	Problems []Problem
}

// Error returns the problems, separated by semicolons.
func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidRequest.Error())
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is [ErrInvalidRequest].
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

// Kind is [fault.Invalid].
func (e *RequestError) Kind() fault.Kind { return fault.Invalid }

// Fields returns the problems as the fields at fault, for [fault.Fields].
func (e *RequestError) Fields() []fault.Field {
	out := make([]fault.Field, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = fault.Field{Name: p.Field, Want: p.Message}
	}
	return out
}

// Validate checks r for an account in environment acct, asked for by a
// session holding assurance aal, and returns the key to make under limits
// l, or a [*RequestError] with every problem:
//   - name: 1 to [MaxNameLen] printable characters, no spaces at the ends;
//   - environment: must be acct;
//   - scopes: at least one, each known;
//   - allow_ips: at most [MaxListLen] CIDRs or addresses, without host
//     bits set, no wider than /[MinPrefix4] or /[MinPrefix6] (a wider
//     "allowlist" would only satisfy the rules below in name);
//   - transfers:write needs an allowlist and AAL3;
//   - expires_in: not negative, not over l.MaxTTL.
//
// A live key that can trade and has no allowlist is shortened to
// l.UnrestrictedTradingMaxTTL (see [Spec.Shortened]).
//
// Validate does not know the member's role; the caller also checks
// [RoleScopes](role).Contains(spec.Scopes).
func (r Request) Validate(l Limits, acct account.Environment, aal int) (Spec, error) {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{field, fmt.Sprintf(format, args...)})
	}

	if msg := checkName(r.Name); msg != "" {
		add("name", "%s", msg)
	}

	env := acct
	if r.Environment != "" {
		e, err := account.ParseEnvironment(r.Environment)
		switch {
		case err != nil:
			add("environment", "unknown environment %s (want paper or live)", quote(r.Environment))
		case e != acct:
			add("environment", "key for %q on a %s account", e, quote(string(acct)))
		}
		env = e
	} else if _, err := account.ParseEnvironment(string(acct)); err != nil {
		add("environment", "account has unknown environment %s", quote(string(acct)))
	}

	var scopes Scopes
	switch {
	case len(r.Scopes) == 0:
		add("scopes", "at least one scope is required")
	case len(r.Scopes) > MaxListLen:
		add("scopes", "too many entries (%d, at most %d)", len(r.Scopes), MaxListLen)
	default:
		for i, name := range r.Scopes {
			x, err := ParseScope(name)
			if err != nil {
				add(index("scopes", i), "unknown scope %s", quote(name))
				continue
			}
			scopes |= Scopes(x)
		}
	}

	var allow []netip.Prefix
	if len(r.AllowIPs) > MaxListLen {
		add("allow_ips", "too many entries (%d, at most %d)", len(r.AllowIPs), MaxListLen)
	} else {
		for i, s := range r.AllowIPs {
			p, msg := parseAllow(s)
			if msg != "" {
				add(index("allow_ips", i), "%s", msg)
				continue
			}
			allow = append(allow, p)
		}
	}

	if scopes.Has(TransfersWrite) {
		if len(r.AllowIPs) == 0 {
			add("scopes", "transfers:write needs an IP allowlist")
		}
		if aal < requiredAAL3 {
			add("scopes", "transfers:write needs AAL3")
		}
	}

	switch {
	case r.ExpiresIn < 0:
		add("expires_in", "must not be negative")
	case r.ExpiresIn > l.MaxTTL:
		add("expires_in", "%s exceeds the maximum of %s", days(r.ExpiresIn), days(l.MaxTTL))
	}

	if r.Approval != "" && r.Approval != "required" {
		add("approval", "want required, or leave it out")
	}

	if len(probs) > 0 {
		return Spec{}, &RequestError{Problems: probs}
	}
	ttl, shortened := l.clamp(r.ExpiresIn, env, scopes, len(allow) > 0)
	return Spec{
		Name:        r.Name,
		Environment: env,
		Scopes:      scopes,
		AllowIPs:    allow,
		TTL:         ttl,
		Shortened:   shortened,

		ApprovalRequired: r.Approval == "required",
		HoldOnNewNetwork: r.HoldOnNewNetwork,
	}, nil
}

func checkName(name string) string {
	switch {
	case name == "":
		return "is required"
	case !utf8.ValidString(name):
		return "must be printable text"
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Sprintf("longer than %d characters", MaxNameLen)
	}
	for _, c := range name {
		// unicode.IsPrint refuses controls, bidi overrides and every
		// space but U+0020, which keeps names from disguising themselves
		// in listings and audit trails.
		if !unicode.IsPrint(c) {
			return "must be printable text"
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return "has leading or trailing spaces"
	}
	return ""
}

// parseAllow parses one allowlist entry into a masked prefix whose IPv4
// addresses are plain IPv4, or returns what is wrong with it.
func parseAllow(s string) (netip.Prefix, string) {
	if len(s) > MaxEntryLen {
		return netip.Prefix{}, quote(s) + " is not a CIDR"
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, quote(s) + " is not a CIDR"
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, quote(s) + " is not a CIDR"
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		// Peers are unmapped before matching (Key.AllowsAddr), so a
		// mapped prefix must be unmapped too or it would never match.
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Sprintf("%s mixes IPv4-mapped and IPv6 addresses; write the IPv4 prefix", quote(s))
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Sprintf("%s has host bits set; did you mean %q?", quote(s), m.String())
	}
	narrowest := MinPrefix6
	if p.Addr().Is4() {
		narrowest = MinPrefix4
	}
	if p.Bits() < narrowest {
		return netip.Prefix{}, fmt.Sprintf("%s is wider than /%d, too broad to restrict anything", quote(s), narrowest)
	}
	return p, ""
}

func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// quote quotes s for a message, cut short so that a hostile request
// cannot make the error huge.
func quote(s string) string {
	if len(s) > MaxEntryLen {
		cut := MaxEntryLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// days formats d as whole days where it is one, e.g. "400 days".
func days(d time.Duration) string {
	if d%day == 0 && d != 0 {
		if d == day {
			return "1 day"
		}
		return strconv.FormatInt(int64(d/day), 10) + " days"
	}
	return d.String()
}
