package apikey

import (
	"net/netip"
	"time"

	"gatehouse/internal/account"
)

// Network is a network a key has been used from: a /24 of IPv4, a /48 of
// IPv6, or an autonomous system from the operator's map ("AS64500"). A
// live key that trades or moves money is watched by network: the first
// use from a new one is recorded and told, and a key with
// [Key.HoldOnNewNetwork] is refused there until its owner approves it.
type Network struct {
	KeyID   string
	Network string
	// FirstIP is the address of the first use from the network.
	FirstIP     netip.Addr
	FirstSeenAt time.Time
	// ApprovedAt is when the network was approved: at its first use for
	// the key's first network and for keys without a hold; by the owner
	// for the others. Zero while the network is held.
	ApprovedAt time.Time
	// ApprovedBy is the user who approved a held network; "" for one
	// approved at its first use.
	ApprovedBy string
}

// Held reports whether uses from the network are refused until approved.
func (n *Network) Held() bool { return n.ApprovedAt.IsZero() }

// Watched reports whether k's networks are watched: a live key that
// places orders or moves money. Paper keys and read-only keys are not.
func (k *Key) Watched() bool {
	return k.Environment == account.Live && (k.Scopes.Has(OrdersWrite) || k.Scopes.Has(TransfersWrite))
}
