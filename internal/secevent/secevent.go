// Package secevent builds, signs and verifies Security Event Tokens (RFC
// 8417) as the OpenID Shared Signals Framework 1.0 profiles them, carrying
// the CAEP 1.0 and RISC 1.0 events gatehouse transmits.
//
// The profile's rules are enforced both ways: a token is explicitly typed
// (typ secevent+jwt), names its subject in sub_id and never in sub, has no
// exp, and carries exactly one event. [Sign] refuses a token that breaks
// them, and [Parse] refuses one too, so what gatehouse signs is what a
// strict receiver accepts.
package secevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unicode/utf8"
)

// Type is the JOSE "typ" header of every token (SSF 1.0 explicit typing).
const Type = "secevent+jwt"

// Event type URIs.
const (
	SessionRevoked       = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	CredentialChange     = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	AssuranceLevelChange = "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
	TokenClaimsChange    = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"

	AccountDisabled      = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	SessionsRevoked      = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
	CredentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
	RecoveryActivated    = "https://schemas.openid.net/secevent/risc/event-type/recovery-activated"

	// Verification and StreamUpdated are the framework's own events,
	// about a stream rather than a user.
	Verification  = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	StreamUpdated = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
)

// Supported lists the user events gatehouse transmits, the streams'
// events_supported.
func Supported() []string {
	return []string{SessionRevoked, CredentialChange, AssuranceLevelChange, TokenClaimsChange, AccountDisabled, SessionsRevoked, CredentialCompromise, RecoveryActivated}
}

// Errors of building and parsing.
var (
	ErrInvalid   = errors.New("secevent: invalid security event token")
	ErrSignature = errors.New("secevent: signature does not verify")
)

// invalid wraps ErrInvalid with what is wrong.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Event is the body of one event; its Type names it in the events claim.
type Event interface {
	// EventType returns the event type URI.
	EventType() string
	// Valid reports what breaks the event's specification, or nil.
	Valid() error
}

// Initiating entities (CAEP initiating_entity).
const (
	ByAdmin  = "admin"
	ByUser   = "user"
	ByPolicy = "policy"
	BySystem = "system"
)

// Common holds the optional claims every CAEP event may carry.
type Common struct {
	// EventTimestamp is when the event happened, in Unix seconds; 0 leaves it out.
	EventTimestamp   int64  `json:"event_timestamp,omitempty"`
	InitiatingEntity string `json:"initiating_entity,omitempty"`
	// ReasonAdmin and ReasonUser map a BCP 47 language tag to a message.
	ReasonAdmin map[string]string `json:"reason_admin,omitempty"`
	ReasonUser  map[string]string `json:"reason_user,omitempty"`
}

func (c Common) valid() error {
	if c.EventTimestamp < 0 {
		return invalid("event_timestamp before 1970")
	}
	switch c.InitiatingEntity {
	case "", ByAdmin, ByUser, ByPolicy, BySystem:
	default:
		return invalid("initiating_entity %q", c.InitiatingEntity)
	}
	for name, m := range map[string]map[string]string{"reason_admin": c.ReasonAdmin, "reason_user": c.ReasonUser} {
		if m != nil && len(m) == 0 {
			return invalid("%s has no message", name)
		}
		for tag, msg := range m {
			if tag == "" || msg == "" {
				return invalid("%s has an empty language tag or message", name)
			}
		}
	}
	return nil
}

// SessionRevokedEvent (CAEP): the session the subject names was revoked.
type SessionRevokedEvent struct{ Common }

func (SessionRevokedEvent) EventType() string { return SessionRevoked }
func (e SessionRevokedEvent) Valid() error    { return e.valid() }

// Credential types (CAEP credential_type); a transmitter and receiver may
// agree on others.
const (
	CredPassword      = "password"
	CredPIN           = "pin"
	CredX509          = "x509"
	CredFIDO2Platform = "fido2-platform"
	CredFIDO2Roaming  = "fido2-roaming"
	CredFIDOU2F       = "fido-u2f"
	CredVerifiable    = "verifiable-credential"
	CredPhoneVoice    = "phone-voice"
	CredPhoneSMS      = "phone-sms"
	CredApp           = "app"
)

// Change types (CAEP change_type).
const (
	ChangeCreate = "create"
	ChangeRevoke = "revoke"
	ChangeUpdate = "update"
	ChangeDelete = "delete"
)

// CredentialChangeEvent (CAEP): a credential was created, changed, revoked
// or deleted.
type CredentialChangeEvent struct {
	Common
	CredentialType string `json:"credential_type"`
	ChangeType     string `json:"change_type"`
	FriendlyName   string `json:"friendly_name,omitempty"`
	X509Issuer     string `json:"x509_issuer,omitempty"`
	X509Serial     string `json:"x509_serial,omitempty"`
	FIDO2AAGUID    string `json:"fido2_aaguid,omitempty"`
}

func (CredentialChangeEvent) EventType() string { return CredentialChange }
func (e CredentialChangeEvent) Valid() error {
	if e.CredentialType == "" {
		return invalid("credential_type is required")
	}
	switch e.ChangeType {
	case ChangeCreate, ChangeRevoke, ChangeUpdate, ChangeDelete:
	default:
		return invalid("change_type %q", e.ChangeType)
	}
	return e.valid()
}

// NamespaceNISTAAL is the assurance namespace of NIST SP 800-63B levels,
// whose values are nist-aal1, nist-aal2 and nist-aal3.
const NamespaceNISTAAL = "NIST-AAL"

// AssuranceLevelChangeEvent (CAEP): the authentication behind the subject's
// session became stronger or weaker.
type AssuranceLevelChangeEvent struct {
	Common
	Namespace     string `json:"namespace"`
	CurrentLevel  string `json:"current_level"`
	PreviousLevel string `json:"previous_level,omitempty"`
	// ChangeDirection is "increase" or "decrease"; it should be set
	// whenever PreviousLevel is.
	ChangeDirection string `json:"change_direction,omitempty"`
}

func (AssuranceLevelChangeEvent) EventType() string { return AssuranceLevelChange }
func (e AssuranceLevelChangeEvent) Valid() error {
	if e.Namespace == "" || e.CurrentLevel == "" {
		return invalid("namespace and current_level are required")
	}
	switch e.ChangeDirection {
	case "", "increase", "decrease":
	default:
		return invalid("change_direction %q", e.ChangeDirection)
	}
	return e.valid()
}

// TokenClaimsChangeEvent (CAEP): claims in tokens about the subject have new
// values.
type TokenClaimsChangeEvent struct {
	Common
	Claims map[string]any `json:"claims"`
}

func (TokenClaimsChangeEvent) EventType() string { return TokenClaimsChange }
func (e TokenClaimsChangeEvent) Valid() error {
	if len(e.Claims) == 0 {
		return invalid("claims is required")
	}
	return e.valid()
}

// Account-disabled reasons (RISC).
const (
	ReasonHijacking   = "hijacking"
	ReasonBulkAccount = "bulk-account"
)

// AccountDisabledEvent (RISC): the subject's account was disabled.
type AccountDisabledEvent struct {
	// Reason is "", [ReasonHijacking] or [ReasonBulkAccount].
	Reason string `json:"reason,omitempty"`
}

func (AccountDisabledEvent) EventType() string { return AccountDisabled }
func (e AccountDisabledEvent) Valid() error {
	switch e.Reason {
	case "", ReasonHijacking, ReasonBulkAccount:
		return nil
	}
	return invalid("account-disabled reason %q", e.Reason)
}

// SessionsRevokedEvent (RISC): every session of the subject was revoked.
type SessionsRevokedEvent struct{}

func (SessionsRevokedEvent) EventType() string { return SessionsRevoked }
func (SessionsRevokedEvent) Valid() error      { return nil }

// RecoveryActivatedEvent (RISC): the subject started an account recovery
// (a lost-factor recovery: it waits, and the owner can cancel it).
type RecoveryActivatedEvent struct{}

func (RecoveryActivatedEvent) EventType() string { return RecoveryActivated }
func (RecoveryActivatedEvent) Valid() error      { return nil }

// CredentialCompromiseEvent (RISC): a credential of the subject is known or
// believed compromised.
type CredentialCompromiseEvent struct {
	CredentialType string `json:"credential_type"`
	// EventTimestamp is when the compromise was discovered, in Unix seconds.
	EventTimestamp int64             `json:"event_timestamp,omitempty"`
	ReasonAdmin    map[string]string `json:"reason_admin,omitempty"`
	ReasonUser     map[string]string `json:"reason_user,omitempty"`
}

func (CredentialCompromiseEvent) EventType() string { return CredentialCompromise }
func (e CredentialCompromiseEvent) Valid() error {
	if e.CredentialType == "" {
		return invalid("credential_type is required")
	}
	return Common{EventTimestamp: e.EventTimestamp, ReasonAdmin: e.ReasonAdmin, ReasonUser: e.ReasonUser}.valid()
}

// VerificationEvent answers a receiver's verification request; State
// echoes the request's.
type VerificationEvent struct {
	State string `json:"state,omitempty"`
}

func (VerificationEvent) EventType() string { return Verification }
func (VerificationEvent) Valid() error      { return nil }

// StreamUpdatedEvent tells a receiver that the transmitter changed the
// stream's status.
type StreamUpdatedEvent struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (StreamUpdatedEvent) EventType() string { return StreamUpdated }
func (e StreamUpdatedEvent) Valid() error {
	if e.Status == "" {
		return invalid("stream-updated status is required")
	}
	return nil
}

// decoders make an empty event of each known type, for [Token.Event].
var decoders = map[string]func() Event{
	SessionRevoked:       func() Event { return &SessionRevokedEvent{} },
	CredentialChange:     func() Event { return &CredentialChangeEvent{} },
	AssuranceLevelChange: func() Event { return &AssuranceLevelChangeEvent{} },
	TokenClaimsChange:    func() Event { return &TokenClaimsChangeEvent{} },
	AccountDisabled:      func() Event { return &AccountDisabledEvent{} },
	SessionsRevoked:      func() Event { return &SessionsRevokedEvent{} },
	CredentialCompromise: func() Event { return &CredentialCompromiseEvent{} },
	RecoveryActivated:    func() Event { return &RecoveryActivatedEvent{} },
	Verification:         func() Event { return &VerificationEvent{} },
	StreamUpdated:        func() Event { return &StreamUpdatedEvent{} },
}

// Known reports whether uri is an event type this package reads.
func Known(uri string) bool { _, ok := decoders[uri]; return ok }

// Sorted returns the known user events of uris, sorted and without
// duplicates: a stream's events_delivered from what it requested (unknown
// URIs are ignored, as SSF requires).
func Sorted(uris []string) []string {
	var out []string
	for _, u := range uris {
		if slices.Contains(Supported(), u) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// marshalEvent is json.Marshal of a value event (a pointer is dereferenced,
// so that what Event decodes re-encodes alike).
func marshalEvent(e Event) (json.RawMessage, error) {
	return json.Marshal(e)
}

// validUTF8 reports whether every string in v (keys included) is valid
// UTF-8: JSON would silently replace a bad byte, so a receiver would see
// another value than the one signed.
func validUTF8(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || validUTF8(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if !validUTF8(v.Field(i)) {
				return false
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !validUTF8(it.Key()) || !validUTF8(it.Value()) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if !validUTF8(v.Index(i)) {
				return false
			}
		}
	}
	return true
}
