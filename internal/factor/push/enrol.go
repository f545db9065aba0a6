package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/token"
)

const (
	// EnrolmentLifetime is how long an enrolment code can be redeemed.
	EnrolmentLifetime = 10 * time.Minute
	// MaxDeviceName is the longest device name, in characters.
	MaxDeviceName = 64
	// enrolCodeBytes is the size of an enrolment code: 128 bits, so neither
	// guessing nor an attempt limit is a concern.
	enrolCodeBytes = 16
	// maxKeyText bounds an encoded public key; a P-256 PKIX key is 124
	// characters of base64.
	maxKeyText = 256
)

// enrolDomain starts every signed registration message (see domain).
const enrolDomain = "gatehouse-push-enrol-v1\n"

var (
	// ErrCode reports an enrolment code that does not match.
	ErrCode = errors.New("push: wrong enrolment code")
	// ErrCodeExpired reports an enrolment code past its lifetime.
	ErrCodeExpired = errors.New("push: enrolment code expired")
	// ErrCodeUsed reports an enrolment code already redeemed.
	ErrCodeUsed = errors.New("push: enrolment code already used")
	// ErrDeviceName reports a device name that is empty, too long, not
	// UTF-8, or holds characters that are not printable.
	ErrDeviceName = errors.New("push: device name must be 1 to 64 printable characters")
)

// MarshalPublicKey encodes a P-256 public key as the standard base64
// (RFC 4648 §4, padded) of its PKIX (SubjectPublicKeyInfo) DER: what
// Android's PublicKey.getEncoded() gives, and the form stored for a device.
func MarshalPublicKey(pub *ecdsa.PublicKey) (string, error) {
	if !isP256(pub) {
		return "", ErrKey
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrKey, err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// ParsePublicKey decodes a key made by MarshalPublicKey. It accepts only
// an uncompressed ECDSA P-256 key in strict base64 of PKIX DER, nothing
// around it.
func ParsePublicKey(s string) (*ecdsa.PublicKey, error) {
	if len(s) > maxKeyText || !base64Text(s) {
		return nil, ErrKey
	}
	der, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrKey
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, ErrKey
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, ErrKey
	}
	return pub, nil
}

// Enrolment is a pending enrolment of a phone: a one-time code, shown to the
// user (typically as a QR code) on a session that already holds the
// assurance the policy asks for, and redeemed once by the phone.
type Enrolment struct {
	// UserID is the user whose phone is enrolling.
	UserID string
	// CodeHash is the SHA-256 of the code ([token.Hash]); the store finds the
	// Enrolment by it. The code itself is not kept.
	CodeHash []byte
	// ExpiresAt ends the code's lifetime.
	ExpiresAt time.Time
	// Used is set by Redeem; the code then works no more.
	Used bool
}

// NewEnrolment makes an enrolment code for userID, read from r (nil means
// crypto/rand.Reader), valid for EnrolmentLifetime from now. The code is
// shown to the user once and then forgotten.
func NewEnrolment(r io.Reader, userID string, now time.Time) (Enrolment, string, error) {
	if userID == "" {
		return Enrolment{}, "", ErrUser
	}
	code, err := token.New(r, enrolCodeBytes)
	if err != nil {
		return Enrolment{}, "", fmt.Errorf("push: %w", err)
	}
	return Enrolment{UserID: userID, CodeHash: token.Hash(code), ExpiresAt: now.Add(EnrolmentLifetime)}, code, nil
}

// Redeem checks the code a phone presents at now and, if it matches, marks
// the Enrolment used. The caller stores the change in the transaction that
// stores the device key, so a code enrols one phone only.
func (e *Enrolment) Redeem(code string, now time.Time) error {
	switch {
	case e.Used:
		return ErrCodeUsed
	case !now.Before(e.ExpiresAt):
		return ErrCodeExpired
	case !token.Equal(token.Hash(code), e.CodeHash):
		return ErrCode
	}
	e.Used = true
	return nil
}

// Registration is a phone's request to enrol, decoded and with its proof of
// possession checked.
type Registration struct {
	// Code is the enrolment code, to be found by token.Hash and Redeemed.
	Code string
	// PublicKey is the phone's key, which will verify its Responses.
	PublicKey *ecdsa.PublicKey
	// DeviceName is the name the user gave the phone.
	DeviceName string
}

func validDeviceName(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDeviceName {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func validCode(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return false
		}
	}
	return true
}

// RegistrationMessage returns the exact bytes a phone signs to register,
// proving it holds the private key of publicKey (as encoded by
// MarshalPublicKey):
//
//	gatehouse-push-enrol-v1\n
//	code=<code>\n
//	public_key=<publicKey>\n
//	device_name=<deviceName>\n
//
// The signature is ECDSA P-256 over its SHA-256, ASN.1 DER, as for a
// Response. Fields are checked first, so none can hold a newline.
func RegistrationMessage(code, publicKey, deviceName string) ([]byte, error) {
	if !validCode(code) {
		return nil, fmt.Errorf("%w: enrolment code is not base64url", ErrMalformed)
	}
	if len(publicKey) == 0 || len(publicKey) > maxKeyText || !base64Text(publicKey) {
		return nil, ErrKey
	}
	if !validDeviceName(deviceName) {
		return nil, ErrDeviceName
	}
	return []byte(enrolDomain + "code=" + code + "\npublic_key=" + publicKey + "\ndevice_name=" + deviceName + "\n"), nil
}

// base64Text reports whether s holds only standard base64 characters. The
// decoder silently skips \r and \n; checking first keeps one spelling per value.
func base64Text(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

type wireRegistration struct {
	Code       *string `json:"code"`
	PublicKey  *string `json:"public_key"`
	DeviceName *string `json:"device_name"`
	Signature  *string `json:"signature"`
}

// DecodeRegistration parses the body a phone posts to enrol,
//
//	{"code":"…","public_key":"<MarshalPublicKey form>","device_name":"…",
//	 "signature":"<standard base64 of the DER signature of RegistrationMessage>"}
//
// as strictly as DecodeResponse, and verifies the signature with the key in
// the body: a phone can only register a key it holds. It does not check the
// code; the caller finds the Enrolment by token.Hash(Code) and Redeems it.
func DecodeRegistration(body []byte) (Registration, error) {
	if len(body) > MaxBodySize {
		return Registration{}, ErrTooLarge
	}
	var w wireRegistration
	if err := decodeStrict(body, &w); err != nil {
		return Registration{}, err
	}
	if w.Code == nil || w.PublicKey == nil || w.DeviceName == nil || w.Signature == nil {
		return Registration{}, fmt.Errorf("%w: missing field", ErrMalformed)
	}
	msg, err := RegistrationMessage(*w.Code, *w.PublicKey, *w.DeviceName)
	if err != nil {
		return Registration{}, err
	}
	pub, err := ParsePublicKey(*w.PublicKey)
	if err != nil {
		return Registration{}, err
	}
	if len(*w.Signature) > base64.StdEncoding.EncodedLen(maxSigLen) || !base64Text(*w.Signature) {
		return Registration{}, fmt.Errorf("%w: signature is not base64 of at most 72 bytes", ErrMalformed)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*w.Signature)
	if err != nil {
		return Registration{}, fmt.Errorf("%w: signature is not base64", ErrMalformed)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return Registration{}, ErrSignature
	}
	return Registration{Code: *w.Code, PublicKey: pub, DeviceName: *w.DeviceName}, nil
}

// MarshalRegistration returns the signed body a phone posts to enrol: the
// phone's side of the wire format, for reference and tests.
func MarshalRegistration(priv *ecdsa.PrivateKey, code, deviceName string) ([]byte, error) {
	if priv == nil {
		return nil, ErrKey
	}
	pubText, err := MarshalPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	msg, err := RegistrationMessage(code, pubText, deviceName)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("push: sign: %w", err)
	}
	s := base64.StdEncoding.EncodeToString(sig)
	return json.Marshal(wireRegistration{Code: &code, PublicKey: &pubText, DeviceName: &deviceName, Signature: &s})
}
