// Package factor holds second factors — TOTP, WebAuthn, push, SMS — and
// recovery codes, with the strength each honestly has.
//
// The verification of each kind lives in its own subpackage (factor/totp,
// factor/webauthn, factor/push, factor/sms, factor/recovery); this package
// is the stored record and the rules that cross kinds.
package factor

import (
	"fmt"
	"time"

	"gatehouse/internal/session"
)

// Kind is a kind of second factor.
type Kind string

// The kinds. Recovery codes are not a Factor record but are named here
// because a login may use one.
const (
	TOTP     Kind = "totp"
	WebAuthn Kind = "webauthn"
	Push     Kind = "push"
	SMS      Kind = "sms"
	Recovery Kind = "recovery"
)

// ParseKind returns the enrollable kind named s.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case TOTP, WebAuthn, Push, SMS:
		return Kind(s), nil
	}
	return "", fmt.Errorf("factor: unknown kind %q (want totp, webauthn, push or sms)", s)
}

// Strong reports whether the kind resists the common attacks on traders'
// logins well enough to stand alone as the user's second factor: SMS does
// not (SIM swap, NIST "restricted"), recovery codes are for emergencies.
func (k Kind) Strong() bool { return k == TOTP || k == WebAuthn || k == Push }

// Strength describes the kind's strength in the words of DESIGN.md.
func (k Kind) Strength() string {
	switch k {
	case SMS:
		return "weak"
	case TOTP:
		return "possession"
	case Push:
		return "possession, phishing-aware"
	case WebAuthn:
		return "phishing-resistant"
	case Recovery:
		return "one-time"
	}
	return "unknown"
}

// AMR is the RFC 8176 authentication method reference a login with the
// kind adds ("otp", "hwk", "swk", "mca", "sms", "kba" for a recovery code).
func (k Kind) AMR(deviceBound bool) string {
	switch k {
	case TOTP:
		return "otp"
	case WebAuthn:
		if deviceBound {
			return "hwk"
		}
		return "swk"
	case Push:
		return "mca"
	case SMS:
		return "sms"
	case Recovery:
		return "rec"
	}
	return string(k)
}

// Status is where a factor stands.
type Status string

// Factor statuses.
const (
	Pending Status = "pending" // enrolled, not yet confirmed
	Active  Status = "active"
)

// Flags set on a factor by what gatehouse observed.
const (
	// FlagPossibleClone marks a WebAuthn credential whose signature counter
	// went backwards: two authenticators may hold its key.
	FlagPossibleClone = "possible_clone"
)

// Factor is one enrolled second factor of a user.
type Factor struct {
	ID     string
	UserID string
	Kind   Kind
	Name   string
	Status Status
	// Secret is the TOTP seed sealed with the configured key
	// ([gatehouse/internal/seal]); the seed is never stored in the clear.
	Secret []byte
	// LastStep is the last TOTP time step accepted: a code of this step or
	// an older one is refused, so each code is accepted once.
	LastStep int64
	// CredentialID is the WebAuthn credential id, or the RFC 7638
	// thumbprint of a push phone's key.
	CredentialID []byte
	// PublicKey is a push phone's PKIX public key, base64.
	PublicKey string
	// Phone is the E.164 number of an SMS factor.
	Phone string
	// DeviceBound is set for WebAuthn credentials that cannot be synced
	// (not backup-eligible): they give AAL3.
	DeviceBound bool
	// Data is kind-specific: the WebAuthn credential, or a pending
	// registration's ceremony state.
	Data        []byte
	Flag        string
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastUsedAt  time.Time
}

// Assurance is the level a login with this factor reaches.
func (f *Factor) Assurance() session.Assurance {
	if f.Kind == WebAuthn && f.DeviceBound {
		return session.AAL3
	}
	return session.AAL2
}

// Usable reports whether the factor may answer a challenge.
func (f *Factor) Usable() bool { return f.Status == Active && f.Flag != FlagPossibleClone }

// RecoveryCode is one stored recovery code: only its hash.
type RecoveryCode struct {
	Index  int
	Hash   []byte
	UsedAt time.Time
}
