// Package flow is a login in progress: the password was right, and more
// proof (a second factor, the approval of a new device) is needed before a
// session is minted. It is pure: the store persists flows, the login flows
// change them through the methods here.
package flow

import (
	"time"

	"gatehouse/internal/session"
)

// State is where a login flow stands.
type State string

// Flow states.
const (
	// Factor waits for a second factor.
	Factor State = "factor"
	// Device waits for the new device to be approved.
	Device State = "device"
	// Ready has every proof; the client's next poll mints the session.
	Ready State = "ready"
	// Authenticated has minted its session.
	Authenticated State = "authenticated"
	// Denied was refused (wrong number, denied push, too many attempts).
	Denied State = "denied"
)

// Flow is a login in progress: the password was right, and more proof is
// needed before a session is minted.
type Flow struct {
	ID     string // public; the client also proves its Binding
	UserID string
	Door   session.Door
	// Binding ties the flow to the client that started it: "cookie:" and
	// the hash of a flow cookie (web), or "jkt:" and the key thumbprint
	// (desktop, mobile). No other client can answer its challenges.
	Binding    string
	IP         string
	UserAgent  string
	DeviceName string
	DeviceID   string // the device logging in once known
	// NewDevice says the device must be validated before the session is minted.
	NewDevice bool
	State     State
	Assurance session.Assurance
	AMR       string // methods proven so far, space-separated (RFC 8176)
	// Challenge is the pending challenge's state (JSON, kind-specific).
	Challenge []byte
	Attempts  int
	// Version increases with each update; updates compare it, so two
	// answers racing on one flow cannot both count.
	Version   int
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether the flow can no longer be completed at now.
func (f *Flow) Expired(now time.Time) bool {
	return !now.Before(f.ExpiresAt) && f.State != Authenticated && f.State != Denied
}

// PublicState is the state a client sees: pending, authenticated,
// denied or expired.
func (f *Flow) PublicState(now time.Time) string {
	switch {
	case f.State == Authenticated:
		return "authenticated"
	case f.State == Denied:
		return "denied"
	case f.Expired(now):
		return "expired"
	}
	return "pending"
}
