package config

import (
	"net"
	"net/url"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/notify"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// Factors configures second factors, the policy that chooses them, and
// the links and messages they send.
type Factors struct {
	// SeedKey seals TOTP seeds at rest: base64 of 32 random bytes. Required
	// outside demo mode (GATEHOUSE_SEED_KEY); `head -c32 /dev/urandom | base64`.
	SeedKey  string   `yaml:"seed_key"`
	Issuer   string   `yaml:"issuer"` // the name authenticator apps show
	WebAuthn WebAuthn `yaml:"webauthn"`
	SMS      SMS      `yaml:"sms"`
	// FlowLifetime bounds a login between password and session.
	FlowLifetime time.Duration `yaml:"flow_lifetime"`
	// PushLifetime bounds a push approval (NIST: short; never over 10m).
	PushLifetime time.Duration `yaml:"push_lifetime"`
	// MaxPendingPush limits unanswered pushes per user (no push bombing).
	MaxPendingPush int `yaml:"max_pending_push"`
	// StepUpWindow is how recent the last proof must be for sensitive
	// actions (adding or removing a factor, live keys, permissions).
	StepUpWindow time.Duration `yaml:"step_up_window"`
	// Policy is, per trader profile, the factors allowed and the minimum
	// assurance each interface needs to get a session.
	Policy map[user.Profile]ProfilePolicy `yaml:"policy"`
}

// WebAuthn configures the relying party. Empty RPID and origins derive
// from public_origin.
type WebAuthn struct {
	RPID    string   `yaml:"rp_id"`
	RPName  string   `yaml:"rp_name"`
	Origins []string `yaml:"origins"`
	// UserVerification is required, preferred or discouraged.
	UserVerification string `yaml:"user_verification"`
}

// SMS configures the SMS sender: "" (SMS off), "log" (development: the
// code goes to the log) or "twilio".
type SMS struct {
	Provider   string `yaml:"provider"`
	BaseURL    string `yaml:"base_url"`
	AccountSID string `yaml:"account_sid"`
	// AuthToken is a secret: set it with GATEHOUSE_SMS_AUTH_TOKEN.
	AuthToken string `yaml:"auth_token"`
	From      string `yaml:"from"`
}

// ProfilePolicy is the factor policy of one trader profile.
type ProfilePolicy struct {
	Forbid       []factor.Kind                      `yaml:"forbid"`
	MinAssurance map[session.Door]session.Assurance `yaml:"min_assurance"`
}

// Allows reports whether the profile may use kind.
func (p ProfilePolicy) Allows(k factor.Kind) bool {
	for _, f := range p.Forbid {
		if f == k {
			return false
		}
	}
	return true
}

// Mail configures how e-mail (device approval links) is sent: through
// SMTP when Addr is set, else, in demo mode only, into the log.
//
// Security invariant: mail carries one-time approval links, so it goes to
// the relay over TLS verified for the relay's host name; in clear only to
// a loopback relay, or with InsecurePlaintext.
type Mail struct {
	Addr string `yaml:"smtp_addr"` // host:port; the relay's certificate must name host
	// TLS is how the relay connection is protected: "" (implicit TLS on
	// port 465, required STARTTLS on any other), starttls, implicit, or
	// none (a loopback relay only, unless InsecurePlaintext).
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of the CAs that verify the relay's
	// certificate, for a relay with a private CA; empty means the
	// system's roots.
	CAFile   string `yaml:"ca_file"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	// Password is a secret: set it with GATEHOUSE_SMTP_PASSWORD. It is
	// sent only over TLS.
	Password string `yaml:"password"`
	// InsecurePlaintext allows mail in clear to a relay that is not on
	// loopback (tls: none, or a relay that offers no STARTTLS): whoever
	// reads the path can approve their own device with the links. The
	// long name is deliberate.
	InsecurePlaintext bool `yaml:"insecure_plaintext_to_remote_relay"`
	// NotifySignIns e-mails each user about every new sign-in (when mail
	// can be sent at all).
	NotifySignIns bool `yaml:"notify_sign_ins"`
}

// SignInNotices reports whether every new sign-in is e-mailed to its
// user: asked for, and mail can be sent (SMTP, or the demo log mailer).
func (c *Config) SignInNotices() bool { return c.Mail.NotifySignIns && (c.Mail.Addr != "" || c.Demo) }

func defaultFactors() Factors {
	aal2 := map[session.Door]session.Assurance{session.Web: session.AAL2, session.Desktop: session.AAL2, session.Mobile: session.AAL2}
	return Factors{
		Issuer:         "gatehouse",
		WebAuthn:       WebAuthn{RPName: "gatehouse", UserVerification: "preferred"},
		FlowLifetime:   5 * time.Minute,
		PushLifetime:   2 * time.Minute,
		MaxPendingPush: 3,
		StepUpWindow:   session.DefaultStepUpWindow,
		Policy: map[user.Profile]ProfilePolicy{
			// Professionals trade from a workstation that hosts automation:
			// no SMS, and a device-bound key on the desktop.
			user.Professional: {Forbid: []factor.Kind{factor.SMS}, MinAssurance: map[session.Door]session.Assurance{
				session.Web: session.AAL2, session.Desktop: session.AAL3, session.Mobile: session.AAL2}},
			user.Occasional: {MinAssurance: aal2},
			user.Mobile:     {MinAssurance: aal2},
		},
	}
}

// RP returns the WebAuthn relying party id and origins, derived from the
// public origin when not set.
func (c *Config) RP() (id string, origins []string) {
	id, origins = c.Factors.WebAuthn.RPID, c.Factors.WebAuthn.Origins
	if u, err := url.Parse(c.PublicOrigin); err == nil {
		if id == "" {
			id = u.Hostname()
		}
		if len(origins) == 0 {
			origins = []string{c.PublicOrigin}
		}
	}
	return id, origins
}

func (c *Config) validateFactors(bad func(string, ...any), serving bool) {
	f := c.Factors
	if f.SeedKey == "" && !c.Demo && serving {
		bad("factors.seed_key: required outside demo mode, to seal TOTP seeds (set GATEHOUSE_SEED_KEY to the output of `head -c32 /dev/urandom | base64`)")
	} else if f.SeedKey != "" {
		if _, err := seal.ParseKey(f.SeedKey); err != nil {
			bad("factors.seed_key: %v", err)
		}
	}
	switch f.WebAuthn.UserVerification {
	case "required", "preferred", "discouraged":
	default:
		bad("factors.webauthn.user_verification %q: want required, preferred or discouraged", f.WebAuthn.UserVerification)
	}
	switch f.SMS.Provider {
	case "", "log":
	case "twilio":
		if f.SMS.AccountSID == "" || f.SMS.AuthToken == "" || f.SMS.From == "" {
			bad("factors.sms: twilio needs account_sid, auth_token (GATEHOUSE_SMS_AUTH_TOKEN) and from")
		}
	default:
		bad("factors.sms.provider %q: want \"\", log or twilio", f.SMS.Provider)
	}
	if f.SMS.Provider == "log" && !c.Demo {
		bad("factors.sms.provider log: only in demo mode (it writes codes to the log)")
	}
	if f.FlowLifetime < 30*time.Second || f.FlowLifetime > 15*time.Minute {
		bad("factors.flow_lifetime %v: want 30s to 15m", f.FlowLifetime)
	}
	if f.PushLifetime < 10*time.Second || f.PushLifetime > 10*time.Minute {
		bad("factors.push_lifetime %v: want 10s to 10m (NIST SP 800-63B-4)", f.PushLifetime)
	}
	if f.MaxPendingPush < 1 || f.MaxPendingPush > 10 {
		bad("factors.max_pending_push %d: want 1 to 10", f.MaxPendingPush)
	}
	if f.StepUpWindow < time.Minute || f.StepUpWindow > time.Hour {
		bad("factors.step_up_window %v: want 1m to 1h", f.StepUpWindow)
	}
	for _, p := range []user.Profile{user.Professional, user.Occasional, user.Mobile} {
		pp, ok := f.Policy[p]
		if !ok {
			bad("factors.policy.%s: missing", p)
			continue
		}
		for _, k := range pp.Forbid {
			if _, err := factor.ParseKind(string(k)); err != nil {
				bad("factors.policy.%s.forbid: %v", p, err)
			}
		}
		for _, i := range session.Doors {
			a := pp.MinAssurance[i]
			if a < session.AAL1 || a > session.AAL3 {
				bad("factors.policy.%s.min_assurance.%s: want 1 to 3", p, i)
			}
		}
	}
	c.validateMail(bad)
}

func (c *Config) validateMail(bad func(string, ...any)) {
	m := c.Mail
	mode, err := notify.ParseTLSMode(m.TLS)
	if err != nil {
		bad("mail.tls %q: want starttls, implicit or none-loopback-only (empty: implicit on port 465, starttls otherwise)", m.TLS)
	}
	if m.Addr == "" {
		return
	}
	if m.From == "" {
		bad("mail.from: required with mail.smtp_addr")
	}
	host, port, err := net.SplitHostPort(m.Addr)
	if err != nil || host == "" || port == "" {
		bad("mail.smtp_addr %q: want HOST:PORT, e.g. smtp.example.com:587", m.Addr)
		return
	}
	if mode == notify.NoTLS && !notify.LoopbackHost(host) && !m.InsecurePlaintext {
		bad("mail.tls none: only for a relay on loopback (localhost or 127.0.0.1); mail carries one-time approval links, so use starttls or implicit")
	}
	if mode == notify.NoTLS && m.Username != "" {
		bad("mail.username: the SMTP password is sent only over TLS, and mail.tls is none")
	}
}
