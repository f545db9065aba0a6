// Package push is the push-approval factor with number matching.
//
// A phone enrols by generating a P-256 key pair and registering the public
// key with a one-time enrolment code ([NewEnrolment], [DecodeRegistration]).
// At login the server makes a [Challenge] with a two-digit Number, shows the
// Number on the login screen, and sends the phone a [Prompt]: where the login
// comes from, but not the Number. The user types the Number into the phone,
// which answers with a [Response] signed by its key.
//
// Number matching defeats push fatigue: a user who did not start the login
// cannot know the Number, so a reflexive "approve" does not let an attacker
// in. A wrong Number denies the login outright rather than inviting another
// guess.
//
// The server handles an answer in this order: [DecodeResponse]; load the
// Challenge by Response.ChallengeID and the key of a device enrolled by
// Challenge.UserID; [Verify]; [Challenge.Judge]; record the Outcome and
// retire the Challenge in one transaction, so that each Challenge is judged
// once.
package push

import (
	"errors"
	"fmt"
	"io"
	"time"

	"gatehouse/internal/token"
)

const (
	// DefaultLifetime is how long a Challenge waits for the phone when
	// NewChallenge is given no lifetime.
	DefaultLifetime = 120 * time.Second
	// MaxLifetime is the longest a Challenge may live; Judge treats a
	// Challenge that claims longer as expired.
	MaxLifetime = 10 * time.Minute
	// ClockSkew is how far Response.SignedAt may lie outside the Challenge's
	// life, to allow for the phone's clock.
	ClockSkew = 5 * time.Minute
	// idBytes is the size of a Challenge ID: 128 bits, so it cannot be guessed.
	idBytes = 16
)

var (
	// ErrLifetime reports a lifetime that is negative or above MaxLifetime.
	ErrLifetime = errors.New("push: lifetime must be between 0 and 10 minutes")
	// ErrUser reports a Login without a UserID.
	ErrUser = errors.New("push: login has no user")
	// ErrWrongChallenge reports a Response for another Challenge.
	ErrWrongChallenge = errors.New("push: response is for another challenge")
	// ErrExpired reports a Response that came after the Challenge expired.
	ErrExpired = errors.New("push: challenge expired")
	// ErrWrongNumber reports an approval with a Number other than the one
	// shown on the login screen; the login is denied.
	ErrWrongNumber = errors.New("push: wrong number")
	// ErrSignedAt reports a Response signed at a time outside the
	// Challenge's life, give or take ClockSkew.
	ErrSignedAt = errors.New("push: response signed at an implausible time")
)

// Login describes the login attempt a phone is asked to approve.
type Login struct {
	// UserID is the user logging in; only that user's devices may answer.
	UserID string
	// Interface is the door being entered: "web", "desktop" or "mobile".
	Interface string
	// IP is the address the login comes from, as the phone shows it.
	IP string
	// DeviceName describes the device logging in ("Firefox on Windows").
	DeviceName string
}

// Challenge is one login waiting for approval from the user's phone.
type Challenge struct {
	// ID names the Challenge in the Prompt and the Response: 128 random
	// bits, base64url.
	ID string
	// UserID is the user logging in.
	UserID string
	// Number, 10 to 99, is shown on the login screen and typed into the phone
	// by the user. It must never be sent to the phone: the Prompt leaves it out.
	Number int
	// Interface is the door being entered; with IP and DeviceName it tells
	// the phone where the login comes from.
	Interface string
	// IP is the address the login comes from.
	IP string
	// DeviceName describes the device logging in.
	DeviceName string
	// CreatedAt is when the Challenge was made.
	CreatedAt time.Time
	// ExpiresAt is when the Challenge stops accepting answers.
	ExpiresAt time.Time
}

// NewChallenge makes a Challenge for a login at now, with an ID and a Number
// read from r (nil means crypto/rand.Reader). A lifetime of 0 means
// DefaultLifetime; more than MaxLifetime is refused.
func NewChallenge(r io.Reader, login Login, lifetime time.Duration, now time.Time) (Challenge, error) {
	if lifetime < 0 || lifetime > MaxLifetime {
		return Challenge{}, ErrLifetime
	}
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	if login.UserID == "" {
		return Challenge{}, ErrUser
	}
	id, err := token.New(r, idBytes)
	if err != nil {
		return Challenge{}, fmt.Errorf("push: %w", err)
	}
	n, err := token.Intn(r, 90)
	if err != nil {
		return Challenge{}, fmt.Errorf("push: %w", err)
	}
	return Challenge{
		ID:         id,
		UserID:     login.UserID,
		Number:     10 + n,
		Interface:  login.Interface,
		IP:         login.IP,
		DeviceName: login.DeviceName,
		CreatedAt:  now,
		ExpiresAt:  now.Add(lifetime),
	}, nil
}

// Prompt is what the phone is sent about a Challenge: where the login comes
// from, so the user can tell a login of their own from someone else's. It
// has no Number, on purpose.
type Prompt struct {
	// ChallengeID is the Challenge's ID, which the Response repeats.
	ChallengeID string `json:"challenge_id"`
	// Interface is the door being entered.
	Interface string `json:"interface"`
	// IP is the address the login comes from.
	IP string `json:"ip"`
	// DeviceName describes the device logging in.
	DeviceName string `json:"device_name"`
	// ExpiresAt is when the phone should stop offering the prompt.
	ExpiresAt time.Time `json:"expires_at"`
}

// Prompt returns the phone's view of the Challenge.
func (c Challenge) Prompt() Prompt {
	return Prompt{ChallengeID: c.ID, Interface: c.Interface, IP: c.IP, DeviceName: c.DeviceName, ExpiresAt: c.ExpiresAt}
}

// Outcome is the result of judging a Response; its String is the state the
// login flow reports.
type Outcome int

const (
	// Pending means no decision: the Response is to be ignored and the
	// Challenge still waits.
	Pending Outcome = iota
	// Approved means the user approved with the right Number.
	Approved
	// Denied means the user denied, or approved with a wrong Number.
	Denied
	// Reported means the user denied and reported the login as not theirs;
	// the caller raises a security signal as well as denying.
	Reported
	// Expired means the Challenge's lifetime ran out.
	Expired
)

// String returns "pending", "approved", "denied", "reported" or "expired".
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Approved:
		return "approved"
	case Denied:
		return "denied"
	case Reported:
		return "reported"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Judge decides a login from a Response whose signature the caller has
// checked with [Verify].
//
//   - a Response for another Challenge: Pending, ErrWrongChallenge;
//   - at or after ExpiresAt, or for a Challenge that claims a lifetime above
//     MaxLifetime: Expired, ErrExpired;
//   - signed outside [CreatedAt-ClockSkew, now+ClockSkew]: Pending, ErrSignedAt;
//   - deny: Denied; report: Reported;
//   - approve with the wrong Number: Denied, ErrWrongNumber;
//   - approve with the right Number: Approved.
func (c Challenge) Judge(resp Response, now time.Time) (Outcome, error) {
	if resp.ChallengeID != c.ID {
		return Pending, ErrWrongChallenge
	}
	if !now.Before(c.ExpiresAt) || c.ExpiresAt.Sub(c.CreatedAt) > MaxLifetime {
		return Expired, ErrExpired
	}
	if resp.SignedAt.Before(c.CreatedAt.Add(-ClockSkew)) || resp.SignedAt.After(now.Add(ClockSkew)) {
		return Pending, ErrSignedAt
	}
	switch resp.Decision {
	case Deny:
		return Denied, nil
	case Report:
		return Reported, nil
	case Approve:
		// No constant-time compare: the Number is on the login screen, not a secret.
		if resp.Number != c.Number {
			return Denied, ErrWrongNumber
		}
		return Approved, nil
	}
	return Pending, fmt.Errorf("%w: decision %q", ErrMalformed, resp.Decision)
}
