// Package webauthn is the WebAuthn factor: security keys and passkeys, for
// registration and for login, as a relying party (RP) that takes and returns
// JSON bytes and touches no network, no HTTP and no store.
//
// The ceremonies themselves are verified by github.com/go-webauthn/webauthn;
// this package adds what gatehouse needs around it: configuration checked
// up front, opaque sessions that expire by an injected clock and are bound
// to one user and one kind of ceremony, size caps on everything read from
// outside, a signature counter that refuses a login when it goes backwards,
// replay refusal, and the assurance level a credential gives.
//
// A ceremony has two steps. Begin returns the options for the browser and a
// session; the caller keeps the session server-side (never in the client)
// and hands the options to the browser. Finish takes the same user, the
// session and the browser's response, and returns the credential to store.
// The options are the JSON of the library's [protocol.CredentialCreation]
// and [protocol.CredentialAssertion]: after the usual base64url to
// ArrayBuffer decoding they are exactly the argument of
// navigator.credentials.create and navigator.credentials.get (or of
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON
// applied to their "publicKey" member). The response is the JSON of the
// resulting PublicKeyCredential, as its toJSON method makes it.
//
// Every failure of a ceremony is [ErrInvalid], except a signature counter
// that went backwards, which is [ErrCloned]. The wrapped detail is for the
// log only: a client must see one wording for every failed factor.
package webauthn

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"gatehouse/internal/token"
)

const (
	// DefaultTimeout is how long a ceremony may take when Config.Timeout is
	// zero: the browser is told so, and the session expires after it.
	DefaultTimeout = 5 * time.Minute
	// MaxTimeout is the longest Config.Timeout accepted, the upper end of
	// the range the WebAuthn specification recommends.
	MaxTimeout = 10 * time.Minute
	// MaxResponseSize caps the response bytes Finish reads; anything larger
	// is refused before it is parsed. Real responses are a few KiB.
	MaxResponseSize = 64 << 10
	// MaxSessionSize caps the session bytes Finish reads.
	MaxSessionSize = 16 << 10
	// HandleSize is the size of a user handle made by [NewHandle].
	HandleSize = 32
	// MaxHandleSize is the largest user handle WebAuthn allows.
	MaxHandleSize = 64
)

// User verification requirements, the values of Config.UserVerification.
const (
	// VerificationRequired refuses a ceremony in which the authenticator did
	// not verify the user (PIN or biometric).
	VerificationRequired = "required"
	// VerificationPreferred asks for user verification where the
	// authenticator can do it, and accepts a ceremony without it.
	VerificationPreferred = "preferred"
	// VerificationDiscouraged asks the authenticator not to verify the user.
	VerificationDiscouraged = "discouraged"
)

var (
	// ErrInvalid reports a ceremony that failed: malformed or oversized
	// response, wrong challenge, origin, RP ID or signature, an expired
	// session or one of another user or another ceremony, an unknown
	// credential, user verification required but absent, or a replayed
	// assertion. Clients must see it as every other failed factor.
	ErrInvalid = errors.New("webauthn: invalid ceremony")
	// ErrCloned reports a login whose credential's signature counter did
	// not advance: two copies of the credential's private key may be in use.
	// It is reported only for an assertion whose signature verified, so no
	// one without the key can get a credential flagged. The login is refused; FinishLogin returns the credential with Cloned
	// set, which the caller stores, and every later login with it is refused
	// with ErrCloned too. Clients must see it as every other failed factor;
	// the account holder should be told.
	ErrCloned = errors.New("webauthn: signature counter went backwards, credential may be cloned")
	// ErrConfig reports a configuration that [New] refuses.
	ErrConfig = errors.New("webauthn: invalid configuration")
	// ErrUser reports a User that cannot take part in a ceremony: a handle
	// that is not 1 to 64 bytes, or an empty name.
	ErrUser = errors.New("webauthn: user handle must be 1 to 64 bytes and the name non-empty")
	// ErrNoCredentials reports a login begun for a user with no credential.
	ErrNoCredentials = errors.New("webauthn: user has no credential")
)

// Config is the relying party's configuration.
type Config struct {
	// RPID is the relying party ID: the host name the credentials are scoped
	// to (for example "example.com"), lower case, no scheme, port or path.
	// Every origin must be this host or a subdomain of it.
	RPID string
	// RPName is the name authenticators may show; empty means RPID.
	RPName string
	// Origins are the origins a ceremony may come from, absolute
	// ("https://login.example.com"). https only, except http on localhost
	// for development.
	Origins []string
	// UserVerification is required, preferred or discouraged; empty means
	// preferred.
	UserVerification string
	// Timeout is how long a ceremony may take; zero means [DefaultTimeout].
	// It must not exceed [MaxTimeout].
	Timeout time.Duration
}

// RP is a configured relying party. Its methods are safe for concurrent use
// once Now and Rand are set.
type RP struct {
	// Now returns the current time, which sessions are stamped and checked
	// with; nil means time.Now. Set it before use.
	Now func() time.Time
	// Rand is where challenges are read from; nil means crypto/rand.Reader.
	// Set it before use.
	Rand io.Reader

	cfg Config
	wa  *webauthn.WebAuthn
}

// New checks the configuration, fills in its defaults and returns a relying
// party. A refused configuration yields every problem found, each wrapping
// [ErrConfig].
func New(c Config) (*RP, error) {
	c, err := c.normalize()
	if err != nil {
		return nil, err
	}
	wc := &webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: c.RPName,
		RPOrigins:     c.Origins,
		// Attestation "none": gatehouse keeps no trust list of authenticator
		// models, so an attestation statement would be verified and then
		// ignored. It also spares users the browser's privacy prompt.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// Passkeys: a discoverable credential where the authenticator can
			// make one, a plain one otherwise (most security keys).
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			UserVerification:   protocol.UserVerificationRequirement(c.UserVerification),
		},
		// The library's own expiry check reads the wall clock; this package
		// checks expiry itself with RP.Now, so it is not enforced there.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: c.Timeout, TimeoutUVD: c.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: c.Timeout, TimeoutUVD: c.Timeout},
		},
	}
	wa, err := webauthn.New(wc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &RP{cfg: c, wa: wa}, nil
}

// Config returns the configuration in force, defaults filled in and origins
// in canonical form.
func (rp *RP) Config() Config {
	c := rp.cfg
	c.Origins = append([]string(nil), c.Origins...)
	return c
}

func (rp *RP) now() time.Time {
	if rp.Now != nil {
		return rp.Now()
	}
	return time.Now()
}

// challenge draws a fresh 32-byte challenge through internal/token, the one
// place randomness is read.
func (rp *RP) challenge() ([]byte, error) {
	b, err := token.Bytes(rp.Rand, 32)
	if err != nil {
		return nil, fmt.Errorf("webauthn: challenge: %w", err)
	}
	return b, nil
}

func (c Config) normalize() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch {
	case c.RPID == "":
		bad("rp_id is required")
	case c.RPID != strings.ToLower(c.RPID) || strings.HasSuffix(c.RPID, "."):
		bad("rp_id %q must be a lower-case host name without a trailing dot", c.RPID)
	default:
		if err := protocol.ValidateRPID(c.RPID); err != nil {
			bad("rp_id %q is not a host name: %v", c.RPID, err)
		}
	}
	if c.RPName == "" {
		c.RPName = c.RPID
	}
	if len(c.Origins) == 0 {
		bad("at least one origin is required")
	}
	origins := make([]string, 0, len(c.Origins))
	for _, o := range c.Origins {
		canon, err := canonicalOrigin(o, c.RPID)
		if err != nil {
			bad("origin %q: %v", o, err)
			continue
		}
		origins = append(origins, canon)
	}
	c.Origins = origins
	switch c.UserVerification {
	case "":
		c.UserVerification = VerificationPreferred
	case VerificationRequired, VerificationPreferred, VerificationDiscouraged:
	default:
		bad("user_verification %q must be required, preferred or discouraged", c.UserVerification)
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < time.Second || c.Timeout > MaxTimeout:
		bad("timeout %v must be between 1s and %v", c.Timeout, MaxTimeout)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// canonicalOrigin checks that o is an absolute https origin (http only on
// localhost) whose host is rpID or a subdomain of it, as browsers require,
// and returns it as browsers serialise it: lower case, no default port, no
// trailing slash.
func canonicalOrigin(o, rpID string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", errors.New("must be absolute, as scheme://host[:port]")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("must have no user, path, query or fragment")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	switch {
	case scheme == "https":
	case scheme == "http" && host == "localhost":
	default:
		return "", errors.New("must use https (http only for localhost)")
	}
	if rpID != "" && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("host %q is not %q nor a subdomain of it", host, rpID)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// NewHandle returns a new random user handle of [HandleSize] bytes, read
// from r (nil means crypto/rand.Reader). A user gets one handle, kept for the
// life of the account and shared by all its credentials; it is not secret,
// but it must not be derived from the user name or e-mail address, which
// authenticators would then disclose.
func NewHandle(r io.Reader) ([]byte, error) {
	b, err := token.Bytes(r, HandleSize)
	if err != nil {
		return nil, fmt.Errorf("webauthn: handle: %w", err)
	}
	return b, nil
}

// User is the account a ceremony is for.
type User struct {
	// Handle is the user's WebAuthn user handle, from [NewHandle]: stable,
	// random, 1 to 64 bytes.
	Handle []byte
	// Name is the account name authenticators show (a user name or e-mail
	// address); required.
	Name string
	// DisplayName is the person's name authenticators show; empty means
	// Name.
	DisplayName string
	// Credentials are the user's registered credentials, as stored.
	Credentials []Credential
}

func (u User) check() error {
	if len(u.Handle) == 0 || len(u.Handle) > MaxHandleSize || u.Name == "" {
		return ErrUser
	}
	return nil
}

// Credential is a registered security key or passkey, as the caller stores
// it. Nothing in it is secret: the private key never leaves the
// authenticator.
type Credential struct {
	// ID is the credential ID, unique across all users: the store must
	// refuse a second credential with the same ID (WebAuthn §7.1 step 22).
	ID []byte
	// PublicKey is the credential public key, COSE-encoded.
	PublicKey []byte
	// SignCount is the last signature counter seen; 0 for authenticators
	// that keep no counter.
	SignCount uint32
	// BackupEligible reports whether the credential may be synced to other
	// devices (a synced passkey). It never changes for a credential.
	BackupEligible bool
	// BackupState reports whether the credential was backed up or synced at
	// the last ceremony.
	BackupState bool
	// UserVerified reports whether the authenticator verified the user (PIN
	// or biometric) in the last ceremony.
	UserVerified bool
	// AAGUID identifies the authenticator model, as it claims (16 bytes; all
	// zero when it does not say). Without attestation it is not proven.
	AAGUID []byte
	// Transports are how the browser can reach the authenticator ("usb",
	// "nfc", "ble", "internal", "hybrid"…), as the browser reported.
	Transports []string
	// AttestationType is the attestation the credential came with; "none"
	// as gatehouse asks for none.
	AttestationType string
	// Cloned reports that a login saw the signature counter go backwards.
	// FinishLogin refuses a credential with Cloned set; the user registers
	// a new one.
	Cloned bool
	// LastChallenge is the challenge of the last login this credential
	// completed. FinishLogin refuses that challenge again, so an assertion
	// replayed with its session fails even where the session was not
	// deleted; the caller stores it with the rest of the credential.
	LastChallenge []byte
}

// DeviceBound reports whether the credential's private key cannot leave its
// authenticator: a security key or a device-bound passkey, not a synced one.
func (c Credential) DeviceBound() bool { return !c.BackupEligible }

// Assurance returns the authenticator assurance level (NIST SP 800-63B) a
// login completed with this credential reaches: 3 for a device-bound
// credential, 2 for a synced one (backup-eligible: its key is exportable by
// the sync provider), 0 for one flagged Cloned.
//
// The level assumes what gatehouse's login flows do: the credential is the
// second factor after a password, so it need only be a single-factor
// cryptographic authenticator, and user verification does not change the
// level. A passwordless login with a credential must also require user
// verification (Config.UserVerification "required") to count as
// multi-factor. Device-bound is what the authenticator claims in the BE
// flag: gatehouse asks for no attestation, so a software authenticator
// could claim it falsely; a deployment that must prove hardware needs
// attestation with a trust list, which this package does not do.
func (c Credential) Assurance() int {
	switch {
	case c.Cloned:
		return 0
	case c.DeviceBound():
		return 3
	default:
		return 2
	}
}
