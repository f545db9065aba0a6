package cli

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/factor/sms/twilio"
	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/login"
	"gatehouse/internal/notify"
	"gatehouse/internal/seal"
	"gatehouse/internal/user"
)

// buildFactors turns the factor configuration into the login service's
// settings: the seed box, the WebAuthn relying party, the SMS sender; and
// the mailer the outbox sends mail with (nil when mail is off).
func buildFactors(c *config.Config, log *slog.Logger) (login.Factors, notify.Mailer, error) {
	f := c.Factors
	key, err := seedKey(c, log)
	if err != nil {
		return login.Factors{}, nil, err
	}
	box, err := seal.New(key)
	if err != nil {
		return login.Factors{}, nil, fmt.Errorf("factors.seed_key: %w", err)
	}
	rpID, origins := c.RP()
	rp, err := webauthn.New(webauthn.Config{RPID: rpID, RPName: f.WebAuthn.RPName, Origins: origins, UserVerification: f.WebAuthn.UserVerification})
	if err != nil {
		// An IP-address origin cannot host WebAuthn credentials; the rest
		// of gatehouse works, so say so rather than refuse to start.
		log.Warn("WebAuthn is off: set factors.webauthn.rp_id and origins, or an https public_origin with a host name", "err", err)
		rp = nil
	}
	out := login.Factors{Seal: box, Issuer: f.Issuer, WebAuthn: rp, Origin: c.PublicOrigin, FlowLifetime: f.FlowLifetime,
		PushLifetime: f.PushLifetime, MaxPendingPush: f.MaxPendingPush, StepUpWindow: f.StepUpWindow, Throttle: c.Throttle.Factor, GuessNotice: c.Throttle.FactorNotice,
		Policy: map[user.Profile]login.FactorPolicy{}}
	for p, pp := range f.Policy {
		out.Policy[p] = login.FactorPolicy{Forbid: pp.Forbid, MinAssurance: pp.MinAssurance}
	}
	switch f.SMS.Provider {
	case "log":
		out.SMS = sms.LogSender{Logger: log}
	case "twilio":
		out.SMS = &twilio.Sender{BaseURL: f.SMS.BaseURL, AccountSID: f.SMS.AccountSID, AuthToken: f.SMS.AuthToken, From: f.SMS.From}
	}
	var mailer notify.Mailer
	switch {
	case c.Mail.Addr != "":
		m, err := buildSMTP(c.Mail)
		if err != nil {
			return login.Factors{}, nil, err
		}
		log.Info("mail through SMTP", "relay", m.Addr, "tls", m.TLS.For(portOf(m.Addr)), "ca_file", c.Mail.CAFile, "insecure_plaintext", m.InsecurePlaintext)
		mailer = m
	case c.Demo:
		mailer = notify.LogMailer{Log: log}
	}
	out.MailLinks = mailer != nil
	return out, mailer, nil
}

// buildSMTP returns the SMTP mailer of a validated mail configuration,
// reading the relay's CA file.
func buildSMTP(c config.Mail) (*notify.SMTP, error) {
	mode, err := notify.ParseTLSMode(c.TLS)
	if err != nil {
		return nil, err
	}
	m := &notify.SMTP{Addr: c.Addr, From: c.From, Username: c.Username, Password: c.Password, TLS: mode, InsecurePlaintext: c.InsecurePlaintext}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail.ca_file: %w", err)
		}
		m.RootCAs = x509.NewCertPool()
		if !m.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail.ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	return m, nil
}

// portOf is the port of a host:port address, or "".
func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// seedKey returns the configured seed key or, in demo mode without one, a
// key kept in a 0600 file beside the SQLite database, so that demo TOTP
// factors survive a restart.
func seedKey(c *config.Config, log *slog.Logger) ([]byte, error) {
	if c.Factors.SeedKey != "" {
		return seal.ParseKey(c.Factors.SeedKey)
	}
	if !c.Demo {
		return nil, fmt.Errorf("factors.seed_key is required outside demo mode")
	}
	if c.DatabaseURL != "" {
		log.Warn("demo mode without factors.seed_key on PostgreSQL: TOTP seeds sealed with a key that dies with this process")
		k := make([]byte, seal.KeySize)
		rand.Read(k)
		return k, nil
	}
	path := filepath.Join(c.Data, "demo-seed.key")
	if b, err := os.ReadFile(path); err == nil {
		return seal.ParseKey(strings.TrimSpace(string(b)))
	}
	k := make([]byte, seal.KeySize)
	rand.Read(k)
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write demo seed key: %w", err)
	}
	return k, nil
}
