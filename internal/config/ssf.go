package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"gatehouse/internal/notify"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// SSF configures the Shared Signals transmitter (OpenID SSF 1.0, CAEP and
// RISC events): its issuer, the keys that sign its tokens and the
// receivers, each with its one stream.
type SSF struct {
	// Issuer is the iss of every token; empty means public_origin.
	Issuer string `yaml:"issuer"`
	// SigningKeys are PEM files of ECDSA P-256 private keys (SEC 1 "EC
	// PRIVATE KEY" or PKCS #8). The first signs; all are published at
	// the jwks_uri, so a key being retired still verifies what it
	// signed. Required when receivers are configured; without receivers
	// an ephemeral key is published.
	SigningKeys []string `yaml:"signing_keys"`
	// Receivers are the services told of revocations, one stream each.
	Receivers []SSFReceiver `yaml:"receivers"`
}

// SSFReceiver is one receiver and its stream.
type SSFReceiver struct {
	// ID is the stream_id: 1 to 63 lower-case letters, digits or '-'.
	ID string `yaml:"id"`
	// Audience is the aud of the tokens it is sent.
	Audience []string `yaml:"audience"`
	// TokenSHA256 is the hex SHA-256 of the bearer token the receiver
	// presents to the stream endpoints. GATEHOUSE_SSF_TOKEN_<ID> (the ID
	// upper-cased, '-' as '_') gives the token itself instead.
	TokenSHA256 string `yaml:"token_sha256"`
	// Token is the bearer token from the environment; never in the file.
	Token string `yaml:"-"`
	// Delivery is push (RFC 8935: gatehouse posts each token to URL) or
	// poll (RFC 8936: the receiver fetches them).
	Delivery string `yaml:"delivery"`
	// URL is the push endpoint: https, or http to a loopback host.
	URL string `yaml:"url"`
	// Authorization is the Authorization header sent with each push, if
	// the endpoint wants one; GATEHOUSE_SSF_AUTHORIZATION_<ID> overrides.
	Authorization string `yaml:"authorization"`
	// Events are the events the receiver may have, by name
	// (session-revoked, credential-change, assurance-level-change,
	// token-claims-change, account-disabled, sessions-revoked,
	// credential-compromise); empty or ["*"] means all of them.
	Events []string `yaml:"events"`
}

// EnvName is the suffix of the receiver's environment variables.
func (r SSFReceiver) EnvName() string {
	return strings.ToUpper(strings.ReplaceAll(r.ID, "-", "_"))
}

// SSFEvents are the event names a receiver may list, the last segment of
// their type URIs.
var SSFEvents = []string{"session-revoked", "credential-change", "assurance-level-change", "token-claims-change",
	"account-disabled", "sessions-revoked", "credential-compromise"}

func (c *Config) applySSFEnv(getenv func(string) string) {
	for i := range c.SSF.Receivers {
		r := &c.SSF.Receivers[i]
		if v := getenv("GATEHOUSE_SSF_TOKEN_" + r.EnvName()); v != "" {
			r.Token = v
		}
		if v := getenv("GATEHOUSE_SSF_AUTHORIZATION_" + r.EnvName()); v != "" {
			r.Authorization = v
		}
	}
}

var streamID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (c *Config) validateSSF(bad func(string, ...any), serving bool) {
	s := c.SSF
	if s.Issuer != "" {
		if u, err := url.Parse(s.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("ssf.issuer %q: want an https URL with no query or fragment", s.Issuer)
		}
	}
	if serving {
		for i, f := range s.SigningKeys {
			if _, err := LoadSigningKey(f); err != nil {
				bad("ssf.signing_keys[%d]: %v", i, err)
			}
		}
	}
	if len(s.Receivers) > 0 && len(s.SigningKeys) == 0 {
		bad("ssf.receivers: set ssf.signing_keys (a P-256 key in PEM: openssl ecparam -name prime256v1 -genkey -noout -out ssf.pem)")
	}
	seen := map[string]bool{}
	for i, r := range s.Receivers {
		at := fmt.Sprintf("ssf.receivers[%d]", i)
		if !streamID.MatchString(r.ID) {
			bad("%s.id %q: 1 to 63 lower-case letters, digits or '-'", at, r.ID)
		} else if seen[r.ID] {
			bad("%s.id %q: named twice", at, r.ID)
		}
		seen[r.ID] = true
		if len(r.Audience) == 0 {
			bad("%s.audience: at least one", at)
		}
		for _, a := range r.Audience {
			if a == "" {
				bad("%s.audience: an empty audience", at)
			}
		}
		switch {
		case r.Token == "" && r.TokenSHA256 == "":
			bad("%s: set token_sha256 (printf %%s \"$TOKEN\" | sha256sum) or GATEHOUSE_SSF_TOKEN_%s", at, r.EnvName())
		case r.Token != "" && len(r.Token) < 32:
			bad("%s: GATEHOUSE_SSF_TOKEN_%s is shorter than 32 characters", at, r.EnvName())
		case r.Token == "":
			if b, err := hex.DecodeString(r.TokenSHA256); err != nil || len(b) != sha256.Size {
				bad("%s.token_sha256: want 64 hex digits", at)
			}
		}
		switch r.Delivery {
		case "push":
			if err := pushURL(r.URL); err != nil {
				bad("%s.url %q: %v", at, r.URL, err)
			}
		case "poll":
			if r.URL != "" || r.Authorization != "" {
				bad("%s: a poll stream has no url or authorization (the receiver polls %s)", at, "/v1/ssf/poll")
			}
		default:
			bad("%s.delivery %q: want push or poll", at, r.Delivery)
		}
		for _, e := range r.Events {
			if e != "*" && !contains(SSFEvents, e) {
				bad("%s.events: unknown event %q (want %s, or *)", at, e, strings.Join(SSFEvents, ", "))
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func pushURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("want an absolute https URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if notify.LoopbackHost(host) {
			return nil
		}
		return errors.New("http only to a loopback host: tokens in clear are readable on the way")
	}
	return errors.New("want an absolute https URL")
}

// SSFTokenHash returns the SHA-256 of the receiver's bearer token. Call
// after Validate.
func (r SSFReceiver) SSFTokenHash() [sha256.Size]byte {
	if r.Token != "" {
		return sha256.Sum256([]byte(r.Token))
	}
	var h [sha256.Size]byte
	b, _ := hex.DecodeString(r.TokenSHA256)
	copy(h[:], b)
	return h
}

// LoadSigningKey reads an ECDSA P-256 private key from a PEM file.
func LoadSigningKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no EC PRIVATE KEY or PRIVATE KEY block", path)
		}
		var k any
		switch b.Type {
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue // EC PARAMETERS, before the key in openssl's output
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: want an ECDSA P-256 key (ES256)", path)
		}
		return ec, nil
	}
}
