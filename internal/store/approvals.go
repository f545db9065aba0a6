package store

import (
	"context"
	"time"

	"gatehouse/internal/approval"
)

// Approvals persists transaction-bound approvals ([approval.Approval]).
//
// An approval row is also the single-use record of its tokens: a token's
// jti is the approval id, and [Approvals.UseApproval] moves the row from
// approved to used once, in the shared store, so a token is accepted by
// one instance once.
type Approvals interface {
	CreateApproval(ctx context.Context, a *approval.Approval) error
	// ApprovalByID returns an approval; ErrNotFound when there is none.
	ApprovalByID(ctx context.Context, id string) (*approval.Approval, error)
	// PendingApprovals lists a user's pending approvals not expired at
	// now, oldest first.
	PendingApprovals(ctx context.Context, userID string, now time.Time) ([]*approval.Approval, error)
	// DecideApproval records the owner's answer (approved or denied) with
	// the factor that gave it, if the approval is pending and not expired
	// at now; ErrNotFound otherwise.
	DecideApproval(ctx context.Context, id string, status approval.Status, factorID, factorKind string, aal int, now time.Time) error
	// UseApproval moves an approved approval to used at now; ErrNotFound
	// when it is not approved (used already, denied, unknown).
	UseApproval(ctx context.Context, id string, now time.Time) error
}
