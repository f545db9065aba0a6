package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/store"
)

// ErrNoMember: the user is not a member of the account.
var ErrNoMember = fault.New(fault.NotFound, "authz: no such membership")

// memberKeys returns the ids of the keys userID created on accountID
// that still work at now: those a removal suspends.
func memberKeys(ctx context.Context, tx store.Tx, userID, accountID string, now time.Time) ([]string, error) {
	keys, err := tx.KeysOfAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		if k.CreatedBy == userID && k.Usable(now) == nil {
			ids = append(ids, k.ID)
		}
	}
	return ids, nil
}

// SetMember gives userID role on accountID, adding the membership or
// changing its role, with its [audit.MemberAdded] event in one
// transaction. The keys the user created on the account are bounded by
// the new role from the very next request through this Keys (within
// MaxAge elsewhere): a demoted trader's keys lose orders:write as the
// trader's sessions do. Only an operator manages memberships.
func (k *Keys) SetMember(ctx context.Context, a Actor, userID, accountID string, role account.Role) error {
	if !a.Operator() {
		return &ForbiddenError{Reason: "memberships are managed by an operator"}
	}
	now := k.now().UTC()
	err := k.store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AccountByID(ctx, accountID); errors.Is(err, store.ErrNotFound) {
			return ErrNoAccount
		} else if err != nil {
			return err
		}
		if err := tx.AddMember(ctx, &account.Membership{UserID: userID, AccountID: accountID, Role: role, CreatedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.MemberAdded, UserID: userID, Actor: a.ID(), IP: a.IP,
			Detail: map[string]string{"account": accountID, "role": string(role)}})
	})
	k.forgetCreator(userID, accountID)
	if err != nil && !errors.Is(err, ErrNoAccount) {
		return fmt.Errorf("authz: store membership: %w", err)
	}
	return err
}

// RemoveMember ends userID's membership of accountID and suspends the
// keys the user created on it: they are refused until the user is a
// member again. The removal, its [audit.MemberRemoved] event and an
// [audit.KeySuspended] event for each key that still worked are stored
// in one transaction; the ids of those keys are returned. Only an
// operator manages memberships.
func (k *Keys) RemoveMember(ctx context.Context, a Actor, userID, accountID string) ([]string, error) {
	if !a.Operator() {
		return nil, &ForbiddenError{Reason: "memberships are managed by an operator"}
	}
	now := k.now().UTC()
	var suspended []string
	err := k.store.InTx(ctx, func(tx store.Tx) error {
		m, err := tx.Membership(ctx, userID, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoMember
		}
		if err != nil {
			return err
		}
		if suspended, err = memberKeys(ctx, tx, userID, accountID, now); err != nil {
			return err
		}
		if err := tx.RemoveMember(ctx, userID, accountID); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.MemberRemoved, UserID: userID, Actor: a.ID(), IP: a.IP,
			Detail: map[string]string{"account": accountID, "role": string(m.Role)}}); err != nil {
			return err
		}
		for _, id := range suspended {
			if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeySuspended, UserID: userID, Actor: a.ID(), IP: a.IP,
				Detail: map[string]string{"account": accountID, "key": id, "reason": "member_removed"}}); err != nil {
				return err
			}
		}
		return nil
	})
	k.forgetCreator(userID, accountID)
	if errors.Is(err, ErrNoMember) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("authz: remove membership: %w", err)
	}
	return suspended, nil
}
