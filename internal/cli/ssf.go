package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/config"
	"gatehouse/internal/secevent"
	"gatehouse/internal/ssf"
)

// transmitter returns the Shared Signals transmitter the configuration
// describes, without its keys and store: enough to derive tokens from
// audit events (which are signed when sent), as every verb's store does.
func transmitter(c *config.Config) *ssf.Transmitter {
	iss := c.SSF.Issuer
	if iss == "" {
		iss = c.PublicOrigin
	}
	t := &ssf.Transmitter{Issuer: iss, Origin: c.PublicOrigin}
	for _, r := range c.SSF.Receivers {
		events := secevent.Supported()
		if len(r.Events) > 0 && !slices.Contains(r.Events, "*") {
			events = nil
			for _, u := range secevent.Supported() {
				if slices.Contains(r.Events, u[strings.LastIndexByte(u, '/')+1:]) {
					events = append(events, u)
				}
			}
		}
		t.Receivers = append(t.Receivers, &ssf.Receiver{ID: r.ID, Audience: r.Audience, TokenHash: r.SSFTokenHash(), PushURL: r.URL,
			PushAuthorization: r.Authorization, Events: events})
	}
	return t
}

// signingKeys loads the keys that sign security event tokens, each named
// by its JWK thumbprint (RFC 7638), so every instance publishes the same
// kid for the same key. With none configured (and so no receivers: Validate
// requires keys with them) an ephemeral key is made, so the transmitter
// configuration and its jwks_uri still answer.
func signingKeys(c *config.Config, log *slog.Logger) ([]secevent.Key, error) {
	keys, err := configuredSigningKeys(c)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keys = append(keys, secevent.Key{ID: thumbprint(k), Private: k})
		log.Debug("ssf: no signing key configured; an ephemeral one is published (no receivers are configured)")
	}
	return keys, nil
}

// configuredSigningKeys loads ssf.signing_keys, each named by its JWK
// thumbprint; none when none is configured.
func configuredSigningKeys(c *config.Config) ([]secevent.Key, error) {
	var keys []secevent.Key
	for i, f := range c.SSF.SigningKeys {
		k, err := config.LoadSigningKey(f)
		if err != nil {
			return nil, fmt.Errorf("ssf.signing_keys[%d]: %w", i, err)
		}
		keys = append(keys, secevent.Key{ID: thumbprint(k), Private: k})
	}
	return keys, nil
}

func thumbprint(k *ecdsa.PrivateKey) string {
	tp, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		panic(err) // a P-256 public key always has one
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}
