package apikey

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"gatehouse/internal/account"
)

// Scope is one named power of a key. Each scope is one bit, so that a set
// of them ([Scopes]) is a word and the check made on every forwarded
// request is one AND.
//
// Scopes are independent: orders:write does not imply orders:read. A bot
// that places orders and reads them back asks for both.
type Scope uint32

// The scopes. Their bit values never change meaning, but stores should
// persist [Scopes.Names], which survive a reordering and read well in SQL.
const (
	AccountRead    Scope = 1 << iota // account:read: balances, positions, account details
	MarketdataRead                   // marketdata:read: quotes and market data
	OrdersRead                       // orders:read: list and read orders
	OrdersWrite                      // orders:write: place, amend and cancel orders
	TransfersWrite                   // transfers:write: move money in or out of the account

	scopeEnd
)

// AllScopes is every defined scope.
const AllScopes = Scopes(scopeEnd - 1)

// ReadScopes is every scope that only reads.
const ReadScopes = Scopes(AccountRead | MarketdataRead | OrdersRead)

// ErrUnknownScope is returned, wrapped with the name, for a scope name
// that is not defined.
var ErrUnknownScope = errors.New("apikey: unknown scope")

var scopeNames = [...]string{
	"account:read",
	"marketdata:read",
	"orders:read",
	"orders:write",
	"transfers:write",
}

// String returns the scope's name, e.g. "orders:write".
func (s Scope) String() string {
	if bits.OnesCount32(uint32(s)) == 1 && s < scopeEnd {
		return scopeNames[bits.TrailingZeros32(uint32(s))]
	}
	return fmt.Sprintf("Scope(%#x)", uint32(s))
}

// ParseScope returns the scope named name. Names are case-sensitive.
func ParseScope(name string) (Scope, error) {
	for i, n := range scopeNames {
		if n == name {
			return Scope(1) << i, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownScope, name)
}

// Scopes is a set of [Scope].
type Scopes uint32

// ScopesOf returns the set holding list.
func ScopesOf(list ...Scope) Scopes {
	var s Scopes
	for _, x := range list {
		s |= Scopes(x)
	}
	return s
}

// ParseScopes returns the set named by names. Duplicates are harmless; an
// unknown name is an error that names it and wraps [ErrUnknownScope].
func ParseScopes(names []string) (Scopes, error) {
	var s Scopes
	for _, n := range names {
		x, err := ParseScope(n)
		if err != nil {
			return 0, err
		}
		s |= Scopes(x)
	}
	return s, nil
}

// Has reports whether s holds scope x.
func (s Scopes) Has(x Scope) bool { return x != 0 && Scope(s)&x == x }

// Contains reports whether s holds every scope of other.
func (s Scopes) Contains(other Scopes) bool { return s&other == other }

// CanTrade reports whether s can change the account's money or positions:
// orders:write or transfers:write. Such a key on a live account gets a
// shorter life unless it has an IP allowlist.
func (s Scopes) CanTrade() bool {
	return s.Has(OrdersWrite) || s.Has(TransfersWrite)
}

// Valid reports whether s holds only defined scopes, for values read back
// from storage.
func (s Scopes) Valid() bool { return s&^AllScopes == 0 }

// Names returns the names of the scopes in s, in the order of the
// constants.
func (s Scopes) Names() []string {
	names := make([]string, 0, bits.OnesCount32(uint32(s&AllScopes)))
	for i, n := range scopeNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String returns the names of the scopes in s separated by spaces, as in
// an OAuth scope parameter; the empty set is "".
func (s Scopes) String() string { return strings.Join(s.Names(), " ") }

// RoleScopes returns the scopes a member with role r holds on an account:
//   - owner: every scope;
//   - trader: every scope but transfers:write, because moving money in or
//     out is the owner's decision;
//   - viewer: the read scopes.
//
// It bounds both what a session of that member may do on the account and
// what keys the member may create for it (a trader cannot mint a
// transfers:write key). An unknown role holds nothing.
func RoleScopes(r account.Role) Scopes {
	switch r {
	case account.Owner:
		return AllScopes
	case account.Trader:
		return AllScopes &^ Scopes(TransfersWrite)
	case account.Viewer:
		return ReadScopes
	}
	return 0
}
