package authz

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// maxAddrsPerBatch bounds the distinct addresses remembered for one key
// between two flushes; more are recorded at their next use.
const maxAddrsPerBatch = 16

type keyUse struct {
	at        time.Time
	last      netip.Addr   // the address of the use at at
	addrs     []netip.Addr // every address used from, in order of first use
	accountID string
	owner     string // the key's creator, whose trail the events join
}

// record notes a use of key from addr at now, for the next flush.
func (k *Keys) record(key *apikey.Key, addr netip.Addr, now time.Time) {
	addr = addr.Unmap()
	k.mu.Lock()
	defer k.mu.Unlock()
	u := k.pending[key.ID]
	if u == nil {
		u = &keyUse{accountID: key.AccountID, owner: key.CreatedBy}
		k.pending[key.ID] = u
	}
	if !now.Before(u.at) {
		u.at, u.last = now, addr
	}
	if addr.IsValid() && !slices.Contains(u.addrs, addr) && len(u.addrs) < maxAddrsPerBatch {
		u.addrs = append(u.addrs, addr)
	}
}

// Flush writes the recorded uses to the store in one transaction: each
// key's last-used time and address, and an [audit.KeyNewAddress] event
// for each address a key had never been used from. On failure the uses
// are kept for the next flush. Flush also drops cache entries that no
// request needs any more, so the cache does not grow with every key ever
// seen.
func (k *Keys) Flush(ctx context.Context) error {
	now := k.now()
	k.mu.Lock()
	batch := k.pending
	k.pending = map[string]*keyUse{}
	for id, e := range k.byID {
		if now.Sub(e.fetched) > k.maxAge {
			if _, used := batch[id]; !used {
				delete(k.byID, id)
			}
		}
	}
	for id, at := range k.missing {
		if now.Sub(at) > k.maxAge {
			delete(k.missing, id)
		}
	}
	k.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := k.store.InTx(ctx, func(tx store.Tx) error {
		// In id order, so that instances flushing overlapping batches
		// lock rows in one order.
		for _, id := range slices.Sorted(maps.Keys(batch)) {
			u := batch[id]
			addrs := u.addrs
			if len(addrs) == 0 {
				addrs = []netip.Addr{{}}
			}
			for _, a := range addrs {
				fresh, err := tx.TouchKey(ctx, id, a, u.at)
				if errors.Is(err, store.ErrNotFound) {
					break // cannot happen: keys are never deleted
				}
				if err != nil {
					return err
				}
				if fresh {
					if err := tx.AppendAudit(ctx, &audit.Event{Time: u.at, Type: audit.KeyNewAddress, UserID: trailOf(u.owner), Actor: "system",
						Interface: "api", IP: a.String(), Detail: map[string]string{"account": u.accountID, "key": id, "ip": a.String()}}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		k.mu.Lock()
		for id, u := range batch {
			if p := k.pending[id]; p != nil {
				for _, a := range p.addrs {
					if !slices.Contains(u.addrs, a) && len(u.addrs) < maxAddrsPerBatch {
						u.addrs = append(u.addrs, a)
					}
				}
				if p.at.After(u.at) {
					u.at, u.last = p.at, p.last
				}
			}
			k.pending[id] = u
		}
		k.mu.Unlock()
		return fmt.Errorf("authz: record key uses: %w", err)
	}
	return nil
}

// Run flushes recorded uses every interval and revokes dormant keys every
// DormantSweep (and once shortly after it starts), until ctx ends; then it
// flushes once more and returns.
func (k *Keys) Run(ctx context.Context, interval time.Duration) {
	flush := time.NewTicker(interval)
	defer flush.Stop()
	sweep := time.NewTimer(min(interval*5, k.sweepEvery))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := k.Flush(context.WithoutCancel(ctx)); err != nil {
				k.log.Error("flush key uses", "err", err)
			}
			return
		case <-flush.C:
			if err := k.Flush(ctx); err != nil {
				k.log.Error("flush key uses", "err", err)
			}
		case <-sweep.C:
			// One instance at a time: the others would find the same keys.
			_, err := k.store.Alone(ctx, "dormant-keys", func(ctx context.Context) error {
				n, err := k.RevokeDormant(ctx)
				if n > 0 {
					k.log.Info("revoked dormant keys", "revoked", n)
				}
				return err
			})
			if err != nil && ctx.Err() == nil {
				k.log.Error("revoke dormant keys", "err", err)
			}
			sweep.Reset(k.sweepEvery)
		}
	}
}

// RevokeDormant revokes every usable key unused for Limits.DormantAfter,
// each with its [audit.KeyRevoked] event (reason dormant) in the same
// transaction, and returns how many it revoked. A use recorded but not
// yet flushed counts as a use.
func (k *Keys) RevokeDormant(ctx context.Context) (int, error) {
	after := k.limits.DormantAfter
	if after <= 0 {
		return 0, nil
	}
	keys, err := k.store.UnrevokedKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("authz: list keys: %w", err)
	}
	now := k.now()
	n := 0
	var errs []error
	for _, key := range keys {
		if key.Usable(now) != nil || !key.Dormant(now, after) {
			continue
		}
		k.mu.Lock()
		u := k.pending[key.ID]
		k.mu.Unlock()
		if u != nil {
			continue
		}
		last := key.LastUsedAt
		err := k.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.RevokeKey(ctx, key.ID, now, apikey.RevokedDormant); err != nil {
				return err
			}
			d := map[string]string{"account": key.AccountID, "key": key.ID, "reason": string(apikey.RevokedDormant)}
			if last.IsZero() {
				d["last_used_at"] = "never"
			} else {
				d["last_used_at"] = last.UTC().Format(time.RFC3339)
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyRevoked, UserID: trailOf(key.CreatedBy), Actor: "system", Detail: d})
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Revoked meanwhile by someone else.
		case err != nil:
			errs = append(errs, fmt.Errorf("key %s: %w", key.ID, err))
		default:
			n++
		}
		k.Forget(key.ID)
	}
	return n, errors.Join(errs...)
}
