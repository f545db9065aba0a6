package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrInvalidKey means a device key is not a P-256 private key, or its PEM
// encoding is not one that [ParseKey] reads.
var ErrInvalidKey = errors.New("dpop: not a P-256 private key")

// idBytes is the entropy of a proof's "jti": 128 bits, so that honest
// clients never collide in a [ReplayCache].
const idBytes = 16

// Signer makes DPoP proofs with a device's P-256 key (ES256), as the desktop
// and mobile clients and the CLI do. It is safe for concurrent use if Rand is.
type Signer struct {
	// Rand is the source of each proof's "jti"; nil means crypto/rand.Reader.
	// (Since Go 1.26 the ECDSA signature itself always uses a secure source.)
	Rand io.Reader

	key    *ecdsa.PrivateKey
	header string // base64url protected header, the same for every proof
	jkt    string
}

// NewSigner returns a Signer for key, which must be a P-256 private key.
func NewSigner(key *ecdsa.PrivateKey) (*Signer, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, ErrInvalidKey
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	jkt, err := Thumbprint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	header := `{"typ":"` + Type + `","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"` +
		enc.EncodeToString(point[1:33]) + `","y":"` + enc.EncodeToString(point[33:]) + `"}}`
	return &Signer{key: key, header: enc.EncodeToString([]byte(header)), jkt: jkt}, nil
}

// JKT returns the RFC 7638 thumbprint of the signer's public key: the value
// that the server binds the session to.
func (s *Signer) JKT() string { return s.jkt }

// proofClaims is the payload a Signer writes.
type proofClaims struct {
	JTI string `json:"jti"`
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	IAT int64  `json:"iat"`
	ATH string `json:"ath,omitempty"`
}

// Proof returns a compact DPoP proof for a request with the given method and
// absolute http(s) URL, issued at now. The URL's query and fragment are
// dropped, as "htu" requires. accessToken is the token the request carries
// in "Authorization: DPoP", or "" at login, in which case no "ath" is sent.
func (s *Signer) Proof(method, rawURL, accessToken string, now time.Time) (string, error) {
	if !isToken(method) {
		return "", fmt.Errorf("dpop: proof: method %q is not an HTTP method", method)
	}
	htu := stripQuery(rawURL)
	if _, ok := normalizeHTU(htu); !ok {
		return "", fmt.Errorf("dpop: proof: %q is not an absolute http(s) URL", htu)
	}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	var id [idBytes]byte
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return "", fmt.Errorf("dpop: proof: jti: %w", err)
	}
	c := proofClaims{
		JTI: base64.RawURLEncoding.EncodeToString(id[:]),
		HTM: method,
		HTU: htu,
		IAT: now.Unix(),
	}
	if accessToken != "" {
		c.ATH = TokenHash(accessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: %w", err)
	}
	var b strings.Builder
	b.Grow(len(s.header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 + 86)
	b.WriteString(s.header)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	digest := sha256.Sum256([]byte(b.String()))
	rs, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("dpop: proof: sign: %w", err)
	}
	// JWS ES256 signatures are R || S, each 32 bytes big-endian (RFC 7518 §3.4).
	var sig [64]byte
	rs.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig[:]))
	return b.String(), nil
}

// GenerateKey returns a new P-256 device key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// MarshalKey encodes a P-256 device key as a PKCS #8 "PRIVATE KEY" PEM block.
// The result is a secret: write it to a file with mode 0600 and never log it.
func MarshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, ErrInvalidKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a P-256 device key from the first PEM block of data,
// either PKCS #8 ("PRIVATE KEY", as [MarshalKey] writes) or SEC 1
// ("EC PRIVATE KEY", as `openssl ecparam -genkey` writes). Encrypted PEM and
// other curves are refused with [ErrInvalidKey].
func ParseKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrInvalidKey)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: encrypted or annotated PEM", ErrInvalidKey)
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM type %q", ErrInvalidKey, block.Type)
	}
	if err != nil {
		// x509's errors describe the structure, never the key bytes.
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, ErrInvalidKey
	}
	return ec, nil
}
