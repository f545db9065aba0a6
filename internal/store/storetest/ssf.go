package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/store"
)

// ssfTests are the conformance tests of Shared Signals streams and the
// tokens they hold.
var ssfTests = []suiteTest{
	{"StreamState", testStreamState},
	{"HeldSETs", testHeldSETs},
}

func testStreamState(t *testing.T, s store.Store) {
	if _, err := s.StreamByID(ctx, "orders"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StreamByID(never changed) = %v, want ErrNotFound", err)
	}
	st := &store.Stream{ID: "orders", EventsRequested: []string{"urn:a", "urn:b"}, Description: "orders\x00 gateway", Status: store.StreamPaused, Reason: "maintenance", UpdatedAt: T0}
	if err := s.PutStream(ctx, st); err != nil {
		t.Fatalf("PutStream = %v", err)
	}
	got, err := s.StreamByID(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("stream read back (-put +got):\n%s", diff)
	}
	// A second put replaces every field, an empty request list included.
	st2 := &store.Stream{ID: "orders", Status: store.StreamEnabled, VerifiedAt: T0.Add(time.Minute), UpdatedAt: T0.Add(time.Minute)}
	if err := s.InTx(ctx, func(tx store.Tx) error { return tx.PutStream(ctx, st2) }); err != nil {
		t.Fatal(err)
	}
	got, err = s.StreamByID(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	st2.EventsRequested = []string{}
	if diff := cmp.Diff(st2, got); diff != "" {
		t.Errorf("stream replaced (-put +got):\n%s", diff)
	}
	if _, err := s.StreamByID(ctx, "orders\xff"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StreamByID(invalid text) = %v, want ErrNotFound", err)
	}
}

func testHeldSETs(t *testing.T, s store.Store) {
	hold := func(stream, jti string, at time.Time) *store.HeldSET {
		t.Helper()
		h := &store.HeldSET{StreamID: stream, JTI: jti, Event: "session.ended", Claims: []byte(`{"jti":"` + jti + `"}`), CreatedAt: at}
		if err := s.HoldSET(ctx, h); err != nil {
			t.Fatalf("HoldSET(%s, %s) = %v", stream, jti, err)
		}
		return h
	}
	c := hold("poll", "c", T0.Add(2*time.Second))
	a := hold("poll", "a", T0)
	b := hold("poll", "b", T0.Add(time.Second))
	hold("other", "a", T0)
	if err := s.HoldSET(ctx, &store.HeldSET{StreamID: "poll", JTI: "a", Event: "x", Claims: []byte("{}"), CreatedAt: T0}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("HoldSET(same jti) = %v, want ErrConflict", err)
	}
	got, err := s.HeldSETs(ctx, "poll", 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*store.HeldSET{a, b}, got); diff != "" {
		t.Errorf("HeldSETs(limit 2), oldest first (-want +got):\n%s", diff)
	}
	// Acknowledging drops only the stream's own tokens; unknown and
	// invalid ids are ignored.
	n, err := s.DropSETs(ctx, "poll", []string{"a", "c", "zz", "\xff"})
	if err != nil || n != 2 {
		t.Errorf("DropSETs = %d, %v, want 2, nil", n, err)
	}
	got, err = s.HeldSETs(ctx, "poll", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*store.HeldSET{b}, got); diff != "" {
		t.Errorf("HeldSETs after acks (-want +got):\n%s", diff)
	}
	if got, _ := s.HeldSETs(ctx, "other", 10); len(got) != 1 {
		t.Errorf("other stream holds %d, want 1 (acks of one stream touch no other)", len(got))
	}
	_ = c
	if n, err := s.DropSETs(ctx, "poll", nil); n != 0 || err != nil {
		t.Errorf("DropSETs(none) = %d, %v", n, err)
	}
}
