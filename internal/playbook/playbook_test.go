package playbook_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
	"gatehouse/internal/emit"
	"gatehouse/internal/notify"
	"gatehouse/internal/playbook"
	"gatehouse/internal/seal"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

var ctx = context.Background()

var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"SQLite", func(t testing.TB) store.Store { return storetest.SQLite(t) }},
	{"PostgreSQL", func(t testing.TB) store.Store { return storetest.Postgres(t) }},
}

// withNotices wraps st as the server does: every audit event writes its
// notices in its transaction.
func withNotices(t testing.TB, st store.Store) store.Store {
	t.Helper()
	key := sha256.Sum256([]byte("playbook test key"))
	box, err := seal.New(key[:])
	if err != nil {
		t.Fatal(err)
	}
	return emit.Wrap(st, &notify.Notices{Seal: box, Mail: true})
}

func steps(t testing.TB, ss ...string) []signal.Step {
	t.Helper()
	var out []signal.Step
	for _, s := range ss {
		st, err := signal.ParseStep(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// newSession stores a live session of u on door, begun at created.
func newSession(t *testing.T, st store.Tx, u *user.User, id string, door session.Door, created time.Time) {
	t.Helper()
	ss := &session.Session{ID: id, UserID: u.ID, Door: door, TokenHash: []byte("hash-" + id), Assurance: session.AAL2, AuthTime: created,
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(24 * time.Hour), Idle: time.Hour}
	if err := st.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
}

func TestEndSessionsDryRunIsApply(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			raw := b.open(t)
			st := withNotices(t, raw)
			now := storetest.T0.Add(2 * time.Hour)
			svc := &playbook.Service{Store: st, Now: func() time.Time { return now }}
			// 3000 professionals with a desktop and a web session each,
			// and 500 occasional investors with a desktop session.
			err := raw.InTx(ctx, func(tx store.Tx) error {
				for i := range 3500 {
					u := &user.User{ID: fmt.Sprintf("usr_%05d", i), Username: fmt.Sprintf("u%05d", i), Email: fmt.Sprintf("u%05d@example.com", i),
						Profile: user.Professional, PasswordHash: "$argon2id$x", CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
					if i >= 3000 {
						u.Profile = user.Occasional
					}
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
					newSession(t, tx, u, fmt.Sprintf("ses_d%05d", i), session.Desktop, storetest.T0)
					if i < 3000 {
						newSession(t, tx, u, fmt.Sprintf("ses_w%05d", i), session.Web, storetest.T0)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := svc.Add(ctx, &signal.Signal{Title: "Desktop client 4.2: session tokens readable by other programs", Kind: signal.Vulnerability,
				Severity: signal.High, Doors: []string{"desktop"}, Profiles: []user.Profile{user.Professional}, Link: "https://example.com/adv/42",
				Steps: steps(t, "end-sessions")}, "admin")
			if err != nil {
				t.Fatal(err)
			}
			dry, err := svc.DryRun(ctx, sig.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := dry.Count(); n[signal.OpEndSession] != 3000 || n[signal.OpTell] != 3000 || n["users"] != 3000 {
				t.Errorf("dry run counts = %v, want 3000 desktop sessions ended and 3000 users told", n)
			}
			// The dry run changed nothing.
			if live, err := raw.ListSessions(ctx); err != nil || len(live) != 6500 {
				t.Fatalf("after the dry run %d sessions live (%v), want 6500", len(live), err)
			}
			done, err := svc.Apply(ctx, sig.ID, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dry.Actions, done.Actions); diff != "" {
				t.Errorf("apply did other than the dry run said (-dry +apply):\n%s", diff)
			}
			live, err := raw.ListSessions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range live {
				u := s.UserID[len("usr_"):]
				if s.Door == session.Desktop && u < "03000" {
					t.Errorf("session %s of a professional on the desktop is still live", s.ID)
				}
			}
			if len(live) != 3500 {
				t.Errorf("%d sessions live after apply, want 3500 (web ones and the occasional investors' desktops)", len(live))
			}
			// Applying again does nothing twice, nor does a dry run plan anything.
			again, err := svc.Apply(ctx, sig.ID, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Actions) != 0 {
				t.Errorf("second apply did %d actions, want none", len(again.Actions))
			}
			// A sign-in after the signal is what it asked for: left alone.
			now = now.Add(time.Hour)
			u0, err := raw.UserByID(ctx, "usr_00000")
			if err != nil {
				t.Fatal(err)
			}
			newSession(t, raw, u0, "ses_new", session.Desktop, now.Add(-time.Minute))
			if p, err := svc.DryRun(ctx, sig.ID); err != nil || len(p.Actions) != 0 {
				t.Errorf("dry run after a new sign-in = %v, %v; want nothing", p, err)
			}
			// Every event names the signal; the user is told why.
			trail, err := raw.AuditOfUser(ctx, "usr_00007", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range trail {
				types = append(types, e.Type)
				if e.Detail["signal"] != sig.ID {
					t.Errorf("%s event of usr_00007 names signal %q, want %s", e.Type, e.Detail["signal"], sig.ID)
				}
			}
			if diff := cmp.Diff([]string{audit.SignalApplied, audit.SessionEnded}, types); diff != "" {
				t.Errorf("usr_00007's trail (-want +got):\n%s", diff)
			}
			if todo := trail[0].Detail["todo"]; todo != "sign in again" || trail[0].Detail["title"] != sig.Title {
				t.Errorf("signal.applied detail = %v, want the title and \"sign in again\"", trail[0].Detail)
			}
			msgs, err := raw.ListMessages(ctx, store.MessageFilter{UserID: "usr_00007", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].Event != "signal.applied" || !strings.Contains(string(msgs[0].Payload), "sign in again") {
				t.Errorf("usr_00007's outbox = %d messages (first %+v), want one signal.applied notice saying what to do", len(msgs), msgs)
			} else if !msgs[0].Bulk {
				t.Errorf("the signal's notice is not bulk: it would go out before a takeover's")
			}
			if n, err := raw.ListMessages(ctx, store.MessageFilter{UserID: "usr_03001", Limit: 10}); err != nil || len(n) != 0 {
				t.Errorf("an occasional investor out of scope got %d messages (%v), want none", len(n), err)
			}
			// Closing keeps the history and plans nothing more.
			if _, err := svc.Close(ctx, sig.ID, "admin"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Close(ctx, sig.ID, "admin"); !errors.Is(err, playbook.ErrClosed) {
				t.Errorf("closing twice = %v, want ErrClosed", err)
			}
			if _, err := svc.Apply(ctx, sig.ID, "admin"); !errors.Is(err, playbook.ErrClosed) {
				t.Errorf("applying a closed signal = %v, want ErrClosed", err)
			}
			list, err := svc.List(ctx)
			if err != nil || len(list) != 1 || list[0].State != signal.Closed || list[0].AppliedAt.IsZero() {
				t.Errorf("List = %v, %v; want the one signal, closed, applied", list, err)
			}
		})
	}
}

func TestAddRefusesBadSignal(t *testing.T) {
	st := storetest.SQLite(t)
	svc := &playbook.Service{Store: st}
	for _, sig := range []*signal.Signal{
		{Kind: signal.Phishing, Severity: signal.High},
		{Title: "x", Kind: "worm", Severity: signal.High},
		{Title: "x", Kind: signal.Phishing, Severity: "dire"},
		{Title: "x", Kind: signal.Phishing, Severity: signal.High, Doors: []string{"fax"}},
		{Title: "x", Kind: signal.Phishing, Severity: signal.High, Link: "javascript:alert(1)"},
		{Title: "x", Kind: signal.Phishing, Severity: signal.High, Profiles: []user.Profile{"whale"}},
	} {
		if _, err := svc.Add(ctx, sig, "admin"); err == nil {
			t.Errorf("Add(%+v) = nil error, want refused", sig)
		}
	}
	if list, _ := st.ListSignals(ctx); len(list) != 0 {
		t.Errorf("%d signals stored after refusals, want none", len(list))
	}
}

// TestRotateKeysSweep: a rotate-keys step marks the keys of the users in
// scope when applied; the sweep the janitor runs suspends nothing before
// the deadline, then the marked keys not rotated, once, with their
// key.revoked events naming the signal; a key made after the signal is
// left alone.
func TestRotateKeysSweep(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := withNotices(t, b.open(t))
			now := storetest.T0.Add(time.Hour)
			svc := &playbook.Service{Store: st, Now: func() time.Time { return now }}
			sig := &signal.Signal{ID: "sig_rotate", Title: "Workstation build 4.2 leaks tokens", Kind: signal.Vulnerability, Severity: signal.High,
				Doors: []string{"api"}, Steps: steps(t, "rotate-keys:14d"), State: signal.Open, CreatedAt: now, CreatedBy: "admin"}
			err := st.InTx(ctx, func(tx store.Tx) error {
				storetest.NewUser(t, tx, "alice")
				storetest.NewAccount(t, tx, "ACC-1", "live")
				for _, id := range []string{"key_old1", "key_old2"} {
					if err := tx.CreateKey(ctx, storetest.NewKey(id, "ACC-1", "live", storetest.T0)); err != nil {
						return err
					}
				}
				return tx.CreateSignal(ctx, sig)
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Apply(ctx, sig.ID, "admin")
			if err != nil || p.Count()[signal.OpMarkKey] != 2 {
				t.Fatalf("Apply = %v, %v; want both keys marked", p, err)
			}
			// A key made after the signal: the rotation it asked for.
			if err := st.CreateKey(ctx, storetest.NewKey("key_new", "ACC-1", "live", now.Add(time.Minute))); err != nil {
				t.Fatal(err)
			}
			now = now.Add(13 * 24 * time.Hour)
			if n, err := svc.Sweep(ctx); n != 0 || err != nil {
				t.Errorf("Sweep before the deadline = %d, %v; want nothing", n, err)
			}
			now = now.Add(2 * 24 * time.Hour)
			if n, err := svc.Sweep(ctx); n != 2 || err != nil {
				t.Errorf("Sweep after the deadline = %d, %v; want the two marked keys", n, err)
			}
			if n, err := svc.Sweep(ctx); n != 0 || err != nil {
				t.Errorf("Sweep again = %d, %v; want nothing twice", n, err)
			}
			for id, revoked := range map[string]bool{"key_old1": true, "key_old2": true, "key_new": false} {
				k, err := st.KeyByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got := !k.RevokedAt.IsZero() && k.RevokeReason == "signal"; got != revoked {
					t.Errorf("%s revoked by the signal = %v, want %v (%+v)", id, got, revoked, k)
				}
			}
			n := 0
			for e, err := range st.AuditEvents(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				if e.Type == audit.KeyRevoked && e.Detail["signal"] == sig.ID && e.Detail["reason"] == "signal" {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d key.revoked events naming the signal, want 2", n)
			}
		})
	}
}

// failingEffects is a store whose transactions fail when they record
// effects, from the nth such transaction on: an apply that dies part way.
type failingEffects struct {
	store.Store
	calls *int
	from  int
}

func (f failingEffects) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.InTx(ctx, func(tx store.Tx) error { return fn(failingTx{tx, f}) })
}

type failingTx struct {
	store.Tx
	f failingEffects
}

var errInjected = errors.New("injected failure")

func (t failingTx) AddSignalEffects(ctx context.Context, es []signal.Effect) error {
	*t.f.calls++
	if *t.f.calls >= t.f.from {
		return errInjected
	}
	return t.Tx.AddSignalEffects(ctx, es)
}

// TestApplyStoppedPartWay: an apply that fails after some of its chunks
// has done those chunks whole (each session ended with its event, each
// user told), nothing of the failed one; applying again finishes the
// rest, and nobody is told twice.
func TestApplyStoppedPartWay(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			raw := b.open(t)
			now := storetest.T0.Add(2 * time.Hour)
			const users = 2500 // three chunks
			err := raw.InTx(ctx, func(tx store.Tx) error {
				for i := range users {
					u := &user.User{ID: fmt.Sprintf("usr_%05d", i), Username: fmt.Sprintf("u%05d", i), Email: fmt.Sprintf("u%05d@example.com", i),
						Profile: user.Professional, PasswordHash: "$argon2id$x", CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
					newSession(t, tx, u, fmt.Sprintf("ses_w%05d", i), session.Web, storetest.T0)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			broken := &playbook.Service{Store: withNotices(t, failingEffects{Store: raw, calls: &calls, from: 2}), Now: func() time.Time { return now }}
			sig, err := broken.Add(ctx, &signal.Signal{Title: "Session cookies stolen from a partner site", Kind: signal.Phishing, Severity: signal.High,
				Doors: []string{"web"}, Steps: steps(t, "end-sessions")}, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := broken.Apply(ctx, sig.ID, "admin"); !errors.Is(err, errInjected) {
				t.Fatalf("apply with its second chunk failing = %v, want the failure", err)
			}
			live, err := raw.ListSessions(ctx)
			if err != nil || len(live) != users-1000 {
				t.Fatalf("after the failed apply %d sessions live (%v), want %d: the first chunk done, the second undone", len(live), err, users-1000)
			}
			done, err := raw.SignalEffects(ctx, sig.ID)
			if err != nil || len(done) != 2000 {
				t.Errorf("effects recorded = %d (%v), want 2000 (1000 sessions, 1000 users told)", len(done), err)
			}
			svc := &playbook.Service{Store: withNotices(t, raw), Now: func() time.Time { return now }}
			rest, err := svc.Apply(ctx, sig.ID, "admin")
			if err != nil {
				t.Fatal(err)
			}
			if n := rest.Count(); n[signal.OpEndSession] != users-1000 || n["users"] != users-1000 {
				t.Errorf("applying again did %v, want the %d users left", n, users-1000)
			}
			if live, _ := raw.ListSessions(ctx); len(live) != 0 {
				t.Errorf("%d sessions live after applying again, want none", len(live))
			}
			for _, id := range []string{"usr_00000", "usr_01500", "usr_02499"} {
				trail, err := raw.AuditOfUser(ctx, id, 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				told := 0
				for _, e := range trail {
					if e.Type == audit.SignalApplied {
						told++
					}
				}
				if told != 1 {
					t.Errorf("%s told %d times, want once", id, told)
				}
			}
		})
	}
}
