// Package session defines the per-interface session model: how long a
// session of each door may live, how long it may sit idle, and what
// assurance it holds.
package session

import (
	"errors"
	"fmt"
	"time"
)

// Door is the way a session came in: the web portal, the desktop workstation or the mobile app. Its wire name is "interface".
type Door string

// The session interfaces. API keys are not sessions; see package apikey.
const (
	Web     Door = "web"
	Desktop Door = "desktop"
	Mobile  Door = "mobile"
)

// Doors lists the session doors in a stable order.
var Doors = []Door{Web, Desktop, Mobile}

// ParseDoor returns the door named s.
func ParseDoor(s string) (Door, error) {
	switch Door(s) {
	case Web, Desktop, Mobile:
		return Door(s), nil
	}
	return "", fmt.Errorf("session: unknown interface %q (want web, desktop or mobile)", s)
}

// KeyBound reports whether sessions of this interface are bound to a
// device key by DPoP (RFC 9449). Web sessions live behind a cookie instead.
func (i Door) KeyBound() bool { return i == Desktop || i == Mobile }

// Assurance is an authenticator assurance level of NIST SP 800-63B.
type Assurance int

// The assurance levels.
const (
	AAL1 Assurance = 1 // a password
	AAL2 Assurance = 2 // a password and a second factor
	AAL3 Assurance = 3 // a device-bound, phishing-resistant authenticator
)

func (a Assurance) String() string { return fmt.Sprintf("AAL%d", int(a)) }

// Lifetime bounds a session: Absolute from its start, Idle from its last use.
type Lifetime struct {
	Absolute time.Duration `yaml:"absolute" json:"absolute"`
	Idle     time.Duration `yaml:"idle" json:"idle"`
}

// DefaultLifetimes are the lifetimes of each interface unless configured.
//
// NIST SP 800-63B (rev. 4, §2.2.3) asks AAL2 sessions to re-authenticate
// at least every 24 hours and after at most 1 hour of inactivity. The
// desktop workstation gets exactly that: it is key-bound, so a copied
// token is useless on its own. The web portal and the phone get the AAL3
// bounds (12 hours, 15 minutes), tighter because browsers are shared and
// phones are lost.
func DefaultLifetimes() map[Door]Lifetime {
	return map[Door]Lifetime{
		Desktop: {Absolute: 24 * time.Hour, Idle: time.Hour},
		Web:     {Absolute: 12 * time.Hour, Idle: 15 * time.Minute},
		Mobile:  {Absolute: 12 * time.Hour, Idle: 15 * time.Minute},
	}
}

// Session is a signed-in client on one interface.
type Session struct {
	ID     string // public identifier, shown in lists and used to revoke
	UserID string
	Door   Door
	// TokenHash is the SHA-256 of the bearer token. The token is shown to
	// the client once; only its hash is stored.
	TokenHash []byte
	// JKT is the RFC 7638 thumbprint of the device key a desktop or mobile
	// session is bound to; empty for web sessions.
	JKT        string
	DeviceID   string
	DeviceName string
	IP         string
	UserAgent  string
	Assurance  Assurance
	// AuthTime is when the last authenticator was proven (login or step-up);
	// actions that need fresh assurance compare against it.
	AuthTime time.Time
	// AMR lists the methods proven, space-separated (RFC 8176: "pwd otp",
	// "pwd hwk", "pwd rec"…).
	AMR        string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time     // absolute end
	Idle       time.Duration // idle timeout fixed at creation
	EndedAt    time.Time     // zero while active
	EndReason  string
}

// Errors returned by [Session.Check].
var (
	ErrEnded   = errors.New("session: ended")
	ErrExpired = errors.New("session: expired")
	ErrIdle    = errors.New("session: idle timeout")
)

// Check reports why the session may not be used at now, or nil.
func (s *Session) Check(now time.Time) error {
	switch {
	case !s.EndedAt.IsZero():
		return ErrEnded
	case !now.Before(s.ExpiresAt):
		return ErrExpired
	case s.Idle > 0 && now.Sub(s.LastSeenAt) >= s.Idle:
		return ErrIdle
	}
	return nil
}

// Active reports whether the session may be used at now.
func (s *Session) Active(now time.Time) bool { return s.Check(now) == nil }

// Fresh reports whether the last authenticator was proven within d of now.
func (s *Session) Fresh(now time.Time, d time.Duration) bool {
	return !s.AuthTime.IsZero() && now.Sub(s.AuthTime) <= d
}

// End reasons recorded on a session and in the audit trail.
const (
	EndLogout         = "logout"
	EndRevoked        = "revoked"
	EndExpired        = "expired"
	EndIdle           = "idle"
	EndPasswordChange = "password_changed"
	// EndFrozen: the user froze the account ("This wasn't me").
	EndFrozen = "frozen"
)

// EndedUntrusted reports whether the session was ended by its user or an
// operator (revoked, by a password change or a freeze) rather than by logout or
// time: what it did may not have been its user's doing, so a key it
// minted deserves a second look.
func (s *Session) EndedUntrusted() bool {
	return !s.EndedAt.IsZero() && (s.EndReason == EndRevoked || s.EndReason == EndPasswordChange || s.EndReason == EndFrozen)
}

// EndReasonFor names the reason to record when Check returned err.
func EndReasonFor(err error) string {
	switch {
	case errors.Is(err, ErrIdle):
		return EndIdle
	case errors.Is(err, ErrExpired):
		return EndExpired
	}
	return EndRevoked
}
