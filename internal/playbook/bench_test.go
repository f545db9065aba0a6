package playbook_test

import (
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/playbook"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

// benchUsers is the population the issue asks apply to scale to.
const benchUsers = 100_000

// seedPopulation stores n professionals, each with a web session begun
// at T0, in one transaction.
func seedPopulation(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	err := st.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			u := &user.User{ID: fmt.Sprintf("usr_%06d", i), Username: fmt.Sprintf("u%06d", i), Email: fmt.Sprintf("u%06d@example.com", i),
				Profile: user.Professional, PasswordHash: "$argon2id$x", CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			s := &session.Session{ID: fmt.Sprintf("ses_%06d", i), UserID: u.ID, Door: session.Web, TokenHash: []byte(fmt.Sprintf("hash-%06d", i)),
				Assurance: session.AAL2, AuthTime: storetest.T0, CreatedAt: storetest.T0, LastSeenAt: storetest.T0,
				ExpiresAt: storetest.T0.Add(24 * time.Hour), Idle: time.Hour}
			if err := tx.CreateSession(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// phishingSignal is the phishing playbook of docs/signals.md over every
// professional: end their web sessions, sign in again at AAL3, a security
// key by a deadline. The last step reads every user's factors.
func phishingSignal(tb testing.TB) *signal.Signal {
	return &signal.Signal{Title: "Phishing campaign against professional traders", Kind: signal.Phishing, Severity: signal.High,
		Doors: []string{"web"}, Profiles: []user.Profile{user.Professional},
		Steps: steps(tb, "end-sessions", "reauth:aal3", "require-phishing-resistant:2027-01-31")}
}

// BenchmarkSignalApply100k applies the phishing playbook to 100 000 users
// (100 000 sessions ended, 100 000 users told, each with its audit event
// and notice) in one transaction, on each store; the store is seeded
// afresh for every apply, outside the timer. docs/benchmarks.md.
func BenchmarkSignalApply100k(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				raw := be.open(b)
				seedPopulation(b, raw, benchUsers)
				now := storetest.T0.Add(2 * time.Hour)
				svc := &playbook.Service{Store: withNotices(b, raw), Now: func() time.Time { return now }}
				sig, err := svc.Add(ctx, phishingSignal(b), "admin")
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				p, err := svc.Apply(ctx, sig.ID, "admin")
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if n := p.Count(); n["users"] != benchUsers || n[signal.OpEndSession] != benchUsers {
					b.Fatalf("apply did %v, want %d users and sessions", n, benchUsers)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSignalDryRun100k lists what the same signal would do to
// 100 000 users, changing nothing.
func BenchmarkSignalDryRun100k(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			raw := be.open(b)
			seedPopulation(b, raw, benchUsers)
			svc := &playbook.Service{Store: raw, Now: func() time.Time { return storetest.T0.Add(2 * time.Hour) }}
			sig, err := svc.Add(ctx, phishingSignal(b), "admin")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				p, err := svc.DryRun(ctx, sig.ID)
				if err != nil {
					b.Fatal(err)
				}
				if n := p.Count(); n["users"] != benchUsers {
					b.Fatalf("dry run counts %v, want %d users", n, benchUsers)
				}
			}
		})
	}
}
