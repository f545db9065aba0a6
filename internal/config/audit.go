package config

import (
	"net/url"
	"time"

	"gatehouse/internal/notify"
)

// Audit configures the audit chain's checkpoints.
type Audit struct {
	Checkpoints Checkpoints `yaml:"checkpoints"`
}

// Checkpoints says where serve writes a signed checkpoint of the audit
// chain's head (its sequence number and hash) outside the database, and
// how often, so that `gatehouse audit verify --checkpoint FILE` finds a
// chain later cut short or rewritten. Each is signed with the first of
// ssf.signing_keys; with none of File, Webhook and Log, serve writes none
// (`gatehouse audit checkpoint` still does).
type Checkpoints struct {
	// Every is the interval between checkpoints.
	Every time.Duration `yaml:"every"`
	// File is appended one line per checkpoint; keep it off the database's
	// machine, or ship it away, for it to prove anything.
	File string `yaml:"file"`
	// Webhook receives each checkpoint line as a JSON POST: https, or
	// http to a loopback host.
	Webhook string `yaml:"webhook"`
	// Log writes each checkpoint line to the log at info.
	Log bool `yaml:"log"`
}

// Enabled reports whether serve writes checkpoints anywhere.
func (c Checkpoints) Enabled() bool { return c.File != "" || c.Webhook != "" || c.Log }

func (c *Config) validateAudit(bad func(string, ...any)) {
	cp := c.Audit.Checkpoints
	if cp.Every < time.Second || cp.Every > 24*time.Hour {
		bad("audit.checkpoints.every %v: want 1s to 24h", cp.Every)
	}
	if cp.Webhook != "" {
		u, err := url.Parse(cp.Webhook)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
			bad("audit.checkpoints.webhook: want an https URL without credentials")
		case u.Scheme == "https":
		case u.Scheme == "http" && notify.LoopbackHost(u.Hostname()):
		default:
			bad("audit.checkpoints.webhook: want https (http only to a loopback host)")
		}
	}
	if cp.Enabled() && len(c.SSF.SigningKeys) == 0 {
		bad("audit.checkpoints: set ssf.signing_keys, whose first key signs the checkpoints (openssl ecparam -name prime256v1 -genkey -noout -out ssf.pem)")
	}
}
