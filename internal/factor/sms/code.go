package sms

import (
	"errors"
	"fmt"
	"io"
	"time"

	"gatehouse/internal/token"
)

const (
	// CodeDigits is the length of an SMS code.
	CodeDigits = 6
	// CodeLifetime is how long a code can be used after it is sent.
	CodeLifetime = 5 * time.Minute
	// MaxAttempts is how many codes may be tried against one challenge. With
	// 10⁶ codes, five guesses succeed with probability 5·10⁻⁶.
	MaxAttempts = 5
)

var (
	// ErrMalformed reports a code that is not exactly 6 ASCII digits.
	ErrMalformed = errors.New("sms: code must be 6 digits")
	// ErrInvalid reports a well-formed code that is not the one sent.
	ErrInvalid = errors.New("sms: wrong code")
	// ErrExpired reports a challenge past its lifetime.
	ErrExpired = errors.New("sms: code expired")
	// ErrAttempts reports a challenge that has had MaxAttempts tries.
	ErrAttempts = errors.New("sms: too many attempts")
	// ErrUsed reports a challenge whose code was already accepted.
	ErrUsed = errors.New("sms: code already used")
	// ErrPhone reports a phone number that is not in E.164 form.
	ErrPhone = errors.New("sms: phone number must be in E.164 form, like +441234567890")
)

// NewCode returns a 6-digit code read from r (nil means crypto/rand.Reader),
// uniformly distributed (see [token.Digits]).
func NewCode(r io.Reader) (string, error) {
	c, err := token.Digits(r, CodeDigits)
	if err != nil {
		return "", fmt.Errorf("sms: %w", err)
	}
	return c, nil
}

// Challenge is one code sent by SMS, waiting to be typed back.
//
// The code itself is not kept, only its SHA-256. That keeps it out of plain
// sight in the store, but with 10⁶ possible codes it is no protection
// against someone who can read the store within the code's lifetime: the
// lifetime and the attempt limit are what protect it.
//
// Verify changes the Challenge (Attempts, Used). The caller must store the
// changed Challenge before it answers, and must do so atomically (compare
// and swap on Attempts), or parallel requests get more than MaxAttempts
// guesses.
type Challenge struct {
	// CodeHash is the SHA-256 of the code ([token.Hash]).
	CodeHash []byte
	// Phone is the E.164 number the code was sent to.
	Phone string
	// ExpiresAt is the end of the code's lifetime.
	ExpiresAt time.Time
	// Attempts counts the codes tried so far, right or wrong.
	Attempts int
	// Used is set once the code has been accepted; the challenge is then spent.
	Used bool
}

// NewChallenge makes a code for phone, read from r (nil means
// crypto/rand.Reader), and the Challenge that checks it, valid for
// [CodeLifetime] from now. The code is to be sent, then forgotten.
func NewChallenge(r io.Reader, phone string, now time.Time) (Challenge, string, error) {
	if !ValidPhone(phone) {
		return Challenge{}, "", ErrPhone
	}
	code, err := NewCode(r)
	if err != nil {
		return Challenge{}, "", err
	}
	return Challenge{
		CodeHash:  token.Hash(code),
		Phone:     phone,
		ExpiresAt: now.Add(CodeLifetime),
	}, code, nil
}

// Verify checks a code typed by the user at time now.
//
// A challenge is single-use: once a code is accepted, Used is set and every
// later call fails with [ErrUsed]. It is refused after ExpiresAt
// ([ErrExpired]) and after MaxAttempts tries ([ErrAttempts]); every try that
// gets past those checks counts, malformed ones included. The code is
// compared by its hash in constant time.
//
// The login flow must show every error to the user alike.
func (c *Challenge) Verify(code string, now time.Time) error {
	switch {
	case c.Used:
		return ErrUsed
	case !now.Before(c.ExpiresAt):
		return ErrExpired
	case c.Attempts >= MaxAttempts:
		return ErrAttempts
	}
	c.Attempts++
	if !wellFormed(code) {
		return ErrMalformed
	}
	if !token.Equal(token.Hash(code), c.CodeHash) {
		return ErrInvalid
	}
	c.Used = true
	return nil
}

func wellFormed(code string) bool {
	if len(code) != CodeDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
