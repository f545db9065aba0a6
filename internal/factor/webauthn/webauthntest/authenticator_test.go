package webauthntest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"gatehouse/internal/factor/webauthn/webauthntest"
)

const createOptions = `{"publicKey":{
	"rp":{"id":"example.com","name":"Example"},
	"user":{"id":"AQID","name":"alice","displayName":"Alice"},
	"challenge":"AAECAwQFBgcICQoLDA0ODw",
	"pubKeyCredParams":[{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}]}}`

const getOptions = `{"publicKey":{"challenge":"DwAODQwLCgkIBwYFBAMCAQ","rpId":"example.com"}}`

func TestCreate(t *testing.T) {
	a := webauthntest.New("https://example.com", "example.com")
	a.BackupEligible, a.UserVerification = true, true
	r, err := a.Create([]byte(createOptions))
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(r)
	if err != nil {
		t.Fatalf("the library cannot parse the response: %v", err)
	}
	if !bytes.Equal(p.RawID, a.ID()) || p.ID == "" {
		t.Errorf("credential ID %x, want %x", p.RawID, a.ID())
	}
	cd := p.Response.CollectedClientData
	if cd.Type != protocol.CreateCeremony || cd.Challenge != "AAECAwQFBgcICQoLDA0ODw" || cd.Origin != "https://example.com" {
		t.Errorf("client data %+v", cd)
	}
	ao := p.Response.AttestationObject
	if ao.Format != "none" || len(ao.AttStatement) != 0 {
		t.Errorf("attestation %q %v, want none and empty", ao.Format, ao.AttStatement)
	}
	ad := ao.AuthData
	h := sha256.Sum256([]byte("example.com"))
	wantFlags := protocol.FlagUserPresent | protocol.FlagUserVerified | protocol.FlagBackupEligible | protocol.FlagAttestedCredentialData
	if !bytes.Equal(ad.RPIDHash, h[:]) || ad.Flags != wantFlags || ad.Counter != 0 {
		t.Errorf("authenticator data hash %x flags %08b counter %d; want %x %08b 0", ad.RPIDHash, ad.Flags, ad.Counter, h, wantFlags)
	}
	if !bytes.Equal(ad.AttData.CredentialID, a.ID()) || !bytes.Equal(ad.AttData.AAGUID, make([]byte, 16)) {
		t.Errorf("attested credential %x aaguid %x", ad.AttData.CredentialID, ad.AttData.AAGUID)
	}

	// The COSE key in the authenticator data and the SPKI key beside it are
	// the same P-256 key.
	key, err := webauthncose.ParsePublicKey(ad.AttData.CredentialPublicKey)
	if err != nil {
		t.Fatalf("COSE key: %v", err)
	}
	ec, ok := key.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Algorithm != int64(webauthncose.AlgES256) {
		t.Fatalf("COSE key %#v, want EC2 ES256", key)
	}
	fromCOSE, err := ec.ToECDSA()
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.ParsePKIXPublicKey(p.Raw.AttestationResponse.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !fromCOSE.Equal(spki.(*ecdsa.PublicKey)) {
		t.Error("COSE and SPKI public keys differ")
	}
}

func TestGet(t *testing.T) {
	a := webauthntest.New("https://example.com", "example.com")
	if _, err := a.Create([]byte(createOptions)); err != nil {
		t.Fatal(err)
	}
	clone := a.Clone()
	for want := uint32(1); want <= 2; want++ {
		r, err := a.Get([]byte(getOptions))
		if err != nil {
			t.Fatal(err)
		}
		p, err := protocol.ParseCredentialRequestResponseBytes(r)
		if err != nil {
			t.Fatalf("the library cannot parse the response: %v", err)
		}
		if got := p.Response.AuthenticatorData.Counter; got != want {
			t.Errorf("counter = %d, want %d", got, want)
		}
		if !bytes.Equal(p.Response.UserHandle, []byte{1, 2, 3}) {
			t.Errorf("user handle = %x, want 010203", p.Response.UserHandle)
		}
		if p.Response.CollectedClientData.Type != protocol.AssertCeremony {
			t.Errorf("client data type = %q", p.Response.CollectedClientData.Type)
		}
	}
	if got := clone.Counter(); got != 0 {
		t.Errorf("clone counter = %d, want 0: clones count apart", got)
	}
	a.ZeroCounter = true
	r, _ := a.Get([]byte(getOptions))
	p, _ := protocol.ParseCredentialRequestResponseBytes(r)
	if p.Response.AuthenticatorData.Counter != 0 {
		t.Errorf("ZeroCounter reported %d", p.Response.AuthenticatorData.Counter)
	}
}

func TestErrors(t *testing.T) {
	a := webauthntest.New("https://example.com", "example.com")
	other := webauthntest.New("https://example.com", "example.com")
	allowOther, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"challenge":        "AAAAAAAAAAAAAAAAAAAAAA",
		"allowCredentials": []any{map[string]any{"type": "public-key", "id": base64.RawURLEncoding.EncodeToString(other.ID())}},
	}})
	excludeSelf, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"rp": map[string]any{"id": "example.com"}, "user": map[string]any{"id": "AQID"},
		"challenge":          "AAAAAAAAAAAAAAAAAAAAAA",
		"pubKeyCredParams":   []any{map[string]any{"type": "public-key", "alg": -7}},
		"excludeCredentials": []any{map[string]any{"type": "public-key", "id": base64.RawURLEncoding.EncodeToString(a.ID())}},
	}})
	for _, tt := range []struct {
		name string
		run  func() error
		want error
	}{
		{"CreateGarbage", func() error { _, err := a.Create([]byte("x")); return err }, webauthntest.ErrOptions},
		{"CreateNoES256", func() error {
			_, err := a.Create([]byte(`{"publicKey":{"user":{"id":"AQID"},"challenge":"AAAA","pubKeyCredParams":[{"type":"public-key","alg":-8}]}}`))
			return err
		}, webauthntest.ErrOptions},
		{"CreateNoUserID", func() error {
			_, err := a.Create([]byte(`{"publicKey":{"challenge":"AAAA","pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`))
			return err
		}, webauthntest.ErrOptions},
		{"CreateExcluded", func() error { _, err := a.Create(excludeSelf); return err }, webauthntest.ErrExcluded},
		{"GetGarbage", func() error { _, err := a.Get([]byte("[]")); return err }, webauthntest.ErrOptions},
		{"GetNoChallenge", func() error { _, err := a.Get([]byte(`{"publicKey":{}}`)); return err }, webauthntest.ErrOptions},
		{"GetNotAllowed", func() error { _, err := a.Get(allowOther); return err }, webauthntest.ErrNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
