package approval_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/approval"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func signer(t *testing.T, secret string) *approval.Signer {
	t.Helper()
	s, err := approval.NewSigner([]byte(secret), "https://auth.example")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims() approval.Claims {
	return approval.Claims{Subject: "usr_1", ID: "apr_1", IssuedAt: t0.Unix(), Expiry: t0.Add(2 * time.Minute).Unix(),
		Account: "ACC-1", Kind: approval.Transfer, Hash: strings.Repeat("ab", 32), Factor: "push", FactorID: "fac_1", Assurance: "aal2"}
}

func TestTokenRoundTrip(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	tok, err := s.Sign(claims())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tok, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	want := claims()
	want.Issuer = "https://auth.example"
	if *got != want {
		t.Errorf("Verify = %+v, want %+v", *got, want)
	}
	// An upstream verifies it offline with the published key set alone.
	set := s.JWKS()
	b, _ := json.Marshal(set)
	var pub jose.JSONWebKeySet
	if err := json.Unmarshal(b, &pub); err != nil || len(pub.Keys) != 1 || pub.Keys[0].KeyID != s.KeyID() || !pub.Keys[0].IsPublic() {
		t.Fatalf("JWKS = %s, %v; want one public key named %s", b, err, s.KeyID())
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(pub.Keys[0].Key); err != nil {
		t.Errorf("verify with the JWKS key = %v", err)
	}
	// The same secret gives the same key on every instance.
	if again := signer(t, "0123456789abcdef0123456789abcdef"); again.KeyID() != s.KeyID() {
		t.Errorf("key id from the same secret = %s, want %s", again.KeyID(), s.KeyID())
	}
}

func TestTokenRefused(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	other := signer(t, "another secret, another key 0000")
	good, _ := s.Sign(claims())
	foreign, _ := other.Sign(claims())
	// Same kid, another key: a forged header does not help.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	js, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType(approval.TokenType).WithHeader("kid", s.KeyID()))
	c := claims()
	c.Issuer = s.Issuer()
	payload, _ := json.Marshal(c)
	obj, _ := js.Sign(payload)
	forged, _ := obj.CompactSerialize()
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	for name, tok := range map[string]string{
		"other key": foreign, "forged kid": forged, "tampered": tampered, "empty": "", "garbage": "a.b.c",
		"too long": strings.Repeat("a", approval.MaxTokenSize+1), "two dots missing": "abc",
	} {
		if _, err := s.Verify(tok, t0); !errors.Is(err, approval.ErrToken) {
			t.Errorf("Verify(%s) = %v, want ErrToken", name, err)
		}
	}
	if _, err := s.Verify(good, t0.Add(2*time.Minute)); !errors.Is(err, approval.ErrTokenExpired) {
		t.Errorf("Verify(at exp) = %v, want ErrTokenExpired", err)
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a := approval.Answer{ApprovalID: "apr_1", Decision: approval.Approve, Hash: strings.Repeat("0f", 32), SignedAt: t0}
	sig, err := approval.SignAnswer(k, a)
	if err != nil {
		t.Fatal(err)
	}
	body, err := approval.MarshalAnswer(a, sig)
	if err != nil {
		t.Fatal(err)
	}
	got, gotSig, err := approval.DecodeAnswer(body)
	if err != nil || got != a {
		t.Fatalf("DecodeAnswer(%s) = %+v, %v; want %+v", body, got, err, a)
	}
	if err := approval.VerifyAnswer(&k.PublicKey, got, gotSig); err != nil {
		t.Errorf("VerifyAnswer = %v", err)
	}
	changed := got
	changed.Hash = strings.Repeat("1f", 32)
	if err := approval.VerifyAnswer(&k.PublicKey, changed, gotSig); !errors.Is(err, approval.ErrAnswer) {
		t.Errorf("VerifyAnswer(other hash) = %v, want ErrAnswer", err)
	}
	deny := got
	deny.Decision = approval.Deny
	if err := approval.VerifyAnswer(&k.PublicKey, deny, gotSig); !errors.Is(err, approval.ErrAnswer) {
		t.Errorf("VerifyAnswer(other decision) = %v, want ErrAnswer", err)
	}
}

func TestDecodeAnswerRefuses(t *testing.T) {
	h := strings.Repeat("0f", 32)
	for name, body := range map[string]string{
		"missing":     `{"approval_id":"apr_1","decision":"approve","hash":"` + h + `","signed_at":1}`,
		"duplicate":   `{"approval_id":"apr_1","approval_id":"apr_2","decision":"approve","hash":"` + h + `","signed_at":1,"signature":"AA=="}`,
		"case":        `{"Approval_id":"apr_1","decision":"approve","hash":"` + h + `","signed_at":1,"signature":"AA=="}`,
		"upper hex":   `{"approval_id":"apr_1","decision":"approve","hash":"` + strings.ToUpper(h) + `","signed_at":1,"signature":"AA=="}`,
		"decision":    `{"approval_id":"apr_1","decision":"yes","hash":"` + h + `","signed_at":1,"signature":"AA=="}`,
		"newline id":  `{"approval_id":"apr_1\nhash=x","decision":"approve","hash":"` + h + `","signed_at":1,"signature":"AA=="}`,
		"unknown":     `{"approval_id":"apr_1","decision":"approve","hash":"` + h + `","signed_at":1,"signature":"AA==","number":4}`,
		"not base64":  `{"approval_id":"apr_1","decision":"approve","hash":"` + h + `","signed_at":1,"signature":"!!"}`,
		"huge":        `{"approval_id":"` + strings.Repeat("a", approval.MaxAnswerSize) + `"}`,
		"signed_at 0": `{"approval_id":"apr_1","decision":"approve","hash":"` + h + `","signed_at":0,"signature":"AA=="}`,
	} {
		if _, _, err := approval.DecodeAnswer([]byte(body)); !errors.Is(err, approval.ErrAnswer) {
			t.Errorf("DecodeAnswer(%s) = %v, want ErrAnswer", name, err)
		}
	}
}

// FuzzDecodeAnswer: never panics, and what it accepts marshals back to
// an answer it decodes alike.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`{"approval_id":"apr_1","decision":"approve","hash":"` + strings.Repeat("0f", 32) + `","signed_at":1735689600,"signature":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, sig, err := approval.DecodeAnswer(body)
		if err != nil {
			return
		}
		again, err := approval.MarshalAnswer(a, sig)
		if err != nil {
			t.Fatalf("MarshalAnswer(%+v) = %v", a, err)
		}
		b, _, err := approval.DecodeAnswer(again)
		if err != nil || b != a {
			t.Fatalf("round trip of %q = %+v, %v; want %+v", body, b, err, a)
		}
	})
}

func TestWebAuthnChallenge(t *testing.T) {
	h := strings.Repeat("0f", 32)
	c1, _ := approval.WebAuthnChallenge(h, []byte("nonce-1"))
	c2, _ := approval.WebAuthnChallenge(h, []byte("nonce-2"))
	c3, _ := approval.WebAuthnChallenge(strings.Repeat("1f", 32), []byte("nonce-1"))
	if len(c1) != 32 || string(c1) == string(c2) || string(c1) == string(c3) {
		t.Errorf("challenges do not commit to hash and nonce: %x %x %x", c1, c2, c3)
	}
	if _, err := approval.WebAuthnChallenge("xyz", nil); err == nil {
		t.Error("WebAuthnChallenge(not hex) succeeded")
	}
}

func TestWords(t *testing.T) {
	c, _ := approval.Canonical([]byte(`{"side":"buy","quantity":100,"instrument":"AAPL","limit_price":"187.50","currency":"USD","notional":"18750.00"}`))
	got := approval.Words(approval.Order, c)
	want := []string{"Buy 100 AAPL at a limit of 187.50 USD (notional 18750.00)", "currency: USD", "instrument: AAPL", "limit_price: 187.50", "notional: 18750.00", "quantity: 100", "side: buy"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Words(order) = %q, want %q", got, want)
	}
	c, _ = approval.Canonical([]byte(`{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000","name":"Maya Ito"}}`))
	got = approval.Words(approval.Transfer, c)
	if got[0] != "Transfer 5000.00 USD to DE89370400440532013000 Maya Ito" || got[len(got)-1] != "destination.name: Maya Ito" {
		t.Errorf("Words(transfer) = %q", got)
	}
}
