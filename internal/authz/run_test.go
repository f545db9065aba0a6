package authz_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/store"
)

// memStore is the part of a store that Keys' background work touches,
// in memory, so that Run can be driven by synctest's fake clock (a real
// database's goroutines and I/O live outside the bubble).
type memStore struct {
	store.Store // nil: any other method panics
	mu          sync.Mutex
	keys        map[string]*apikey.Key
	touches     int
	sweeps      int
	events      []string
}

// Alone runs fn: one process serves this store.
func (m *memStore) Alone(ctx context.Context, _ string, fn func(context.Context) error) (bool, error) {
	return true, fn(ctx)
}

type memTx struct {
	store.Tx
	s *memStore
}

func (m *memStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(memTx{s: m})
}

func (m *memStore) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *k
	return &c, nil
}

// Membership makes every key's creator an owner of its account.
func (m *memStore) Membership(ctx context.Context, userID, accountID string) (*account.Membership, error) {
	return &account.Membership{UserID: userID, AccountID: accountID, Role: account.Owner}, nil
}

func (m *memStore) UnrevokedKeys(ctx context.Context) ([]*apikey.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweeps++
	var out []*apikey.Key
	for _, k := range m.keys {
		if k.RevokedAt.IsZero() {
			c := *k
			out = append(out, &c)
		}
	}
	return out, nil
}

func (t memTx) TouchKey(ctx context.Context, id string, addr netip.Addr, at time.Time) (bool, error) {
	t.s.touches++
	k := t.s.keys[id]
	k.LastUsedAt, k.LastUsedIP = at, addr
	return false, nil
}

func (t memTx) RevokeKey(ctx context.Context, id string, now time.Time, reason apikey.RevokeReason) error {
	t.s.keys[id].RevokedAt, t.s.keys[id].RevokeReason = now, reason
	return nil
}

func (t memTx) AppendAudit(ctx context.Context, e *audit.Event) error {
	t.s.events = append(t.s.events, e.Type)
	return nil
}

func (m *memStore) counts() (touches, sweeps int, events []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.touches, m.sweeps, append([]string(nil), m.events...)
}

func TestRunFlushesAndSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tok, err := apikey.Generate(account.Paper, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		used := &apikey.Key{ID: tok.ID, AccountID: "A", Environment: account.Paper, Scopes: apikey.ScopesOf(apikey.OrdersRead),
			SecretHash: tok.Hash, CreatedBy: "usr_a", CreatedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour)}
		stale := &apikey.Key{ID: "stale00000000000", AccountID: "A", Environment: account.Paper, Scopes: apikey.ScopesOf(apikey.OrdersRead),
			CreatedBy: "usr_a", CreatedAt: now.Add(-31 * 24 * time.Hour), ExpiresAt: now.Add(60 * 24 * time.Hour)}
		st := &memStore{keys: map[string]*apikey.Key{used.ID: used, stale.ID: stale}}
		keys := authz.NewKeys(authz.KeysConfig{Store: st, Limits: apikey.DefaultLimits(), MaxAge: time.Second, DormantSweep: time.Hour})

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); keys.Run(ctx, time.Second) }()

		p, _ := apikey.Parse(tok.Key)
		if _, _, err := keys.Resolve(ctx, p, netip.MustParseAddr("192.0.2.1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if touches, _, _ := st.counts(); touches != 0 {
			t.Fatalf("%d uses written before the first interval, want 0: writes are batched", touches)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if touches, _, _ := st.counts(); touches != 1 {
			t.Errorf("after one interval: %d uses written, want 1", touches)
		}
		// The first sweep comes after five intervals, then hourly.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		touches, sweeps, events := st.counts()
		if sweeps != 1 || len(events) != 1 || events[0] != audit.KeyRevoked {
			t.Errorf("after 5s: %d sweeps, events %v; want 1 sweep revoking the stale key", sweeps, events)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if _, sweeps, _ := st.counts(); sweeps != 2 {
			t.Errorf("after an hour more: %d sweeps, want 2", sweeps)
		}
		// A use just before stopping is flushed on the way out.
		keys.Resolve(ctx, p, netip.MustParseAddr("192.0.2.1"))
		cancel()
		<-done
		if got, _, _ := st.counts(); got != touches+1 {
			t.Errorf("after stopping: %d uses written, want %d: Run must flush on the way out", got, touches+1)
		}
	})
}
