package authn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/authn"
	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/token"
)

// twoStores opens the stores of two instances on one database: two
// PostgreSQL stores (two pools) on one schema, or for SQLite, which one
// instance serves, one store seen by both.
func twoStores(t *testing.T, backend string) (a, b store.Store) {
	t.Helper()
	if backend == "sqlite" {
		st := storetest.SQLite(t)
		return st, st
	}
	url := storetest.PostgresURL(t)
	return storetest.OpenPostgres(t, url), storetest.OpenPostgres(t, url)
}

// TestReplayAcrossInstances: a proof accepted by one instance is refused
// as a replay by another on the same store, each with its own replay
// cache, and a fresh proof passes on either. Without the shared store
// (the control) the other instance accepts the replay: the test would
// notice the shared store doing nothing.
func TestReplayAcrossInstances(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			stA, stB := twoStores(t, backend)
			u := storetest.NewUser(t, stA, "dana")
			signer := newSigner(t)
			tok, err := token.New(nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			if err := stA.CreateSession(ctx, &session.Session{ID: "ses_desk", UserID: u.ID, Door: session.Desktop, TokenHash: token.Hash(tok), JKT: signer.JKT(),
				Assurance: session.AAL2, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: idle}); err != nil {
				t.Fatal(err)
			}
			instance := func(st store.Store, shared bool) *authn.Authenticator {
				a := &authn.Authenticator{Sessions: authn.New(st, time.Second, nil, nil), Replay: &dpop.ReplayCache{Window: time.Minute}, MaxAge: time.Minute}
				if shared {
					a.Shared = st
				}
				return a
			}
			proof := func() *authn.Credential {
				p, err := signer.Proof("GET", me, tok, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return &authn.Credential{Authorization: "DPoP " + tok, DPoP: p, DPoPCount: 1, Method: "GET", URL: me}
			}
			a, b := instance(stA, true), instance(stB, true)
			first := proof()
			if _, err := a.Authenticate(ctx, first); err != nil {
				t.Fatalf("A: fresh proof: %v", err)
			}
			if _, err := b.Authenticate(ctx, first); !errors.Is(err, authn.ErrReplayed) {
				t.Errorf("B: proof A accepted: %v, want ErrReplayed", err)
			}
			if _, err := a.Authenticate(ctx, first); !errors.Is(err, authn.ErrReplayed) {
				t.Errorf("A: its own proof again: %v, want ErrReplayed", err)
			}
			second := proof()
			if _, err := b.Authenticate(ctx, second); err != nil {
				t.Fatalf("B: fresh proof: %v", err)
			}
			if _, err := a.Authenticate(ctx, second); !errors.Is(err, authn.ErrReplayed) {
				t.Errorf("A: proof B accepted: %v, want ErrReplayed", err)
			}

			// The control: instances that share no store each accept it once.
			third := proof()
			c, d := instance(stA, false), instance(stB, false)
			if _, err := c.Authenticate(ctx, third); err != nil {
				t.Fatalf("unshared C: %v", err)
			}
			if _, err := d.Authenticate(ctx, third); err != nil {
				t.Errorf("unshared D: %v, want the replay accepted (else this test proves nothing)", err)
			}
		})
	}
}

// failingOnce is a store that cannot record a use.
type failingOnce struct{}

var errDown = errors.New("database down")

func (failingOnce) UseOnce(context.Context, string, []byte, time.Time, time.Time) error {
	return errDown
}

// TestSharedStoreDown: when the shared store cannot record a proof, the
// request fails with the store's error (a 500 to the client), never
// passes unrecorded, and is not called a bad credential.
func TestSharedStoreDown(t *testing.T) {
	d := newDesk(t)
	d.auth.Shared = failingOnce{}
	_, err := d.auth.Authenticate(ctx, d.proven(t, d.signer, me, d.tok))
	if !errors.Is(err, errDown) || errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("Authenticate = %v, want the store's error", err)
	}
}
