package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/recovery"
	"gatehouse/internal/store"
)

var recoveryTests = []suiteTest{
	{"RecoveryOnePending", testRecoveryOnePending},
	{"RecoveryNotices", testRecoveryNotices},
	{"LinkPurposes", testLinkPurposes},
}

// testRecoveryOnePending: a user has one pending request at a time; an
// ended one makes room for the next, and ends once.
func testRecoveryOnePending(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	r := recovery.New("rcv_one", u.ID, u.ID, "", "192.0.2.1", recovery.DefaultWait, T0)
	if err := s.CreateRecovery(ctx, r); err != nil {
		t.Fatal(err)
	}
	again := recovery.New("rcv_two", u.ID, u.ID, "", "192.0.2.1", recovery.DefaultWait, T0.Add(time.Hour))
	if err := s.CreateRecovery(ctx, again); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateRecovery(second pending) = %v, want ErrConflict", err)
	}
	got, err := s.PendingRecovery(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("PendingRecovery (-want +got):\n%s", diff)
	}
	if err := s.EndRecovery(ctx, r.ID, recovery.Cancelled, "link", T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRecovery(ctx, r.ID, recovery.Completed, "usr_alice", T0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndRecovery(ended) = %v, want ErrNotFound", err)
	}
	if _, err := s.PendingRecovery(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PendingRecovery after cancel = %v, want ErrNotFound", err)
	}
	if err := s.CreateRecovery(ctx, again); err != nil {
		t.Errorf("CreateRecovery after cancel = %v", err)
	}
	ended, err := s.RecoveryByID(ctx, r.ID)
	if err != nil || ended.Status != recovery.Cancelled || ended.EndedBy != "link" || !ended.EndedAt.Equal(T0.Add(time.Minute)) || !ended.NextNoticeAt.IsZero() {
		t.Errorf("RecoveryByID(cancelled) = %+v, %v", ended, err)
	}
	all, err := s.ListRecoveries(ctx)
	if err != nil || len(all) != 2 || all[0].ID != again.ID {
		t.Errorf("ListRecoveries = %d, %v; want 2, newest first", len(all), err)
	}
	if _, err := s.RecoveryByID(ctx, "rcv_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecoveryByID(unknown) = %v, want ErrNotFound", err)
	}
	again.ShortenFirst, again.ShortenReason = "root", "passport seen"
	if err := s.SetRecoveryShortening(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RecoveryByID(ctx, again.ID); got.ShortenFirst != "root" || got.ShortenReason != "passport seen" {
		t.Errorf("shortening not stored: %+v", got)
	}
}

// testRecoveryNotices: a due reminder is listed until one instance
// advances it; the other's advance finds it moved.
func testRecoveryNotices(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	r := recovery.New("rcv_one", u.ID, u.ID, "", "", recovery.DefaultWait, T0)
	if err := s.CreateRecovery(ctx, r); err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueRecoveryNotices(ctx, T0.Add(23*time.Hour), 10); err != nil || len(due) != 0 {
		t.Errorf("DueRecoveryNotices before the day = %d, %v; want none", len(due), err)
	}
	due, err := s.DueRecoveryNotices(ctx, T0.Add(25*time.Hour), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueRecoveryNotices after a day = %d, %v; want 1", len(due), err)
	}
	was := due[0].NextNoticeAt
	if err := s.AdvanceRecoveryNotice(ctx, r.ID, was, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceRecoveryNotice(ctx, r.ID, was, time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceRecoveryNotice twice = %v, want ErrNotFound", err)
	}
	if due, _ := s.DueRecoveryNotices(ctx, T0.Add(30*24*time.Hour), 10); len(due) != 0 {
		t.Errorf("DueRecoveryNotices with none left = %d, want 0", len(due))
	}
}

// testLinkPurposes: a link token spends for its own purpose only.
func testLinkPurposes(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	cancel, freeze := []byte("cancel-hash"), []byte("freeze-hash")
	if err := s.CreateLink(ctx, cancel, u.ID, store.LinkRecoveryCancel, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFreezeLink(ctx, freeze, u.ID, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseFreezeLink(ctx, cancel, T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseFreezeLink(cancel link) = %v, want ErrNotFound", err)
	}
	if _, err := s.UseLink(ctx, freeze, store.LinkRecoveryCancel, T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseLink(freeze link, cancel) = %v, want ErrNotFound", err)
	}
	if got, err := s.UseLink(ctx, cancel, store.LinkRecoveryCancel, T0); err != nil || got != u.ID {
		t.Errorf("UseLink(cancel) = %q, %v; want %q", got, err, u.ID)
	}
	if got, err := s.UseFreezeLink(ctx, freeze, T0); err != nil || got != u.ID {
		t.Errorf("UseFreezeLink = %q, %v; want %q", got, err, u.ID)
	}
}
