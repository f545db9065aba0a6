package approval

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TokenType is the typ header of an approval token.
const TokenType = "gatehouse-approval+jwt"

// MaxTokenSize bounds a token read from a header: a signed token is
// about 700 bytes.
const MaxTokenSize = 2048

var (
	// ErrToken matches every refusal of [Signer.Verify] with [errors.Is].
	ErrToken = errors.New("approval: invalid approval token")
	// ErrTokenExpired reports a token past its exp.
	ErrTokenExpired = fmt.Errorf("%w: expired", ErrToken)
)

// Claims are what an approval token says. The JSON names are the
// contract with upstreams that verify tokens offline.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"` // the user who approved
	ID        string `json:"jti"` // the approval id: one use per approval
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
	Account   string `json:"account"`
	Kind      Kind   `json:"kind"`
	Hash      string `json:"hash"`   // SHA-256 of the canonical details, hex
	Factor    string `json:"factor"` // push or webauthn
	FactorID  string `json:"factor_id"`
	Assurance string `json:"acr"` // "aal2" or "aal3"
}

// Signer signs and verifies approval tokens with one ES256 key. It is
// safe for concurrent use.
type Signer struct {
	key    *ecdsa.PrivateKey
	kid    string
	issuer string
	public jose.JSONWebKeySet
	// macKey keys the "mac" claim [Signer.Check] verifies.
	macKey []byte
	// macs pools HMAC-SHA256 states under macKey.
	macs sync.Pool
	// header is the first part of every token the signer writes: the
	// protected header, the same for all.
	header string
}

// hkdfInfo separates the approval signing key from every other use of
// the secret it is derived from.
const hkdfInfo = "gatehouse approval token signing key v1"

// NewSigner derives the signing key from secret (the configured seed
// key, which every instance on one store shares, so a token minted by
// one is accepted by all) with HKDF-SHA256, and names issuer in the
// tokens it signs.
func NewSigner(secret []byte, issuer string) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("approval: signing secret too short")
	}
	var key *ecdsa.PrivateKey
	for i := uint32(0); key == nil; i++ {
		var salt [4]byte
		binary.BigEndian.PutUint32(salt[:], i)
		d, err := hkdf.Key(sha256.New, secret, salt[:], hkdfInfo, 32)
		if err != nil {
			return nil, err
		}
		// A scalar of zero or at least the group order is refused; the
		// next counter gives another (odds of a retry: about 2^-32).
		key, _ = ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto256)
	if err != nil {
		return nil, err
	}
	jwk.KeyID = "approval-" + b64(tp)
	macKey, err := hkdf.Key(sha256.New, secret, nil, macInfo, 32)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key, kid: jwk.KeyID, issuer: issuer, public: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}, macKey: macKey}
	s.macs.New = func() any { return hmac.New(sha256.New, s.macKey) }
	// The header does not depend on the claims: sign none once to learn it.
	tok, err := s.Sign(Claims{})
	if err != nil {
		return nil, err
	}
	s.header, _, _ = strings.Cut(tok, ".")
	return s, nil
}

// KeyID returns the kid of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// Issuer returns the iss the signer writes and expects.
func (s *Signer) Issuer() string { return s.issuer }

// JWKS returns the public key set, as /.well-known/jwks.json serves it.
func (s *Signer) JWKS() jose.JSONWebKeySet { return s.public }

// Sign returns the compact JWS of c, with the signer's issuer and a
// "mac" claim for [Signer.Check].
func (s *Signer) Sign(c Claims) (string, error) {
	c.Issuer = s.issuer
	payload, err := json.Marshal(macClaims{Claims: c, MAC: s.mac(&c)})
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType(TokenType).WithHeader("kid", s.kid)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, opts)
	if err != nil {
		return "", err
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Verify checks a token's form, type, key, signature, issuer and expiry
// at now, and returns its claims. Whether the token fits the request and
// has not been used is the caller's to check.
func (s *Signer) Verify(compact string, now time.Time) (*Claims, error) {
	if len(compact) > MaxTokenSize || strings.Count(compact, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrToken)
	}
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not one signature", ErrToken)
	}
	h := jws.Signatures[0].Header
	if h.KeyID != s.kid || h.ExtraHeaders[jose.HeaderType] != TokenType {
		return nil, fmt.Errorf("%w: another key or type", ErrToken)
	}
	payload, err := jws.Verify(&s.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: signature", ErrToken)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrToken)
	}
	return s.checkClaims(&c, now)
}

// checkClaims checks what every token must say, and its expiry at now.
func (s *Signer) checkClaims(c *Claims, now time.Time) (*Claims, error) {
	if c.Issuer != s.issuer || c.ID == "" || c.Subject == "" || c.Hash == "" || c.Account == "" || c.Kind == "" {
		return nil, fmt.Errorf("%w: claims", ErrToken)
	}
	if now.Unix() >= c.Expiry {
		return nil, ErrTokenExpired
	}
	return c, nil
}
