package store

import (
	"context"
	"gatehouse/internal/factor/push"
	"time"
)

// Pushes persists push requests sent to a user's phone and their answers.
type Pushes interface {
	CreatePushRequest(ctx context.Context, p *push.Request) error
	PushRequestByID(ctx context.Context, id string) (*push.Request, error)
	// PendingPushRequests lists a user's unanswered, unexpired requests.
	PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*push.Request, error)
	// AnswerPushRequest records the outcome of a pending request;
	// ErrNotFound when it is not pending any more.
	AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error
	// PushRequestsSince lists a user's requests created at or after since, newest first.
	PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*push.Request, error)
}

// Enrolments persists the one-time codes that enrol a phone as a push
// authenticator, as hashes only.
type Enrolments interface {
	// CreatePushEnrolment stores a one-time phone enrolment code's hash.
	CreatePushEnrolment(ctx context.Context, userID string, codeHash []byte, expires time.Time) error
	// RedeemPushEnrolment spends a code and returns its user; ErrNotFound
	// when unknown, used or expired.
	RedeemPushEnrolment(ctx context.Context, codeHash []byte, now time.Time) (userID string, err error)
}
