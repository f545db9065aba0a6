// Package webauthntest is a software WebAuthn authenticator and client in
// one, for tests: it takes the options JSON a relying party hands to the
// browser and returns the JSON of the PublicKeyCredential that
// navigator.credentials.create or get would resolve to.
//
// It holds one P-256 (ES256) credential, makes attestation "none", and does
// what its fields say rather than what the options ask, so that tests can
// play a misbehaving or phishing client: it signs for its own RPID and
// Origin whatever the options say, and sets the user-verified flag from
// UserVerification even where the options require verification. It does
// honour excludeCredentials and allowCredentials, as real authenticators
// and browsers do.
//
// The authenticator data, attestation object and COSE key are built with
// the library's own protocol/webauthncbor and protocol/webauthncose
// packages, and the responses are the library's protocol types, so their
// encoding is the one the library reads.
package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

var (
	// ErrExcluded reports options whose excludeCredentials lists this
	// authenticator's credential (a browser's InvalidStateError).
	ErrExcluded = errors.New("webauthntest: credential excluded")
	// ErrNotAllowed reports options whose allowCredentials does not list
	// this authenticator's credential (a browser's NotAllowedError).
	ErrNotAllowed = errors.New("webauthntest: no allowed credential")
	// ErrOptions reports options that are not valid JSON of the expected
	// shape, or that do not accept ES256.
	ErrOptions = errors.New("webauthntest: bad options")
)

// Authenticator is a software authenticator holding one credential. Set its
// exported fields before use; its methods are safe for concurrent use.
type Authenticator struct {
	// Origin is the origin the client reports in clientDataJSON.
	Origin string
	// RPID is the RP ID whose hash the authenticator data carries.
	RPID string
	// BackupEligible sets the BE flag: a synced passkey when set, a
	// device-bound credential (a security key) when not.
	BackupEligible bool
	// BackupState sets the BS flag (backed up). Setting it without
	// BackupEligible makes flags the relying party must refuse.
	BackupState bool
	// UserVerification sets the UV flag (PIN or biometric checked).
	UserVerification bool
	// ZeroCounter makes the authenticator keep no signature counter: it
	// reports 0 every time, as many passkey providers do.
	ZeroCounter bool
	// Attachment is the authenticatorAttachment reported: "cross-platform"
	// (New's default) or "platform".
	Attachment string
	// Transports are the transports reported at registration; New sets
	// ["usb"].
	Transports []string
	// AAGUID is the 16-byte authenticator model ID; New sets all zero.
	AAGUID []byte

	mu         sync.Mutex
	key        *ecdsa.PrivateKey
	id         []byte
	counter    uint32
	userHandle []byte
}

// New returns an authenticator for the origin and RP ID with a fresh P-256
// key, a random 32-byte credential ID and the signature counter at 0.
func New(origin, rpID string) *Authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &Authenticator{
		Origin:     origin,
		RPID:       rpID,
		Attachment: "cross-platform",
		Transports: []string{"usb"},
		AAGUID:     make([]byte, 16),
		key:        key,
		id:         id,
	}
}

// ID returns the credential ID.
func (a *Authenticator) ID() []byte { return bytes.Clone(a.id) }

// Counter returns the signature counter: the value of the last response
// unless ZeroCounter is set.
func (a *Authenticator) Counter() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counter
}

// SetCounter sets the signature counter; the next Get reports n+1. Setting
// it below a value already reported simulates a cloned credential.
func (a *Authenticator) SetCounter(n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counter = n
}

// Clone returns a copy holding the same private key, credential and
// counter, which then counts on its own: a cloned authenticator.
func (a *Authenticator) Clone() *Authenticator {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &Authenticator{
		Origin:           a.Origin,
		RPID:             a.RPID,
		BackupEligible:   a.BackupEligible,
		BackupState:      a.BackupState,
		UserVerification: a.UserVerification,
		ZeroCounter:      a.ZeroCounter,
		Attachment:       a.Attachment,
		Transports:       append([]string(nil), a.Transports...),
		AAGUID:           bytes.Clone(a.AAGUID),
		key:              a.key,
		id:               bytes.Clone(a.id),
		counter:          a.counter,
		userHandle:       bytes.Clone(a.userHandle),
	}
}

// Create answers registration options (the JSON of
// protocol.CredentialCreation) with the JSON of the new PublicKeyCredential,
// attestation "none". It returns [ErrExcluded] when the options exclude this
// authenticator's credential.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var cc protocol.CredentialCreation
	if err := json.Unmarshal(options, &cc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	o := cc.Response
	es256 := false
	for _, p := range o.Parameters {
		es256 = es256 || (p.Type == protocol.PublicKeyCredentialType && p.Algorithm == webauthncose.AlgES256)
	}
	if !es256 {
		return nil, fmt.Errorf("%w: ES256 not in pubKeyCredParams", ErrOptions)
	}
	for _, d := range o.CredentialExcludeList {
		if bytes.Equal(d.CredentialID, a.id) {
			return nil, ErrExcluded
		}
	}
	handle, err := userHandle(o.User.ID)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.userHandle = handle
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{
			KeyType:   int64(webauthncose.EllipticKey),
			Algorithm: int64(webauthncose.AlgES256),
		},
		Curve:  int64(webauthncose.P256),
		XCoord: a.point()[1:33],
		YCoord: a.point()[33:65],
	})
	if err != nil {
		return nil, err
	}
	// Attested credential data: AAGUID, credential ID length and ID, key.
	attested := bytes.Clone(a.AAGUID)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(attested, a.id...)
	attested = append(attested, cose...)
	var counter uint32
	if !a.ZeroCounter {
		counter = a.counter
	}
	authData := a.authData(protocol.FlagAttestedCredentialData, counter, attested)
	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
	if err != nil {
		return nil, err
	}
	cdj, err := a.clientData(protocol.CreateCeremony, o.Challenge)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(protocol.CredentialCreationResponse{
		PublicKeyCredential: a.credential(),
		AttestationResponse: protocol.AuthenticatorAttestationResponse{
			AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: cdj},
			Transports:            a.Transports,
			AuthenticatorData:     authData,
			PublicKey:             spki,
			PublicKeyAlgorithm:    int64(webauthncose.AlgES256),
			AttestationObject:     attObj,
		},
	})
}

// Get answers login options (the JSON of protocol.CredentialAssertion) with
// the JSON of the PublicKeyCredential carrying the assertion. The signature
// counter goes up by one first, unless ZeroCounter is set. It returns
// [ErrNotAllowed] when allowCredentials is not empty and does not list this
// authenticator's credential.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var ca protocol.CredentialAssertion
	if err := json.Unmarshal(options, &ca); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	o := ca.Response
	if len(o.AllowedCredentials) > 0 {
		allowed := false
		for _, d := range o.AllowedCredentials {
			allowed = allowed || bytes.Equal(d.CredentialID, a.id)
		}
		if !allowed {
			return nil, ErrNotAllowed
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var counter uint32
	if !a.ZeroCounter {
		a.counter++
		counter = a.counter
	}
	authData := a.authData(0, counter, nil)
	cdj, err := a.clientData(protocol.AssertCeremony, o.Challenge)
	if err != nil {
		return nil, err
	}
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(bytes.Clone(authData), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(protocol.CredentialAssertionResponse{
		PublicKeyCredential: a.credential(),
		AssertionResponse: protocol.AuthenticatorAssertionResponse{
			AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: cdj},
			AuthenticatorData:     authData,
			Signature:             sig,
			UserHandle:            a.userHandle,
		},
	})
}

// point returns the public key as an uncompressed point, 0x04 || X || Y.
func (a *Authenticator) point() []byte {
	p, err := a.key.PublicKey.Bytes()
	if err != nil {
		panic(err) // a P-256 key always encodes
	}
	return p
}

// authData builds authenticator data: RP ID hash, flags, counter, then rest.
func (a *Authenticator) authData(extra protocol.AuthenticatorFlags, counter uint32, rest []byte) []byte {
	flags := protocol.FlagUserPresent | extra
	if a.UserVerification {
		flags |= protocol.FlagUserVerified
	}
	if a.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if a.BackupState {
		flags |= protocol.FlagBackupState
	}
	h := sha256.Sum256([]byte(a.RPID))
	b := append(h[:], byte(flags))
	b = binary.BigEndian.AppendUint32(b, counter)
	return append(b, rest...)
}

func (a *Authenticator) clientData(t protocol.CeremonyType, challenge []byte) ([]byte, error) {
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: no challenge", ErrOptions)
	}
	return json.Marshal(protocol.CollectedClientData{
		Type:      t,
		Challenge: base64.RawURLEncoding.EncodeToString(challenge),
		Origin:    a.Origin,
	})
}

func (a *Authenticator) credential() protocol.PublicKeyCredential {
	return protocol.PublicKeyCredential{
		Credential: protocol.Credential{
			ID:   base64.RawURLEncoding.EncodeToString(a.id),
			Type: string(protocol.PublicKeyCredentialType),
		},
		RawID:                   a.id,
		AuthenticatorAttachment: a.Attachment,
	}
}

// userHandle decodes user.id of the options, a base64url string.
func userHandle(id any) ([]byte, error) {
	s, ok := id.(string)
	if !ok {
		return nil, fmt.Errorf("%w: user.id is %T, not a string", ErrOptions, id)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 || len(b) > 64 {
		return nil, fmt.Errorf("%w: user.id is not 1 to 64 bytes of base64url", ErrOptions)
	}
	return b, nil
}
