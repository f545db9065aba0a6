package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a public key,
// base64url without padding: the "jkt" that sessions are bound to. It
// accepts *ecdsa.PublicKey (P-256, P-384, P-521), ed25519.PublicKey and
// *rsa.PublicKey. RSA is here for the RFC's own test vector and for
// completeness; [ParseProof] never accepts an RSA proof.
//
// The canonical JSON is written by hand rather than through a JWK library
// because this runs on every request: the members are fixed, already in
// lexicographic order, and base64url needs no JSON escaping.
func Thumbprint(key crypto.PublicKey) (string, error) {
	buf := make([]byte, 0, 160)
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("dpop: thumbprint: nil key")
		}
		point, err := k.Bytes() // 0x04 || X || Y, each coordinate full length
		if err != nil {
			return "", fmt.Errorf("dpop: thumbprint: %w", err)
		}
		n := (len(point) - 1) / 2
		buf = append(buf, `{"crv":"`...)
		buf = append(buf, k.Curve.Params().Name...)
		buf = append(buf, `","kty":"EC","x":"`...)
		buf = base64.RawURLEncoding.AppendEncode(buf, point[1:1+n])
		buf = append(buf, `","y":"`...)
		buf = base64.RawURLEncoding.AppendEncode(buf, point[1+n:])
		buf = append(buf, `"}`...)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("dpop: thumbprint: bad Ed25519 key length")
		}
		buf = append(buf, `{"crv":"Ed25519","kty":"OKP","x":"`...)
		buf = base64.RawURLEncoding.AppendEncode(buf, k)
		buf = append(buf, `"}`...)
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.E <= 0 {
			return "", errors.New("dpop: thumbprint: invalid RSA key")
		}
		buf = append(buf, `{"e":"`...)
		buf = base64.RawURLEncoding.AppendEncode(buf, big.NewInt(int64(k.E)).Bytes())
		buf = append(buf, `","kty":"RSA","n":"`...)
		buf = base64.RawURLEncoding.AppendEncode(buf, k.N.Bytes())
		buf = append(buf, `"}`...)
	default:
		return "", fmt.Errorf("dpop: thumbprint: unsupported key type %T", key)
	}
	sum := sha256.Sum256(buf)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
