// Package config loads gatehouse's configuration: [Default], then a YAML
// file, then GATEHOUSE_* environment variables, then flags (applied by the
// command line), and [Config.Validate] reports every problem at once.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/approval"
	"gatehouse/internal/password"
	"gatehouse/internal/policy"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// Config is the whole configuration.
type Config struct {
	// Listen is the address to serve on. The default, loopback only, keeps
	// an unconfigured gatehouse off the network.
	Listen string `yaml:"listen"`
	// PublicOrigin is the scheme, host and port clients use to reach
	// gatehouse. It decides the cookie flags (Secure and the __Host- prefix
	// when https) and the origin cross-site checks accept.
	PublicOrigin string `yaml:"public_origin"`
	// Data is the SQLite directory, used unless DatabaseURL is set.
	Data string `yaml:"data"`
	// DatabaseURL selects PostgreSQL (postgres://…).
	DatabaseURL string `yaml:"database_url"`
	// Demo seeds a demo user and accounts at start and relaxes the
	// requirement of configured secrets. Never for production.
	Demo bool `yaml:"demo"`
	TLS  TLS  `yaml:"tls"`
	// TrustedProxies are the peers whose X-Forwarded-For is believed; from
	// any other peer the connection's address counts.
	TrustedProxies []string `yaml:"trusted_proxies"`
	Log            Log      `yaml:"log"`
	// Sessions are the lifetimes of each interface's sessions.
	Sessions map[session.Door]session.Lifetime `yaml:"sessions"`
	Password Password                          `yaml:"password"`
	Throttle throttle.Policy                   `yaml:"throttle"`
	DPoP     DPoP                              `yaml:"dpop"`
	// Cache bounds how long a session looked up once is believed without
	// asking the store again, so a revocation made elsewhere (the CLI,
	// another instance) takes effect within it.
	CacheMaxAge time.Duration `yaml:"cache_max_age"`
	Factors     Factors       `yaml:"factors"`
	Mail        Mail          `yaml:"mail"`
	// Webhooks are the platform's endpoints that receive notices.
	Webhooks []Webhook `yaml:"webhooks"`
	Outbox   Outbox    `yaml:"outbox"`
	// MemoryLimit is serve's soft memory limit (runtime/debug.SetMemoryLimit),
	// so that the argon2id blocks of a login flood are collected and
	// returned promptly: a size ("512MiB"), off, or empty to derive it from
	// the hashing concurrency ([DerivedMemoryLimit]). GOMEMLIMIT in the
	// environment wins over it.
	MemoryLimit string `yaml:"memory_limit"`
	// Keys bounds the lives of API keys.
	Keys Keys `yaml:"keys"`
	// Authz configures forward-auth.
	Authz Authz `yaml:"authz"`
	// Approvals configures transaction-bound approvals.
	Approvals Approvals `yaml:"approvals"`
	// Cooldown configures the cool-down after a security change.
	Cooldown Cooldown `yaml:"cooldown"`
	// Metrics says where /metrics is served.
	Metrics Metrics `yaml:"metrics"`
	// Rules are forward-auth's route rules, tried in order. The default is
	// the reference trading API's (policy.ReferenceSpecs), which matches
	// only the hosts paper.localhost and live.localhost, and /healthz.
	Rules Rules `yaml:"rules"`
	// Admins are the usernames of the platform team. With a session of
	// AAL2 or more, an admin may read any user's posture report and the
	// summary across all users, and turn an account's trading permissions
	// on past the posture gate, giving a reason that is audited. Empty:
	// nobody; the command line, which works on the store directly, needs
	// no listing.
	Admins []string `yaml:"admins"`
	// Entities are the legal entities that hold accounts, keyed by the
	// code an account carries (account add --entity), with the
	// investor-protection scheme of each, for the posture report. Entries
	// in the file are added to the built-in table
	// ([posture.DefaultEntities]) and replace one of the same code.
	Entities posture.EntityTable `yaml:"entities"`
	// SSF is the Shared Signals transmitter.
	SSF SSF `yaml:"ssf"`
	// Recovery is the lost-factor recovery's waits and limits.
	Recovery Recovery `yaml:"recovery"`
	// Audit configures the audit chain's checkpoints.
	Audit Audit `yaml:"audit"`
}

// TLS names certificate and key files; both empty serves plain HTTP.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Password holds the hashing parameters and the composition rules.
type Password struct {
	Argon2id       password.Params `yaml:"argon2id"`
	password.Rules `yaml:",inline"`
}

// DPoP bounds the proofs desktop and mobile clients send.
type DPoP struct {
	// MaxAge is how old a proof's iat may be.
	MaxAge time.Duration `yaml:"max_age"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		Listen:       "127.0.0.1:8080",
		PublicOrigin: "http://localhost:8080",
		Data:         "./data",
		Log:          Log{Level: "info", Format: "text"},
		Sessions:     session.DefaultLifetimes(),
		Password:     Password{Argon2id: password.DefaultParams(), Rules: password.DefaultRules()},
		Throttle:     throttle.DefaultPolicy(),
		Approvals:    Approvals{Lifetime: approval.DefaultLifetime, TokenLifetime: approval.DefaultTokenLifetime, MaxPending: approval.DefaultMaxPending},
		Recovery:     defaultRecovery(),
		Cooldown:     Cooldown{Length: 24 * time.Hour},
		Authz:        Authz{OrdersPerMinute: 600},
		DPoP:         DPoP{MaxAge: time.Minute},
		CacheMaxAge:  time.Second,
		Factors:      defaultFactors(),
		Mail:         Mail{NotifySignIns: true},
		Outbox:       defaultOutbox(),
		Audit:        Audit{Checkpoints: Checkpoints{Every: time.Hour}},
		Keys:         defaultKeys(),
		Rules:        policy.ReferenceSpecs(),
		Entities:     posture.DefaultEntities(),
	}
}

//go:embed example.yaml
var example []byte

// Example returns the complete, commented example configuration that
// `gatehouse config example` prints. Loading it gives [Default].
func Example() []byte { return bytes.Clone(example) }

// Load reads the YAML file at path (none when empty) over the defaults,
// then applies GATEHOUSE_* variables read through getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.decode(path, data); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads YAML data over the defaults; name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	if err := c.decode(name, data); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) decode(name string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt setting is an error, not a silent default
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	return nil
}

// Env lists the environment variables Load reads, with the setting each overrides.
var Env = []struct{ Name, Setting string }{
	{"GATEHOUSE_LISTEN", "listen"},
	{"GATEHOUSE_PUBLIC_ORIGIN", "public_origin"},
	{"GATEHOUSE_DATA", "data"},
	{"GATEHOUSE_DATABASE_URL", "database_url"},
	{"GATEHOUSE_DEMO", "demo"},
	{"GATEHOUSE_TLS_CERT", "tls.cert"},
	{"GATEHOUSE_TLS_KEY", "tls.key"},
	{"GATEHOUSE_TRUSTED_PROXIES", "trusted_proxies (comma-separated)"},
	{"GATEHOUSE_LOG_LEVEL", "log.level"},
	{"GATEHOUSE_LOG_FORMAT", "log.format"},
	{"GATEHOUSE_SEED_KEY", "factors.seed_key"},
	{"GATEHOUSE_SMS_AUTH_TOKEN", "factors.sms.auth_token"},
	{"GATEHOUSE_SMTP_PASSWORD", "mail.password"},
	{"GATEHOUSE_SSF_TOKEN_<ID>", "ssf.receivers[].token_sha256 (the token itself; ID upper-cased, - as _)"},
	{"GATEHOUSE_SSF_AUTHORIZATION_<ID>", "ssf.receivers[].authorization"},
	{"GATEHOUSE_WEBHOOK_SECRET_<n>", "webhooks[n-1].secret"},
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("GATEHOUSE_LISTEN", &c.Listen)
	set("GATEHOUSE_METRICS_LISTEN", &c.Metrics.Listen)
	set("GATEHOUSE_AUTHZ_GRPC_LISTEN", &c.Authz.GRPCListen)
	set("GATEHOUSE_PUBLIC_ORIGIN", &c.PublicOrigin)
	set("GATEHOUSE_DATA", &c.Data)
	set("GATEHOUSE_DATABASE_URL", &c.DatabaseURL)
	set("GATEHOUSE_TLS_CERT", &c.TLS.Cert)
	set("GATEHOUSE_TLS_KEY", &c.TLS.Key)
	set("GATEHOUSE_LOG_LEVEL", &c.Log.Level)
	set("GATEHOUSE_LOG_FORMAT", &c.Log.Format)
	set("GATEHOUSE_SEED_KEY", &c.Factors.SeedKey)
	set("GATEHOUSE_SMS_AUTH_TOKEN", &c.Factors.SMS.AuthToken)
	set("GATEHOUSE_SMTP_PASSWORD", &c.Mail.Password)
	c.applySSFEnv(getenv)
	c.applyWebhookEnv(getenv)
	if v := getenv("GATEHOUSE_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = strings.Split(v, ",")
	}
	if v := getenv("GATEHOUSE_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: GATEHOUSE_DEMO=%q is not a boolean", v)
		}
		c.Demo = b
	}
	return nil
}

// Validate returns every problem of c, joined.
func (c *Config) Validate() error { return c.validate(true) }

// ValidateAdmin is Validate for the admin verbs that work on the store
// without serving: they need no secrets of the running server (the seed
// key), so a missing one is not an error there.
func (c *Config) ValidateAdmin() error { return c.validate(false) }

func (c *Config) validate(serving bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	if n := c.Authz.OrdersPerMinute; n < 0 || n > 1_000_000 {
		bad("authz.orders_per_minute %d: want 0 (no ceiling) to 1000000", n)
	}
	for _, p := range c.Cooldown.problems() {
		bad("%s", p)
	}
	for _, p := range c.Approvals.problems() {
		bad("%s", p)
	}
	for _, p := range c.Recovery.problems() {
		bad("%s", p)
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		if h, _, ok := strings.Cut(c.Listen, ":"); !ok || (h != "localhost" && h != "") {
			bad("listen %q: want HOST:PORT with an IP address", c.Listen)
		}
	}
	if u, err := url.Parse(c.PublicOrigin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		bad("public_origin %q: want scheme://host[:port], e.g. https://auth.example.com", c.PublicOrigin)
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database_url: want postgres://…")
		}
	} else if c.Data == "" {
		bad("data: set a directory for the SQLite database, or database_url")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls: set both cert and key, or neither")
	}
	for i, p := range c.TrustedProxies {
		if _, err := parsePrefix(strings.TrimSpace(p)); err != nil {
			bad("trusted_proxies[%d] %q: want an IP address or CIDR", i, p)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q: want text or json", c.Log.Format)
	}
	for _, i := range session.Doors {
		l, ok := c.Sessions[i]
		switch {
		case !ok:
			bad("sessions.%s: missing", i)
		case l.Absolute <= 0 || l.Idle <= 0:
			bad("sessions.%s: absolute and idle must be positive", i)
		case l.Idle > l.Absolute:
			bad("sessions.%s: idle %v is longer than absolute %v", i, l.Idle, l.Absolute)
		case l.Absolute > 30*24*time.Hour:
			bad("sessions.%s: absolute %v is over 30 days", i, l.Absolute)
		}
	}
	for k := range c.Sessions {
		if _, err := session.ParseDoor(string(k)); err != nil {
			bad("sessions: unknown interface %q", k)
		}
	}
	if err := c.Password.Argon2id.Valid(); err != nil {
		bad("password.argon2id: %v", err)
	}
	if c.Password.MinLength < 8 {
		bad("password.min_length %d: NIST SP 800-63B asks for at least 8", c.Password.MinLength)
	}
	if c.Password.MaxLength < 64 {
		bad("password.max_length %d: NIST SP 800-63B asks to allow at least 64", c.Password.MaxLength)
	}
	if c.Throttle.Account.Limit <= 0 || c.Throttle.Account.Limit > 100 {
		bad("throttle.account.limit %d: want 1 to 100 (NIST SP 800-63B)", c.Throttle.Account.Limit)
	}
	if c.Throttle.Factor.Limit <= 0 || c.Throttle.Factor.Limit > 100 {
		bad("throttle.factor.limit %d: want 1 to 100 (NIST SP 800-63B-4)", c.Throttle.Factor.Limit)
	}
	if c.Throttle.Factor.Forget < 24*time.Hour {
		bad("throttle.factor.forget %v: want at least 24h, or the cap resets before it bounds anything", c.Throttle.Factor.Forget)
	}
	if c.Throttle.FactorNotice < 0 || c.Throttle.FactorNotice > c.Throttle.Factor.Limit {
		bad("throttle.factor_notice %d: want 0 to throttle.factor.limit", c.Throttle.FactorNotice)
	}
	if c.DPoP.MaxAge <= 0 || c.DPoP.MaxAge > 10*time.Minute {
		bad("dpop.max_age %v: want up to 10m", c.DPoP.MaxAge)
	}
	if c.CacheMaxAge < 0 || c.CacheMaxAge > time.Minute {
		bad("cache_max_age %v: want 0 to 1m", c.CacheMaxAge)
	}
	c.validateMemory(bad)
	c.validateFactors(bad, serving)
	c.validateKeys(bad)
	c.validateMetrics(bad)
	c.validateOutbox(bad)
	c.validatePosture(bad)
	c.validateSSF(bad, serving)
	c.validateAudit(bad)
	return errors.Join(errs...)
}

// entityCode is what an entity code may be: the posture report looks
// codes up upper-cased, so a lower-case key would never match.
var entityCode = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{0,15}$`)

func (c *Config) validatePosture(bad func(string, ...any)) {
	for i, a := range c.Admins {
		if !user.ValidUsername(user.NormalizeUsername(a)) {
			bad("admins[%d] %q: not a username", i, a)
		}
	}
	for _, code := range c.Entities.Codes() {
		e := c.Entities[code]
		switch {
		case !entityCode.MatchString(code):
			bad("entities.%s: a code is 1 to 16 upper-case letters, digits, _ or -", code)
		case e.Code != "" && e.Code != code:
			bad("entities.%s: code %q differs from its key", code, e.Code)
		case e.Name == "":
			bad("entities.%s: name is required", code)
		case e.Scheme != "" && e.Limit == "":
			bad("entities.%s: scheme %q needs its limit, in words", code, e.Scheme)
		case e.Pack != "" && !slices.Contains(posture.PackCodes(), e.Pack):
			bad("entities.%s: unknown pack %q (known: %s)", code, e.Pack, strings.Join(posture.PackCodes(), ", "))
		}
	}
}

// Secure reports whether the public origin is https, so cookies are Secure.
func (c *Config) Secure() bool { return strings.HasPrefix(c.PublicOrigin, "https://") }

// Proxies returns the parsed trusted proxy prefixes. Call after Validate.
func (c *Config) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if pfx, err := parsePrefix(strings.TrimSpace(p)); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
