package authz

import (
	"context"
	"errors"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/store"
)

// ErrNoHeldNetwork: the key is not held on that network (never used from
// it, or approved already).
var ErrNoHeldNetwork = fault.New(fault.NotFound, "authz: the key is not held on that network")

// Networks lists the networks key id of accountID was used from, held
// ones included, for a member of the account (any role may look).
func (k *Keys) Networks(ctx context.Context, a Actor, accountID, id string) ([]*apikey.Network, error) {
	key, _, err := k.keyOf(ctx, a, accountID, id)
	if err != nil {
		return nil, err
	}
	return k.store.KeyNetworks(ctx, key.ID)
}

// ApproveNetwork lets key id of accountID work from network, where it is
// held. Approving widens where the key's powers reach, so it asks what
// minting the key asked: a member who could grant its scopes, with the
// step-up its environment and scopes need. Audited and told.
func (k *Keys) ApproveNetwork(ctx context.Context, a Actor, accountID, id, network string) error {
	key, role, err := k.keyOf(ctx, a, accountID, id)
	if err != nil {
		return err
	}
	if err := mayGrant(a, role, key.Scopes); err != nil {
		return err
	}
	now := k.now().UTC()
	if err := k.checkStepUp(ctx, a, key.Environment, key.Scopes, now); err != nil {
		return err
	}
	err = k.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ApproveKeyNetwork(ctx, key.ID, network, now, a.ID()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyNetworkApproved, UserID: trailOf(key.CreatedBy), Actor: a.ID(),
			Interface: a.Door(), IP: a.IP, Detail: map[string]string{"account": key.AccountID, "key": key.ID, "network": network}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoHeldNetwork
	}
	return err
}
