package dpop_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/dpop"
)

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 §3.1.
	n, err := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	const want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	if got := mustThumb(t, key); got != want {
		t.Errorf("Thumbprint(RFC 7638 key) = %q, want %q", got, want)
	}
}

// TestThumbprintMatchesGoJOSE checks the hand-written canonical JSON against
// go-jose's, for each key type a proof may carry.
func TestThumbprintMatchesGoJOSE(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.PublicKey{"Ed25519": edPub}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		// Several keys per curve, so that some have a coordinate with a
		// leading zero byte, which must not be trimmed.
		for range 8 {
			k := newKey(t, c)
			keys[c.Params().Name+"/"+mustThumb(t, &k.PublicKey)[:6]] = &k.PublicKey
		}
	}
	for name, key := range keys {
		jwk := jose.JSONWebKey{Key: key}
		sum, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := mustThumb(t, key), b64.EncodeToString(sum); got != want {
			t.Errorf("%s: Thumbprint = %q, go-jose says %q", name, got, want)
		}
	}
}

func TestThumbprintRefusals(t *testing.T) {
	for name, key := range map[string]crypto.PublicKey{
		"Nil":          nil,
		"ShortEd25519": ed25519.PublicKey{1, 2, 3},
		"Bytes":        []byte("key"),
	} {
		if got, err := dpop.Thumbprint(key); err == nil {
			t.Errorf("Thumbprint(%s) = %q, want an error", name, got)
		}
	}
}

func TestSignerJKTIsThumbprint(t *testing.T) {
	k := newKey(t, elliptic.P256())
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &k.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.JKT(), b64.EncodeToString(sum); got != want {
		t.Errorf("JKT() = %q, want %q", got, want)
	}
}
