package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// signalTests are the conformance tests of [store.Signals].
var signalTests = []suiteTest{
	{"Signals", testSignals},
	{"SignalEffects", testSignalEffects},
}

// NewSignal returns an open signal with every kind of step.
func NewSignal(id string, created time.Time) *signal.Signal {
	var steps []signal.Step
	for _, s := range []string{"end-sessions", "end-sessions:2026-03-01", "reauth:aal3", "rotate-keys:14d", "require-phishing-resistant:2026-04-01", "forbid-sms", "route-aal:api.example.com/v1/orders=3"} {
		st, err := signal.ParseStep(s)
		if err != nil {
			panic(err)
		}
		steps = append(steps, st)
	}
	return &signal.Signal{ID: id, Title: "Desktop client 4.2 token theft", Kind: signal.Vulnerability, Severity: signal.High,
		Doors: []string{"desktop", "api"}, Profiles: []user.Profile{user.Professional}, Link: "https://example.com/advisory/42",
		Steps: steps, State: signal.Open, CreatedAt: created, CreatedBy: "admin"}
}

func testSignals(t *testing.T, s store.Store) {
	a := NewSignal("sig_a", T0)
	b := &signal.Signal{ID: "sig_b", Title: "Phishing", Kind: signal.Phishing, Severity: signal.Medium, State: signal.Open, CreatedAt: T0.Add(time.Minute), CreatedBy: "admin"}
	for _, sig := range []*signal.Signal{a, b} {
		if err := s.CreateSignal(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSignal(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateSignal(taken id) = %v, want ErrConflict", err)
	}
	got, err := s.SignalByID(ctx, "sig_a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("SignalByID differs (-want +got):\n%s", diff)
	}
	if _, err := s.SignalByID(ctx, "sig_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SignalByID(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.MarkSignalApplied(ctx, "sig_a", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSignalApplied(ctx, "sig_a", T0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSignal(ctx, "sig_a", T0.Add(3*time.Hour), "admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSignal(ctx, "sig_a", T0.Add(4*time.Hour), "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CloseSignal(closed) = %v, want ErrNotFound", err)
	}
	if err := s.MarkSignalApplied(ctx, "sig_a", T0.Add(5*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkSignalApplied(closed) = %v, want ErrNotFound", err)
	}
	list, err := s.ListSignals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sig := range list {
		ids = append(ids, sig.ID)
	}
	if want := []string{"sig_b", "sig_a"}; !slices.Equal(ids, want) {
		t.Errorf("ListSignals = %v, want %v (newest first, closed kept)", ids, want)
	}
	a.AppliedAt, a.State, a.ClosedAt, a.ClosedBy = T0.Add(time.Hour), signal.Closed, T0.Add(3*time.Hour), "admin"
	if diff := cmp.Diff(a, list[1]); diff != "" {
		t.Errorf("closed signal differs (-want +got):\n%s", diff)
	}
}

func testSignalEffects(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	v := NewUser(t, s, "bob")
	if err := s.CreateSignal(ctx, NewSignal("sig_a", T0)); err != nil {
		t.Fatal(err)
	}
	var es []signal.Effect
	for i := range 1200 { // more than one batch
		userID := u.ID
		if i%2 == 1 {
			userID = v.ID
		}
		es = append(es, signal.Effect{SignalID: "sig_a", Action: signal.Action{Step: 0, Op: signal.OpEndSession, UserID: userID, Target: "ses_" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()}, At: T0})
	}
	if err := s.AddSignalEffects(ctx, es); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		return tx.AddSignalEffects(ctx, []signal.Effect{{SignalID: "sig_a", Action: signal.Action{Step: 1, Op: signal.OpTell, UserID: u.ID, Target: u.ID}, At: T0}, es[3]})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddSignalEffects(one done already) = %v, want ErrConflict", err)
	}
	got, err := s.SignalEffects(ctx, "sig_a")
	if err != nil {
		t.Fatal(err)
	}
	key := func(a, b signal.Effect) int { return strings.Compare(a.Key(), b.Key()) }
	slices.SortFunc(got, key)
	slices.SortFunc(es, key)
	if diff := cmp.Diff(es, got); diff != "" {
		t.Errorf("SignalEffects differs (-want +got):\n%s", diff)
	}
	mine, err := s.SignalEffectsOfUser(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 600 {
		t.Errorf("SignalEffectsOfUser = %d effects, want 600", len(mine))
	}
}
