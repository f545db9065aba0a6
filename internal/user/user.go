// Package user holds login identities and their trader profiles.
package user

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
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
}

// Frozen reports whether the user is frozen.
func (u *User) Frozen() bool { return !u.FrozenAt.IsZero() }

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
