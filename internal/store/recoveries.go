package store

import (
	"context"
	"time"

	"gatehouse/internal/recovery"
)

// Recoveries persists lost-factor recovery requests ([recovery.Request]).
// A user has at most one pending request: a second CreateRecovery for a
// user with one pending is ErrConflict, so a second request can neither
// restart nor shorten the clock.
type Recoveries interface {
	CreateRecovery(ctx context.Context, r *recovery.Request) error
	// RecoveryByID returns a request; ErrNotFound when there is none.
	RecoveryByID(ctx context.Context, id string) (*recovery.Request, error)
	// PendingRecovery returns the user's pending request; ErrNotFound
	// when there is none.
	PendingRecovery(ctx context.Context, userID string) (*recovery.Request, error)
	// ListRecoveries lists every request, newest first.
	ListRecoveries(ctx context.Context) ([]*recovery.Request, error)
	// EndRecovery moves a pending request to status (cancelled or
	// completed) at now, by by; ErrNotFound when it is not pending.
	EndRecovery(ctx context.Context, id string, status recovery.Status, by string, now time.Time) error
	// DueRecoveryNotices lists up to limit pending requests whose next
	// reminder is due at now, oldest due first.
	DueRecoveryNotices(ctx context.Context, now time.Time, limit int) ([]*recovery.Request, error)
	// AdvanceRecoveryNotice moves a pending request's next reminder from
	// was to next (zero: none), only if it still is was: of two
	// instances sending the same reminder, one gets ErrNotFound.
	AdvanceRecoveryNotice(ctx context.Context, id string, was, next time.Time) error
	// SetRecoveryShortening stores the request's shortening fields
	// (ShortenFirst, ShortenReason, ShortenedBy) and its CompletesAt and
	// AccountAt, if it is pending; ErrNotFound otherwise.
	SetRecoveryShortening(ctx context.Context, r *recovery.Request) error
}

// Link purposes of [FreezeLinks.CreateLink]: a link's token does one
// thing only.
const (
	LinkFreeze         = "freeze"
	LinkRecoveryCancel = "recovery_cancel"
	LinkPasswordReset  = "password_reset"
)
