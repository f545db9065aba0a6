// Package account holds brokerage accounts, the legal entities that hold
// them and the memberships through which users reach them.
package account

import (
	"errors"
	"fmt"
	"time"
)

// Environment says whether an account trades real money.
type Environment string

// The two environments. A key or rule for one never reaches the other.
const (
	Paper Environment = "paper"
	Live  Environment = "live"
)

// ParseEnvironment returns the environment named s.
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Paper, Live:
		return Environment(s), nil
	}
	return "", fmt.Errorf("account: unknown environment %q (want paper or live)", s)
}

// Role is what a member may do on an account.
type Role string

// Roles, from most to least powerful.
const (
	Owner  Role = "owner"
	Trader Role = "trader"
	Viewer Role = "viewer"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case Owner, Trader, Viewer:
		return Role(s), nil
	}
	return "", fmt.Errorf("account: unknown role %q (want owner, trader or viewer)", s)
}

// CanManageKeys reports whether a member with role r may create, rotate
// and revoke the account's API keys.
func (r Role) CanManageKeys() bool { return r == Owner || r == Trader }

// Permissions are the trading permissions of an account. Turning one on
// calls for the controls its risk needs.
type Permissions struct {
	Options     bool `json:"options"`
	Margin      bool `json:"margin"`
	Futures     bool `json:"futures"`
	Withdrawals bool `json:"withdrawals"`
}

// Account is a brokerage account.
type Account struct {
	ID          string
	Name        string
	Environment Environment
	ParentID    string // empty unless a sub-account (a managed account)
	EntityCode  string // the legal entity holding the account, e.g. "US"
	Permissions Permissions
	CreatedAt   time.Time
}

// Membership is a user's access to an account.
type Membership struct {
	UserID    string
	AccountID string
	Role      Role
	CreatedAt time.Time
}

// ErrInvalidID is returned for account identifiers that are empty, too
// long or contain characters outside [A-Za-z0-9._-].
var ErrInvalidID = errors.New("account: invalid id")

// ValidID reports whether id may name an account: 1 to 64 characters of
// [A-Za-z0-9._-]. Identifiers appear in URLs and headers, so nothing else
// is allowed.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
