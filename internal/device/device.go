// Package device models the clients a user signs in from: a browser known
// by a long-lived random cookie, or a desktop or mobile app known by the
// key it proves with DPoP.
package device

import "time"

// Status is where a device stands.
type Status string

// Device statuses.
const (
	Trusted Status = "trusted"
	Pending Status = "pending" // awaiting validation from a trusted device or by e-mail
	Revoked Status = "revoked"
)

// Device is one client of one user.
type Device struct {
	ID        string
	UserID    string
	Interface string // web, desktop or mobile
	// Fingerprint identifies the device: "cookie:" and the hex SHA-256 of
	// the device cookie (the cookie itself is never stored), or "jkt:" and
	// the RFC 7638 thumbprint of the device key.
	Fingerprint string
	Name        string
	Status      Status
	CreatedAt   time.Time
	LastSeenAt  time.Time
}
