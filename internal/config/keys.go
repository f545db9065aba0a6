package config

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/policy"
)

// Keys bounds API keys: how long they live, how long a rotated key keeps
// working beside its successor, and when an unused one is revoked.
type Keys struct {
	// DefaultTTL is the life of a key created without an expiry.
	DefaultTTL time.Duration `yaml:"default_ttl"`
	// MaxTTL is the longest life a key may ask for.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// UnrestrictedTradingMaxTTL caps the life of a live key that can trade
	// and has no IP allowlist, the way exchanges switch off unrestricted
	// trading keys.
	UnrestrictedTradingMaxTTL time.Duration `yaml:"unrestricted_trading_max_ttl"`
	// RotationOverlap is how long a rotated key keeps working beside its
	// successor, and the longest overlap a rotation may ask for.
	RotationOverlap time.Duration `yaml:"rotation_overlap"`
	// DormantAfter revokes a key unused for that long; 0 turns it off.
	DormantAfter time.Duration `yaml:"dormant_after"`
	// DormantSweep is how often keys are checked for dormancy.
	DormantSweep time.Duration `yaml:"dormant_sweep"`
}

// Limits returns the limits package apikey applies.
func (k Keys) Limits() apikey.Limits {
	return apikey.Limits{
		DefaultTTL:                k.DefaultTTL,
		MaxTTL:                    k.MaxTTL,
		UnrestrictedTradingMaxTTL: k.UnrestrictedTradingMaxTTL,
		RotationOverlap:           k.RotationOverlap,
		DormantAfter:              k.DormantAfter,
	}
}

func defaultKeys() Keys {
	l := apikey.DefaultLimits()
	return Keys{
		DefaultTTL:                l.DefaultTTL,
		MaxTTL:                    l.MaxTTL,
		UnrestrictedTradingMaxTTL: l.UnrestrictedTradingMaxTTL,
		RotationOverlap:           l.RotationOverlap,
		DormantAfter:              l.DormantAfter,
		DormantSweep:              time.Hour,
	}
}

// Authz configures forward-auth (GET /v1/authz).
type Authz struct {
	// LoginURL is where a browser (Accept: text/html) without a session
	// is sent, with the URL it asked for in the "rd" query parameter;
	// empty answers such a browser 401 like any other client.
	LoginURL string `yaml:"login_url"`
	// GRPCListen is the address of the gRPC listener that answers Envoy's
	// ext_authz (envoy.service.auth.v3.Authorization/Check) with the
	// decision of /v1/authz; empty serves none. It is plain gRPC and
	// answers only trusted_proxies, as forward-auth does.
	GRPCListen string `yaml:"grpc_listen"`
	// OrdersPerMinute is the ceiling on order-placing requests (POST on a
	// rule asking for orders:write) per API key and per session, counted
	// per instance: with N instances a credential may place up to N times
	// it. 0 sets none.
	OrdersPerMinute int `yaml:"orders_per_minute"`
	// NetworksFile is an autonomous-system map ("PREFIX ASN" per line)
	// naming the networks of watched keys' clients; empty uses the /24
	// (IPv4) or /48 (IPv6) of the address.
	NetworksFile string `yaml:"networks_file"`
}

// Rules are forward-auth's route rules, as written in the configuration;
// see package policy for their meaning.
type Rules []policy.RuleSpec

// Equal reports whether r and o say the same thing, wherever they were
// written: the YAML line each rule came from does not count.
func (r Rules) Equal(o Rules) bool {
	return slices.EqualFunc(r, o, func(a, b policy.RuleSpec) bool {
		return a.Host == b.Host && slices.Equal(a.Methods, b.Methods) && a.Path == b.Path &&
			slices.Equal(a.Scopes, b.Scopes) && a.Environment == b.Environment && a.AAL == b.AAL &&
			a.Fresh == b.Fresh && a.AccountParam == b.AccountParam && a.AllowAnonymous == b.AllowAnonymous &&
			a.Approval == b.Approval && a.ApprovalKind == b.ApprovalKind &&
			(a.ApprovalOver == nil) == (b.ApprovalOver == nil) && (a.ApprovalOver == nil || *a.ApprovalOver == *b.ApprovalOver)
	})
}

// RuleSet compiles the rules. Validate has reported any error already.
func (c *Config) RuleSet() (*policy.RuleSet, error) { return policy.Compile(c.Rules) }

// ReturnHosts are the hosts a browser may be sent back to after signing
// in: the public origin's, and every host a forward-auth rule names.
func (c *Config) ReturnHosts() []string {
	var out []string
	if u, err := url.Parse(c.PublicOrigin); err == nil && u.Hostname() != "" {
		out = append(out, u.Hostname())
	}
	for _, r := range c.Rules {
		if r.Host != "" && !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}

func (c *Config) validateKeys(bad func(format string, args ...any)) {
	if err := c.Keys.Limits().Validate(); err != nil {
		for _, e := range unjoin(err) {
			bad("keys: %v", e)
		}
	}
	if c.Keys.DormantSweep < time.Minute || c.Keys.DormantSweep > 24*time.Hour {
		bad("keys.dormant_sweep %v: want 1m to 24h", c.Keys.DormantSweep)
	}
	if a := c.Authz.GRPCListen; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			bad("authz.grpc_listen %q: want HOST:PORT, e.g. 127.0.0.1:9191", a)
		} else if a == c.Listen {
			bad("authz.grpc_listen %q is the same as listen", a)
		}
	}
	if c.Authz.LoginURL != "" {
		if u, err := url.Parse(c.Authz.LoginURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			bad("authz.login_url %q: want an absolute http(s) URL, e.g. https://portal.example.com/login", c.Authz.LoginURL)
		}
	}
	if _, err := policy.Compile(c.Rules); err != nil {
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				bad("rules: %s", p)
			}
		} else {
			bad("rules: %v", err)
		}
	}
}

// unjoin returns the errors of an errors.Join, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
