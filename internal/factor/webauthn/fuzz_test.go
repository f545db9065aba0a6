package webauthn_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/factor/webauthn/webauthntest"
)

// FuzzFinishLogin feeds arbitrary response bytes to FinishLogin against one
// real session. It must never panic, never flag the credential as cloned on
// input the authenticator did not sign, and accept only a response that
// carries exactly what the authenticator signed for this session.
func FuzzFinishLogin(f *testing.F) {
	fx := newFixture(f)
	u := newUser(f, "alice")
	a := newAuthenticator()
	u = fx.register(f, u, a)
	options, session, err := fx.rp.BeginLogin(u)
	if err != nil {
		f.Fatal(err)
	}
	signed := map[string]bool{} // authenticatorData + clientDataJSON of each valid response
	for range 2 {
		r, err := a.Get(options)
		if err != nil {
			f.Fatal(err)
		}
		p, err := protocol.ParseCredentialRequestResponseBytes(r)
		if err != nil {
			f.Fatal(err)
		}
		signed[string(p.Raw.AssertionResponse.AuthenticatorData)+string(p.Raw.AssertionResponse.ClientDataJSON)] = true
		f.Add(r)
		f.Add(r[:len(r)-1])
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))

	f.Fuzz(func(t *testing.T, response []byte) {
		c, err := fx.rp.FinishLogin(u, session, response)
		if err != nil {
			if !errors.Is(err, webauthn.ErrInvalid) || errors.Is(err, webauthn.ErrCloned) {
				t.Fatalf("FinishLogin(%q) = %v, want nil or ErrInvalid", response, err)
			}
			return
		}
		p, perr := protocol.ParseCredentialRequestResponseBytes(response)
		if perr != nil {
			t.Fatalf("FinishLogin accepted %q, which does not parse: %v", response, perr)
		}
		if !signed[string(p.Raw.AssertionResponse.AuthenticatorData)+string(p.Raw.AssertionResponse.ClientDataJSON)] {
			t.Fatalf("FinishLogin accepted %q, which the authenticator did not sign", response)
		}
		if !bytes.Equal(c.ID, a.ID()) || c.SignCount != p.Response.AuthenticatorData.Counter || c.Cloned {
			t.Fatalf("FinishLogin(%q) = %+v, want the authenticator's credential at counter %d", response, c, p.Response.AuthenticatorData.Counter)
		}
	})
}

// FuzzFinishRegistration feeds arbitrary response bytes to
// FinishRegistration against one real session. It must never panic, and
// accept only a response made for this session: this challenge, the
// configured origin and RP ID, and a public key a login can verify with.
// (With attestation "none" nothing signs a registration, so that is all
// there is to check.)
func FuzzFinishRegistration(f *testing.F) {
	fx := newFixture(f)
	u := newUser(f, "alice")
	options, session, err := fx.rp.BeginRegistration(u)
	if err != nil {
		f.Fatal(err)
	}
	var o protocol.CredentialCreation
	if err := json.Unmarshal(options, &o); err != nil {
		f.Fatal(err)
	}
	challenge := o.Response.Challenge.String()
	for _, mod := range []func(*webauthntest.Authenticator){
		func(*webauthntest.Authenticator) {},
		func(a *webauthntest.Authenticator) {
			a.BackupEligible, a.BackupState, a.UserVerification = true, true, true
		},
	} {
		a := newAuthenticator()
		mod(a)
		r, err := a.Create(options)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r)
		f.Add(r[:len(r)/2])
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))

	rpIDHash := sha256.Sum256([]byte(rpID))
	f.Fuzz(func(t *testing.T, response []byte) {
		c, err := fx.rp.FinishRegistration(u, session, response)
		if err != nil {
			if !errors.Is(err, webauthn.ErrInvalid) {
				t.Fatalf("FinishRegistration(%q) = %v, want nil or ErrInvalid", response, err)
			}
			return
		}
		p, perr := protocol.ParseCredentialCreationResponseBytes(response)
		if perr != nil {
			t.Fatalf("FinishRegistration accepted %q, which does not parse: %v", response, perr)
		}
		cd := p.Response.CollectedClientData
		if cd.Type != protocol.CreateCeremony || cd.Challenge != challenge || cd.Origin != origin {
			t.Fatalf("FinishRegistration accepted client data %+v, not this session's", cd)
		}
		if !bytes.Equal(p.Response.AttestationObject.AuthData.RPIDHash, rpIDHash[:]) {
			t.Fatalf("FinishRegistration accepted a response for another RP ID")
		}
		if _, err := webauthncose.ParsePublicKey(c.PublicKey); err != nil {
			t.Fatalf("FinishRegistration accepted public key %x: %v", c.PublicKey, err)
		}
		if len(c.ID) == 0 || len(c.ID) > 1023 {
			t.Fatalf("FinishRegistration accepted a credential ID of %d bytes", len(c.ID))
		}
	})
}
