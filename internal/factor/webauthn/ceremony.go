package webauthn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RegistrationOption changes one registration ceremony.
type RegistrationOption func(*registration)

type registration struct {
	deviceBound bool
}

// DeviceBoundOnly makes FinishRegistration refuse a backup-eligible (synced)
// credential with [ErrInvalid], for users or accounts whose policy asks for
// AAL3. The browser is not told: WebAuthn has no way to ask for a
// device-bound credential, so a synced passkey is refused after the fact.
func DeviceBoundOnly() RegistrationOption {
	return func(r *registration) { r.deviceBound = true }
}

// BeginRegistration starts registering a new credential for u. It returns
// the options to hand to the browser (JSON of [protocol.CredentialCreation])
// and the session to keep server-side until FinishRegistration, which it
// must reach within the configured timeout.
//
// The options exclude u's existing credentials (an authenticator that holds
// one refuses to register again), prefer a discoverable credential (a
// passkey) where the authenticator can make one, ask for user verification
// per Config.UserVerification and for no attestation.
func (rp *RP) BeginRegistration(u User, opts ...RegistrationOption) (options, session []byte, err error) {
	if err := u.check(); err != nil {
		return nil, nil, err
	}
	var r registration
	for _, o := range opts {
		o(&r)
	}
	challenge, err := rp.challenge()
	if err != nil {
		return nil, nil, err
	}
	lu := newLibUser(u, false)
	creation, sd, err := rp.wa.BeginRegistration(lu,
		func(o *protocol.PublicKeyCredentialCreationOptions) error {
			o.Challenge = challenge
			return nil
		},
		webauthn.WithExclusions(webauthn.Credentials(lu.creds).CredentialDescriptors()),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	if options, err = json.Marshal(creation); err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode options: %w", err)
	}
	if session, err = rp.seal(ceremonyRegistration, r.deviceBound, sd); err != nil {
		return nil, nil, err
	}
	return options, session, nil
}

// FinishRegistration checks the browser's response (the JSON of the
// PublicKeyCredential that navigator.credentials.create returned) against
// the session from BeginRegistration for the same user u, and returns the new
// credential for the caller to store with u. The caller deletes the session
// whatever the outcome.
//
// Any failure is [ErrInvalid]: a response larger than [MaxResponseSize] or
// malformed, a session of another user, another ceremony or expired, a
// wrong challenge, origin or RP ID, user presence absent, user verification
// required but absent, a public key that does not parse, a credential u
// already has, or a synced credential under [DeviceBoundOnly]. The store
// must still refuse a credential ID registered to another user.
func (rp *RP) FinishRegistration(u User, session, response []byte) (Credential, error) {
	if err := u.check(); err != nil {
		return Credential{}, err
	}
	rec, err := rp.open(session, ceremonyRegistration, u)
	if err != nil {
		return Credential{}, err
	}
	if len(response) == 0 || len(response) > MaxResponseSize {
		return Credential{}, invalidf("response of %d bytes", len(response))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, invalid("parse registration", err)
	}
	lc, err := rp.wa.CreateCredential(newLibUser(u, false), rec.Data, parsed)
	if err != nil {
		return Credential{}, invalid("verify registration", err)
	}
	for _, c := range u.Credentials {
		if bytes.Equal(c.ID, lc.ID) {
			return Credential{}, invalidf("credential already registered")
		}
	}
	// With attestation "none" nothing signs the public key, so check it is
	// one that a later login could verify with, rather than store junk.
	if _, err := webauthncose.ParsePublicKey(lc.PublicKey); err != nil {
		return Credential{}, invalid("credential public key", err)
	}
	if rec.DeviceBound && lc.Flags.BackupEligible {
		return Credential{}, invalidf("backup-eligible credential where a device-bound one is required")
	}
	transports := make([]string, len(lc.Transport))
	for i, t := range lc.Transport {
		transports[i] = string(t)
	}
	return Credential{
		ID:              bytes.Clone(lc.ID),
		PublicKey:       bytes.Clone(lc.PublicKey),
		SignCount:       lc.Authenticator.SignCount,
		BackupEligible:  lc.Flags.BackupEligible,
		BackupState:     lc.Flags.BackupState,
		UserVerified:    lc.Flags.UserVerified,
		AAGUID:          bytes.Clone(lc.Authenticator.AAGUID),
		Transports:      transports,
		AttestationType: lc.AttestationType,
	}, nil
}

// BeginLogin starts a login of u with one of u's credentials. It returns the
// options to hand to the browser (JSON of [protocol.CredentialAssertion],
// allowCredentials listing u's credentials) and the session to keep
// server-side until FinishLogin, which it must reach within the configured
// timeout. Credentials flagged Cloned are left out; with none left it
// returns [ErrNoCredentials].
func (rp *RP) BeginLogin(u User) (options, session []byte, err error) {
	challenge, err := rp.challenge()
	if err != nil {
		return nil, nil, err
	}
	return rp.beginLogin(u, challenge)
}

// BeginApproval is BeginLogin with a challenge the caller computed: that
// of a transaction-bound approval, which commits to the transaction's
// hash and a server nonce. The same approval always has the same
// challenge, so the caller can begin again at finish rather than keep
// the session; the credential's last challenge, which FinishLogin
// refuses to see twice, and the approval's single decision stop replays.
// A challenge shorter than 32 bytes is refused.
func (rp *RP) BeginApproval(u User, challenge []byte) (options, session []byte, err error) {
	if len(challenge) < 32 {
		return nil, nil, invalidf("approval challenge of %d bytes", len(challenge))
	}
	return rp.beginLogin(u, challenge)
}

func (rp *RP) beginLogin(u User, challenge []byte) (options, session []byte, err error) {
	if len(u.Handle) == 0 || len(u.Handle) > MaxHandleSize {
		return nil, nil, ErrUser
	}
	lu := newLibUser(u, true)
	if len(lu.creds) == 0 {
		return nil, nil, ErrNoCredentials
	}
	assertion, sd, err := rp.wa.BeginLogin(lu, webauthn.WithChallenge(challenge))
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	if options, err = json.Marshal(assertion); err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode options: %w", err)
	}
	if session, err = rp.seal(ceremonyLogin, false, sd); err != nil {
		return nil, nil, err
	}
	return options, session, nil
}

// FinishLogin checks the browser's response (the JSON of the
// PublicKeyCredential that navigator.credentials.get returned) against the
// session from BeginLogin for the same user u, and returns the credential
// used, updated (signature counter, backup state, user verification, last
// challenge), for the caller to store in place of the old one in the same
// transaction that accepts the login. The caller deletes the session
// whatever the outcome.
//
// A signature counter that does not advance (the new value is not greater
// than the stored one, unless both are 0, as WebAuthn §7.2 step 22 has it)
// refuses the login with [ErrCloned] and returns the stored credential with
// Cloned set, for the caller to store; a credential already flagged is
// refused with ErrCloned too. Any other failure is [ErrInvalid]: a response
// larger than [MaxResponseSize] or malformed, a session of another user,
// another ceremony or expired, a credential that is not u's or not allowed,
// a wrong challenge, origin, RP ID or signature, user verification required
// but absent, a changed backup eligibility, or the challenge of the
// credential's last login again (a replay).
func (rp *RP) FinishLogin(u User, session, response []byte) (Credential, error) {
	if len(u.Handle) == 0 || len(u.Handle) > MaxHandleSize {
		return Credential{}, ErrUser
	}
	rec, err := rp.open(session, ceremonyLogin, u)
	if err != nil {
		return Credential{}, err
	}
	if len(response) == 0 || len(response) > MaxResponseSize {
		return Credential{}, invalidf("response of %d bytes", len(response))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Credential{}, invalid("parse assertion", err)
	}
	i := -1
	for j, c := range u.Credentials {
		if bytes.Equal(c.ID, parsed.RawID) {
			i = j
			break
		}
	}
	if i < 0 {
		return Credential{}, invalidf("credential is not the user's")
	}
	stored := u.Credentials[i]
	if stored.Cloned {
		return stored, fmt.Errorf("%w (flagged before)", ErrCloned)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(rec.Data.Challenge)
	if err != nil {
		return Credential{}, invalid("session challenge", err)
	}
	if bytes.Equal(stored.LastChallenge, challenge) {
		return Credential{}, invalidf("challenge already used by this credential (replay)")
	}
	lc, err := rp.wa.ValidateLogin(newLibUser(u, false), rec.Data, parsed)
	if err != nil {
		return Credential{}, invalid("verify assertion", err)
	}
	if lc.Authenticator.CloneWarning {
		stored.Cloned = true
		return stored, fmt.Errorf("%w: counter %d after %d", ErrCloned, parsed.Response.AuthenticatorData.Counter, stored.SignCount)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	updated := stored
	updated.SignCount = lc.Authenticator.SignCount
	updated.BackupState = flags.HasBackupState()
	updated.UserVerified = flags.HasUserVerified()
	updated.LastChallenge = challenge
	return updated, nil
}

// libUser presents a User to the library.
type libUser struct {
	u     User
	creds []webauthn.Credential
}

// newLibUser converts u's credentials, leaving out those flagged Cloned when
// usable is set.
func newLibUser(u User, usable bool) libUser {
	lu := libUser{u: u, creds: make([]webauthn.Credential, 0, len(u.Credentials))}
	for _, c := range u.Credentials {
		if usable && c.Cloned {
			continue
		}
		lu.creds = append(lu.creds, c.lib())
	}
	return lu
}

func (l libUser) WebAuthnID() []byte   { return l.u.Handle }
func (l libUser) WebAuthnName() string { return l.u.Name }
func (l libUser) WebAuthnDisplayName() string {
	if l.u.DisplayName == "" {
		return l.u.Name
	}
	return l.u.DisplayName
}
func (l libUser) WebAuthnCredentials() []webauthn.Credential { return l.creds }

// lib converts a stored credential to the library's record.
func (c Credential) lib() webauthn.Credential {
	flags := protocol.FlagUserPresent
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              c.ID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(flags),
		Authenticator:   webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}
