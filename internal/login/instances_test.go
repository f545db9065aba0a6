package login_test

import (
	"errors"
	"log/slog"
	"sync"
	"testing"

	"gatehouse/internal/login"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// TestThrottleAcrossInstances: wrong passwords for one account from one
// address, sent in parallel and spread over two instances on one
// PostgreSQL schema, get no more password checks than one instance would
// give them (the policy's free failures and the one after; the clock
// stands still, so no wait runs out); every other one is throttled.
func TestThrottleAcrossInstances(t *testing.T) {
	url := storetest.PostgresURL(t)
	f := newFixture(t) // for its user-making helpers and clock only
	stA, stB := storetest.OpenPostgres(t, url), storetest.OpenPostgres(t, url)
	f.st = stA
	f.addUser(t, "alice", user.Occasional)
	policy := throttle.DefaultPolicy()
	instance := func(st store.Store) *login.Service {
		return &login.Service{Store: st, Hasher: f.hasher, Rules: password.DefaultRules(), Throttle: policy,
			Lifetimes: session.DefaultLifetimes(), Factors: f.svc.Factors, Log: slog.New(slog.DiscardHandler), Now: f.clock.Now}
	}
	svcs := []*login.Service{instance(stA), instance(stB)}
	const n = 24
	var mu sync.Mutex
	checked, throttled := 0, 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := svcs[i%2].Login(ctx, webLogin("alice", "wrong password, try again", ""))
			var te *login.ThrottledError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &te):
				throttled++
			case err != nil:
				checked++
			default:
				t.Error("a wrong password logged in")
			}
		})
	}
	wg.Wait()
	// Free failures cost no delay, so the attempt after them is also
	// allowed at once; only then does the wait begin (throttle.Rule.Delay).
	// That is the most: in parallel, attempts still in flight hold their
	// reservations, so fewer may be checked (it fails safe). Never more,
	// whichever instance each attempt reaches, and never none.
	if most := policy.AccountSource.Free + 1; checked > most || checked == 0 {
		t.Errorf("%d of %d wrong passwords were checked, %d throttled; want 1 to %d checked (the policy's free failures and the one after, at most)", checked, n, throttled, most)
	}
}
