package config

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/notice"
	"gatehouse/internal/notify"
	"gatehouse/internal/webhook"
)

// Webhook is an endpoint of the platform's that receives notices as
// Standard Webhooks requests.
type Webhook struct {
	// URL is where they are POSTed: https, or http to a loopback host.
	URL string `yaml:"url"`
	// Secret signs them: one or more whsec_ secrets separated by spaces,
	// each giving its own signature, so a receiver can move to a new
	// secret without a gap. A secret: set it with
	// GATEHOUSE_WEBHOOK_SECRET_<n>, n the endpoint's place in the list
	// from 1.
	Secret string `yaml:"secret"`
	// Events are the event types it receives (docs/notifications.md), or
	// ["*"] for every one.
	Events []string `yaml:"events"`
}

// Secrets returns the parsed secrets of a validated endpoint.
func (w Webhook) Secrets() ([]webhook.Secret, error) {
	var out []webhook.Secret
	for _, f := range strings.Fields(w.Secret) {
		s, err := webhook.ParseSecret(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Outbox tunes the delivery of notices from the outbox.
type Outbox struct {
	// AttemptTimeout bounds one delivery attempt. A message is leased for
	// twice this when claimed: a server killed mid-send leaves it to be
	// sent again that much later.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// MaxAttempts is how many attempts a message gets before it is parked
	// as failed (gatehouse outbox list --failed; retry ID).
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBase and RetryCap bound the wait between attempts: drawn at
	// random below RetryBase·2ⁿ⁻¹ after the n-th failure, never above
	// RetryCap.
	RetryBase time.Duration `yaml:"retry_base"`
	RetryCap  time.Duration `yaml:"retry_cap"`
	// FreezeLinkLifetime is how long a notice's "This wasn't me" link works.
	FreezeLinkLifetime time.Duration `yaml:"freeze_link_lifetime"`
	// NoticeLimit is how many notices one user is mailed in each
	// NoticeWindow; the others are summed up in one mail when the window
	// ends. Security-critical notices are always sent (and counted).
	NoticeLimit  int           `yaml:"notice_limit"`
	NoticeWindow time.Duration `yaml:"notice_window"`
}

// Limit is the per-user notice limit the outbox settings give.
func (o Outbox) Limit() notice.Limit { return notice.Limit{Max: o.NoticeLimit, Window: o.NoticeWindow} }

func defaultOutbox() Outbox {
	return Outbox{AttemptTimeout: 30 * time.Second, MaxAttempts: 12, RetryBase: 5 * time.Second, RetryCap: time.Hour,
		FreezeLinkLifetime: notify.DefaultFreezeLinkLifetime, NoticeLimit: notice.DefaultLimit.Max, NoticeWindow: notice.DefaultLimit.Window}
}

// webhookSecretEnv is the variable that holds the secret of the n-th
// (from 1) webhook endpoint.
func webhookSecretEnv(n int) string { return "GATEHOUSE_WEBHOOK_SECRET_" + strconv.Itoa(n) }

func (c *Config) applyWebhookEnv(getenv func(string) string) {
	for i := range c.Webhooks {
		if v := getenv(webhookSecretEnv(i + 1)); v != "" {
			c.Webhooks[i].Secret = v
		}
	}
}

func (c *Config) validateOutbox(bad func(string, ...any)) {
	o := c.Outbox
	if o.AttemptTimeout < time.Second || o.AttemptTimeout > 5*time.Minute {
		bad("outbox.attempt_timeout %v: want 1s to 5m", o.AttemptTimeout)
	}
	if o.MaxAttempts < 1 || o.MaxAttempts > 100 {
		bad("outbox.max_attempts %d: want 1 to 100", o.MaxAttempts)
	}
	if o.RetryBase <= 0 || o.RetryCap < o.RetryBase {
		bad("outbox.retry_base %v, retry_cap %v: want 0 < retry_base <= retry_cap", o.RetryBase, o.RetryCap)
	}
	if o.FreezeLinkLifetime < time.Hour || o.FreezeLinkLifetime > 30*24*time.Hour {
		bad("outbox.freeze_link_lifetime %v: want 1h to 720h", o.FreezeLinkLifetime)
	}
	if o.NoticeLimit < 1 || o.NoticeLimit > 1000 {
		bad("outbox.notice_limit %d: want 1 to 1000", o.NoticeLimit)
	}
	if o.NoticeWindow < time.Minute || o.NoticeWindow > 24*time.Hour {
		bad("outbox.notice_window %v: want 1m to 24h", o.NoticeWindow)
	}
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		name := "webhooks[" + strconv.Itoa(i) + "]"
		u, err := url.Parse(w.URL)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
			bad("%s.url: want an https URL without credentials", name)
		case u.Scheme == "https":
		case u.Scheme == "http" && notify.LoopbackHost(u.Hostname()):
		default:
			bad("%s.url: want https (http only to a loopback host): the body tells of the users' sign-ins", name)
		}
		if seen[w.URL] {
			bad("%s.url: the same URL twice", name)
		}
		seen[w.URL] = true
		if strings.TrimSpace(w.Secret) == "" {
			bad("%s.secret: required (a whsec_ secret, or %s)", name, webhookSecretEnv(i+1))
		} else if _, err := w.Secrets(); err != nil {
			// The error never repeats the secret.
			bad("%s.secret: want whsec_ and the base64 of 24 to 64 bytes, several separated by spaces", name)
		}
		if len(w.Events) == 0 {
			bad("%s.events: required: a list of event types, or [\"*\"]", name)
		}
		for _, e := range w.Events {
			if _, ok := notice.Lookup(notice.Event(e)); !ok && e != "*" {
				bad("%s.events: unknown event type %q (see docs/notifications.md)", name, e)
			}
		}
	}
}
