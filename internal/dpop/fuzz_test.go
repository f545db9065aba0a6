package dpop_test

import (
	"crypto"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/dpop"
)

// FuzzParseProof: ParseProof never panics, and anything it accepts is a JWS
// that an independent verification (go-jose's own thumbprint and Verify)
// confirms was signed by the key whose thumbprint is p.JKT, over the claims
// that p reports.
func FuzzParseProof(f *testing.F) {
	s := newSigner(f)
	valid := mustProof(f, s, "GET", testURL, testToken, t0)
	f.Add(valid)
	f.Add(mustProof(f, s, "POST", "https://api.example.com/v1/login", "", t0))
	f.Add(rfcFigure2)
	f.Add(rfcFigure13)
	f.Add(valid[:len(valid)/2])                   // truncated
	f.Add(valid[:len(valid)-1])                   // one short
	f.Add(valid + "A")                            // one long
	f.Add(valid[:20] + "x" + valid[21:])          // mangled header
	f.Add(swapSignature(rfcFigure2, rfcFigure13)) // valid parts, wrong signature
	key := newKey(f, elliptic.P256())
	f.Add(forge(f, with(goodHeader(key), "alg", "none"), goodClaims(), noSignature))
	f.Add(forge(f, goodHeader(key), `{"jti":"x","htm":"GET","htu":"https://a/","iat":1e9,"ath":"`+rfcATH+`"}`, es(key)))
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")

	f.Fuzz(func(t *testing.T, s string) {
		p, err := dpop.ParseProof(s)
		if err != nil {
			if p != nil {
				t.Fatalf("ParseProof returned both a proof and %v", err)
			}
			if !errors.Is(err, dpop.ErrMalformed) && !errors.Is(err, dpop.ErrSignature) && !errors.Is(err, dpop.ErrUnsupportedAlg) {
				t.Fatalf("ParseProof error %v is none of the sentinels", err)
			}
			return
		}
		jws, err := jose.ParseSignedCompact(s, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA})
		if err != nil {
			t.Fatalf("accepted %q, but go-jose cannot parse it: %v", s, err)
		}
		jwk := jws.Signatures[0].Header.JSONWebKey
		sum, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := b64.EncodeToString(sum); got != p.JKT {
			t.Fatalf("JKT = %q, go-jose thumbprint %q", p.JKT, got)
		}
		payload, err := jws.Verify(jwk)
		if err != nil {
			t.Fatalf("accepted a proof that does not verify: %v", err)
		}
		var c struct {
			JTI string `json:"jti"`
			HTM string `json:"htm"`
			HTU string `json:"htu"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.JTI != p.ID || c.HTM != p.Method || c.HTU != p.URL {
			t.Fatalf("proof %+v does not report the signed claims %+v", p, c)
		}
		if len(s) > dpop.MaxProofSize || p.ID == "" || len(p.ID) > dpop.MaxIDLength {
			t.Fatalf("accepted a proof outside the limits: %d bytes, jti %q", len(s), p.ID)
		}
		again, err := dpop.ParseProof(s)
		if err != nil || !cmp.Equal(p, again) {
			t.Fatalf("ParseProof is not deterministic: %+v, %v", again, err)
		}
	})
}

// FuzzProofClaims signs fuzzed claims with a real key, so that the fuzzer
// reaches the claims and htu code behind the signature check. Anything
// accepted must pass Check against its own method, URL and time.
func FuzzProofClaims(f *testing.F) {
	f.Add(`{"jti":"x","htm":"GET","htu":"https://api.example.com/v1/me","iat":1800000000}`)
	f.Add(`{"jti":"x","htm":"GET","htu":"HTTPS://API.example.com:443/a/./b/../%7e?q#f","iat":1800000000.25}`)
	f.Add(`{"jti":"x","htm":"GET","htu":"http://[::1]:80","iat":0}`)
	f.Add(`{"jti":"x","htm":"GET","htu":"https://a/","iat":1,"nonce":"n","ath":"` + rfcATH + `"}`)
	f.Add(`{"jti":"x","jti":"y"}`)
	f.Add(`{"iat":1e400}`)
	key := newKey(f, elliptic.P256())
	header := goodHeader(key)

	f.Fuzz(func(t *testing.T, claims string) {
		p, err := dpop.ParseProof(forge(t, header, claims, es(key)))
		if err != nil {
			if errors.Is(err, dpop.ErrSignature) || errors.Is(err, dpop.ErrUnsupportedAlg) {
				t.Fatalf("claims %q: ParseProof = %v, want only ErrMalformed", claims, err)
			}
			return
		}
		if p.ATH != "" {
			return
		}
		e := dpop.Expect{Method: p.Method, URL: p.URL + "?x", Now: p.IssuedAt}
		if err := p.Check(e); err != nil {
			t.Fatalf("claims %q: Check(own method, URL, iat) = %v", claims, err)
		}
	})
}
