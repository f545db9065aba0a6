// Package user holds login identities and their trader profiles.
package user

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/fault"
)

// Profile is the kind of trader a user is. It selects default policies and
// the advice the posture report gives.
type Profile string

// The trader profiles.
const (
	// Professional traders run algorithms and APIs from a workstation.
	Professional Profile = "professional"
	// Occasional investors mostly use the web portal.
	Occasional Profile = "occasional"
	// Mobile traders live on the phone app.
	Mobile Profile = "mobile"
)

// ParseProfile returns the profile named s.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case Professional, Occasional, Mobile:
		return Profile(s), nil
	}
	return "", fmt.Errorf("user: unknown profile %q (want professional, occasional or mobile)", s)
}

// User is a login identity.
type User struct {
	ID       string
	Username string // unique, compared after [NormalizeUsername]
	Email    string
	Profile  Profile
	// PasswordHash is an argon2id PHC string; the password itself is never stored.
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// FrozenAt is when the user was frozen ("This wasn't me"), zero when
	// not; FrozenBy who froze it: the user's id, "link" (a notice's
	// freeze link), "phone:<factor id>" or "admin". While frozen, no
	// session or key of the user passes forward-auth or the API.
	FrozenAt time.Time
	FrozenBy string
	// CooldownUntil is when the cool-down that a security change (a
	// password or factor change, an unfreeze, a recovery) started ends,
	// zero when none ever ran; CooldownReason names the change. While it
	// runs, risky actions wait: no new live API key, no transfer or
	// bank-account change, no trading permission raised, no removal of
	// another factor.
	CooldownUntil  time.Time
	CooldownReason string
}

// Frozen reports whether the user is frozen.
func (u *User) Frozen() bool { return !u.FrozenAt.IsZero() }

// CooldownError refuses a risky action while the user's cool-down runs.
// It is of kind [fault.Cooldown].
type CooldownError struct {
	Action string    // what was refused, e.g. "new live API key"
	Until  time.Time // when the cool-down ends
	Reason string    // the change that started it, e.g. "password"
}

func (e *CooldownError) Error() string {
	return fmt.Sprintf("user: %s refused during the cool-down after %s, until %s", e.Action, e.Reason, e.Until.UTC().Format(time.RFC3339))
}

// Kind returns [fault.Cooldown].
func (e *CooldownError) Kind() fault.Kind { return fault.Cooldown }

// CheckCooldown returns a [*CooldownError] naming action when the user's
// cool-down runs at now, else nil.
func (u *User) CheckCooldown(now time.Time, action string) error {
	if !u.CoolingDown(now) {
		return nil
	}
	return &CooldownError{Action: action, Until: u.CooldownUntil, Reason: u.CooldownReason}
}

// CoolingDown reports whether the user's cool-down still runs at now.
func (u *User) CoolingDown(now time.Time) bool { return now.Before(u.CooldownUntil) }

// ErrInvalidUsername is returned for a username that cannot be used.
var ErrInvalidUsername = errors.New("user: username must be 3 to 64 letters, digits or . _ - @")

// ErrInvalidEmail is returned for an unusable e-mail address.
var ErrInvalidEmail = errors.New("user: invalid e-mail address")

// NormalizeUsername returns the canonical form of a username: trimmed and
// lower-cased, so that "Alice" and "alice " are one user.
func NormalizeUsername(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidUsername reports whether a normalised username is acceptable.
func ValidUsername(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

// ValidEmail reports whether s is a bare e-mail address (no display name).
func ValidEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
