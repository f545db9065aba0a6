package authz

import (
	"context"
	"errors"
	"slices"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

// MemberAccount is an account of the actor's user and the role the user
// holds on it.
type MemberAccount struct {
	Account *account.Account
	Role    account.Role
}

// Accounts returns the accounts the actor's user is a member of, by id.
func (k *Keys) Accounts(ctx context.Context, a Actor) ([]MemberAccount, error) {
	if a.Operator() {
		return nil, errors.New("authz: an operator is a member of no account")
	}
	ms, err := k.store.MembershipsOfUser(ctx, a.Session.UserID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ms, func(x, y *account.Membership) int { return strings.Compare(x.AccountID, y.AccountID) })
	out := make([]MemberAccount, 0, len(ms))
	for _, m := range ms {
		acct, err := k.store.AccountByID(ctx, m.AccountID)
		if err != nil {
			return nil, err
		}
		out = append(out, MemberAccount{Account: acct, Role: m.Role})
	}
	return out, nil
}

// Account returns the account with id and the actor's role on it;
// [ErrNoAccount] when the actor's user is not a member.
func (k *Keys) Account(ctx context.Context, a Actor, id string) (MemberAccount, error) {
	if a.Operator() {
		return MemberAccount{}, errors.New("authz: an operator is a member of no account")
	}
	m, err := k.store.Membership(ctx, a.Session.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return MemberAccount{}, ErrNoAccount
	}
	if err != nil {
		return MemberAccount{}, err
	}
	acct, err := k.store.AccountByID(ctx, id)
	if err != nil {
		return MemberAccount{}, err
	}
	return MemberAccount{Account: acct, Role: m.Role}, nil
}
