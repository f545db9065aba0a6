package authz_test

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/store/storetest"
)

// TestRevokeAndCreateWhileUsesFlushOnPostgres revokes, creates and
// rotates keys on PostgreSQL while two instances resolve the keys from
// ever new addresses and flush their uses. Revocations and creations once
// failed there with "deadlock detected" (40P01) against the flush, and
// the keys they failed to revoke went on being accepted. Every change
// must succeed, and every revoked key must be refused.
func TestRevokeAndCreateWhileUsesFlushOnPostgres(t *testing.T) {
	f := newFixtureOn(t, storetest.Postgres(t))
	other := authz.NewKeys(authz.KeysConfig{Store: f.st, Limits: apikey.DefaultLimits(), MaxAge: maxAge, Now: f.clock.Now})
	const n = 24
	var keys []*authz.Issued
	for i := range n {
		keys = append(keys, f.create(t, "ACC-P", apikey.Request{Name: fmt.Sprintf("bot %d", i), Scopes: []string{"orders:read"}}))
	}

	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	done := make(chan struct{})
	warm := make(chan struct{}) // closed once uses are being flushed
	var warmOnce sync.Once
	var users, changers sync.WaitGroup
	for inst, k := range []*authz.Keys{f.keys, other} {
		users.Add(1)
		go func() {
			defer users.Done()
			for round := 0; ; round++ {
				select {
				case <-done:
					return
				default:
				}
				for i, iss := range keys {
					p, err := apikey.Parse(iss.Secret)
					if err != nil {
						fail(err)
						return
					}
					// Revoked keys are refused meanwhile; that is not a failure here.
					k.Resolve(ctx, p, netip.AddrFrom4([4]byte{10, byte(inst), byte(round), byte(i)}))
				}
				if err := k.Flush(ctx); err != nil {
					fail(fmt.Errorf("flush: %w", err))
				}
				warmOnce.Do(func() { close(warm) })
			}
		}()
	}
	<-warm
	revoked := keys[:n/2]
	for _, iss := range revoked {
		changers.Add(1)
		go func() {
			defer changers.Done()
			if _, err := f.keys.Revoke(ctx, authz.Actor{}, "ACC-P", iss.Key.ID); err != nil {
				fail(fmt.Errorf("revoke %s: %w", iss.Key.ID, err))
			}
		}()
	}
	for _, iss := range keys[n/2 : n/2+3] {
		changers.Add(1)
		go func() {
			defer changers.Done()
			if _, err := f.keys.Rotate(ctx, authz.Actor{}, "ACC-P", iss.Key.ID, nil); err != nil {
				fail(fmt.Errorf("rotate %s: %w", iss.Key.ID, err))
			}
		}()
	}
	for i := range 4 {
		changers.Add(1)
		go func() {
			defer changers.Done()
			if _, err := f.keys.Create(ctx, authz.Actor{}, "ACC-P", apikey.Request{Name: fmt.Sprintf("new %d", i), Scopes: []string{"orders:read"}}); err != nil {
				fail(fmt.Errorf("create: %w", err))
			}
		}()
	}
	changers.Wait()
	close(done)
	users.Wait()

	for _, err := range errs {
		t.Error(err)
	}
	for _, iss := range revoked {
		if err := f.resolve(iss.Secret, "192.0.2.1"); !errors.Is(err, authz.ErrInvalidKey) {
			t.Errorf("key %s after its revocation: Resolve = %v, want ErrInvalidKey", iss.Key.ID, err)
		}
		if k, err := f.st.KeyByID(ctx, iss.Key.ID); err != nil || k.RevokedAt.IsZero() {
			t.Errorf("key %s after its revocation: stored %+v, %v; want revoked", iss.Key.ID, k, err)
		}
	}
	if _, err := audit.Verify(f.st.AuditEvents(ctx)); err != nil {
		t.Errorf("audit chain after the concurrent changes: %v", err)
	}
}
