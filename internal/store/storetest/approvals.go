package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/approval"
	"gatehouse/internal/store"
)

// approvalTests are the conformance tests of [store.Approvals].
var approvalTests = []suiteTest{
	{"Approvals", testApprovals},
	{"ApprovalUseOnce", testApprovalUseOnce},
}

// NewApproval returns a pending approval of userID on account, created at
// created and pending for five minutes.
func NewApproval(id, userID, account string, created time.Time) *approval.Approval {
	details := []byte(`{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000"}}`)
	return &approval.Approval{ID: id, UserID: userID, AccountID: account, Kind: approval.Transfer, Details: details,
		Hash: approval.HashCanonical(details), Nonce: []byte("nonce-nonce-nonce-nonce-nonce-32"), RequestedBy: "ses_1",
		Status: approval.Pending, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
}

func testApprovals(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	a := NewApproval("apr_1", u.ID, "acc-1", T0)
	if err := s.CreateApproval(ctx, a); err != nil {
		t.Fatalf("CreateApproval = %v", err)
	}
	if err := s.CreateApproval(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateApproval(same id) = %v, want ErrConflict", err)
	}
	got, err := s.ApprovalByID(ctx, a.ID)
	if err != nil {
		t.Fatalf("ApprovalByID = %v", err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("ApprovalByID differs from what was stored (-want +got):\n%s", diff)
	}
	if _, err := s.ApprovalByID(ctx, "apr_nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ApprovalByID(unknown) = %v, want ErrNotFound", err)
	}

	later := NewApproval("apr_2", u.ID, "acc-1", T0.Add(time.Minute))
	if err := s.CreateApproval(ctx, later); err != nil {
		t.Fatal(err)
	}
	ids := func(as []*approval.Approval) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	p, err := s.PendingApprovals(ctx, u.ID, T0.Add(2*time.Minute))
	if want := []string{"apr_1", "apr_2"}; err != nil || !cmp.Equal(ids(p), want) {
		t.Errorf("PendingApprovals = %v, %v; want %v", ids(p), err, want)
	}
	if p, _ := s.PendingApprovals(ctx, u.ID, T0.Add(5*time.Minute)); !cmp.Equal(ids(p), []string{"apr_2"}) {
		t.Errorf("PendingApprovals after the first expired = %v, want [apr_2]", ids(p))
	}

	// An expired approval cannot be decided; a pending one once.
	if err := s.DecideApproval(ctx, a.ID, approval.Approved, "fac_1", "push", 2, T0.Add(5*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DecideApproval(expired) = %v, want ErrNotFound", err)
	}
	at := T0.Add(2 * time.Minute)
	if err := s.DecideApproval(ctx, later.ID, approval.Approved, "fac_1", "push", 2, at); err != nil {
		t.Fatalf("DecideApproval = %v", err)
	}
	if err := s.DecideApproval(ctx, later.ID, approval.Denied, "fac_1", "push", 2, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DecideApproval(decided) = %v, want ErrNotFound", err)
	}
	got, _ = s.ApprovalByID(ctx, later.ID)
	if got.Status != approval.Approved || !got.DecidedAt.Equal(at) || got.FactorID != "fac_1" || got.FactorKind != "push" || got.AAL != 2 {
		t.Errorf("decided approval = %s at %v by %s/%s aal %d", got.Status, got.DecidedAt, got.FactorKind, got.FactorID, got.AAL)
	}
	if p, _ := s.PendingApprovals(ctx, u.ID, at); len(p) != 1 || p[0].ID != a.ID {
		t.Errorf("PendingApprovals after a decision = %v, want only the undecided one", ids(p))
	}

	// Purged once older than old, whatever the state.
	if n, err := s.PurgeExpired(ctx, T0, T0.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want the first approval gone", n, err)
	}
	if _, err := s.ApprovalByID(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ApprovalByID(purged) = %v, want ErrNotFound", err)
	}
}

// testApprovalUseOnce: of many concurrent uses of one approved approval,
// exactly one succeeds; a pending or denied one cannot be used.
func testApprovalUseOnce(t *testing.T, s store.Store) {
	u := NewUser(t, s, "alice")
	a := NewApproval("apr_1", u.ID, "acc-1", T0)
	d := NewApproval("apr_2", u.ID, "acc-1", T0)
	for _, x := range []*approval.Approval{a, d} {
		if err := s.CreateApproval(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UseApproval(ctx, a.ID, T0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseApproval(pending) = %v, want ErrNotFound", err)
	}
	if err := s.DecideApproval(ctx, d.ID, approval.Denied, "fac_1", "push", 2, T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseApproval(ctx, d.ID, T0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseApproval(denied) = %v, want ErrNotFound", err)
	}
	if err := s.DecideApproval(ctx, a.ID, approval.Approved, "fac_1", "push", 2, T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx store.Tx) error { return tx.UseApproval(ctx, a.ID, T0.Add(2*time.Minute)) })
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("UseApproval = %v, want nil or ErrNotFound", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses succeeded, want 1", ok, n)
	}
	if got, _ := s.ApprovalByID(ctx, a.ID); got.Status != approval.Used || !got.UsedAt.Equal(T0.Add(2*time.Minute)) {
		t.Errorf("used approval: %s at %v, want used at %v", got.Status, got.UsedAt, T0.Add(2*time.Minute))
	}
}
