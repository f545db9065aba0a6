package dpop_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"testing"
	"time"

	"gatehouse/internal/dpop"
)

// t0 is the fixed "now" of these tests.
var t0 = time.Unix(1_800_000_000, 0).UTC()

const (
	testURL   = "https://api.example.com/v1/me"
	testToken = "session-token-for-tests"
)

var b64 = base64.RawURLEncoding

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	s, err := dpop.NewSigner(newKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustProof(t testing.TB, s *dpop.Signer, method, url, token string, now time.Time) string {
	t.Helper()
	p, err := s.Proof(method, url, token, now)
	if err != nil {
		t.Fatalf("Proof: %v", err)
	}
	return p
}

// ecJWK returns the public JWK members of an EC key.
func ecJWK(pub *ecdsa.PublicKey) map[string]any {
	point, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	n := (len(point) - 1) / 2
	return map[string]any{
		"kty": "EC",
		"crv": pub.Curve.Params().Name,
		"x":   b64.EncodeToString(point[1 : 1+n]),
		"y":   b64.EncodeToString(point[1+n:]),
	}
}

// signer signs a JWS signing input.
type signer func(input []byte) []byte

func es(key *ecdsa.PrivateKey) signer {
	return func(input []byte) []byte {
		var h hash.Hash = sha256.New()
		size := 32
		if key.Curve == elliptic.P384() {
			h, size = sha512.New384(), 48
		}
		h.Write(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, h.Sum(nil))
		if err != nil {
			panic(err)
		}
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	}
}

func eddsa(key ed25519.PrivateKey) signer {
	return func(input []byte) []byte { return ed25519.Sign(key, input) }
}

func hs256(secret []byte) signer {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func noSignature(input []byte) []byte { return nil }

// forge builds a compact JWS from a header and claims, each either a value
// to marshal or a string of raw JSON, signed by sign.
func forge(t testing.TB, header, claims any, sign signer) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return b64.EncodeToString([]byte(s))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b64.EncodeToString(j)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + b64.EncodeToString(sign([]byte(input)))
}

// goodHeader and goodClaims describe a valid login proof by key at t0.
func goodHeader(key *ecdsa.PrivateKey) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(&key.PublicKey)}
}

func goodClaims() map[string]any {
	return map[string]any{"jti": "a-unique-id", "htm": "POST", "htu": testURL, "iat": t0.Unix()}
}

// with returns a copy of m with the given members set, or deleted when the
// value is nil.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}
