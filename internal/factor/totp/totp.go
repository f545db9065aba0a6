// Package totp implements the time-based one-time password factor (RFC 6238)
// as authenticator apps know it: HMAC-SHA-1, 6 digits, 30-second steps, and
// one step of clock drift accepted either side.
//
// The HOTP algorithm itself comes from github.com/pquerna/otp; this package
// adds what a login needs around it: strict input checks, replay refusal and
// constant-time comparison.
package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"

	"gatehouse/internal/token"
)

const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one Verify accepts,
	// to absorb clock drift and the time a person takes to type.
	Skew = 1
	// SecretSize is the size in bytes (160 bits) of a generated secret, the
	// size RFC 4226 §4 recommends.
	SecretSize = 20
	// MinSecretSize is the smallest secret Verify and Code accept (128
	// bits, RFC 4226 §4 requirement R6).
	MinSecretSize = 16
)

var (
	// ErrMalformed reports a code that is not exactly 6 ASCII digits.
	ErrMalformed = errors.New("totp: code must be 6 digits")
	// ErrInvalid reports a well-formed code that matches no step in the window.
	ErrInvalid = errors.New("totp: wrong code")
	// ErrReplayed reports a correct code whose step is not later than the
	// last accepted one. Callers must show it to the user exactly as
	// [ErrInvalid], or an observer learns that a stolen code was right.
	ErrReplayed = errors.New("totp: code already used")
	// ErrSecret reports a secret that is not unpadded upper-case base32 of
	// at least [MinSecretSize] bytes.
	ErrSecret = errors.New("totp: invalid secret")
	// ErrLabel reports an issuer or account name that is empty or holds a
	// colon, which the otpauth URI uses as the separator between them.
	ErrLabel = errors.New("totp: issuer and account must be non-empty and contain no colon")
	// ErrDigits reports a digit count outside 6..8 for [Code].
	ErrDigits = errors.New("totp: digits must be 6, 7 or 8")
	// ErrStep reports a negative time step for [Code].
	ErrStep = errors.New("totp: negative time step")
)

// Key is a newly generated TOTP secret.
//
// Secret is the seed: it is shown to its owner once at enrolment (as URI in
// a QR code, or typed in), stored only sealed by [gatehouse/internal/seal],
// and never logged. String, GoString and LogValue redact it, so a Key
// printed or logged by mistake shows nothing.
type Key struct {
	// Secret is the seed in unpadded base32, as authenticator apps take it.
	Secret string
	// URI is the otpauth:// URI for a QR code; it contains Secret.
	URI string
}

// String returns a placeholder: the Key holds a secret.
func (Key) String() string { return "totp.Key{REDACTED}" }

// GoString returns a placeholder: the Key holds a secret.
func (Key) GoString() string { return "totp.Key{REDACTED}" }

// LogValue returns a placeholder: the Key holds a secret.
func (Key) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Generate returns a new 160-bit secret read from r (nil means
// crypto/rand.Reader) and its otpauth URI labelled "issuer:account".
func Generate(issuer, account string, r io.Reader) (Key, error) {
	if issuer == "" || account == "" || strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return Key{}, ErrLabel
	}
	seed, err := token.Bytes(r, SecretSize)
	if err != nil {
		return Key{}, fmt.Errorf("totp: %w", err)
	}
	k, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(Period / time.Second),
		Secret:      seed,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Key{}, fmt.Errorf("totp: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.String()}, nil
}

// Step returns the RFC 6238 time step that contains t: the number of whole
// periods since the Unix epoch (negative before it).
func Step(t time.Time) int64 {
	s := t.Unix()
	p := int64(Period / time.Second)
	if s < 0 && s%p != 0 {
		return s/p - 1
	}
	return s / p
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// checkSecret decodes the secret strictly: gatehouse stores the secrets it
// generated, so anything else is corruption, not a format to tolerate.
func checkSecret(secret string) error {
	raw, err := b32.DecodeString(secret)
	if err != nil || len(raw) < MinSecretSize {
		return ErrSecret
	}
	return nil
}

// Code returns the code of the given length (6 to 8 digits) for a time step.
// It is the RFC 4226 HOTP value of the step; a 6-digit code is the last six
// digits of the 8-digit one.
func Code(secret string, step int64, digits int) (string, error) {
	if digits < 6 || digits > 8 {
		return "", ErrDigits
	}
	if step < 0 {
		return "", ErrStep
	}
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	return hotpCode(secret, step, digits)
}

func hotpCode(secret string, step int64, digits int) (string, error) {
	c, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits:    otp.Digits(digits),
		Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return c, nil
}

// wellFormed reports whether code is exactly Digits ASCII digits.
func wellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Verify checks a code typed by the user against the secret at time now, and
// returns the time step it matched. The caller stores that step as the new
// lastStep in the same transaction that accepts the login.
//
// A code is accepted once: it must match the step of now, the one before or
// the one after, and that step must be later than lastStep (pass 0 for a
// factor that has never accepted a code). So the same code, or a code of an
// older step, is refused with [ErrReplayed] once a code has been accepted.
//
// A code that is not exactly 6 ASCII digits is refused with [ErrMalformed]
// before the secret is touched. The codes of all steps in the window are
// computed and compared in constant time, whatever matches.
func Verify(secret, code string, lastStep int64, now time.Time) (step int64, err error) {
	if !wellFormed(code) {
		return 0, ErrMalformed
	}
	if err := checkSecret(secret); err != nil {
		return 0, err
	}
	current := Step(now)
	matched, replayed := int64(-1), false
	for s := current - Skew; s <= current+Skew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotpCode(secret, s, Digits)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			// Steps ascend: the latest fresh match wins, which only matters
			// in the one-in-a-million case of two steps with one code.
			if s > lastStep {
				matched = s
			} else {
				replayed = true
			}
		}
	}
	switch {
	case matched >= 0:
		return matched, nil
	case replayed:
		return 0, ErrReplayed
	default:
		return 0, ErrInvalid
	}
}
