package store

import (
	"context"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/session"
)

// Factors persists second factors, recovery codes, login flows, push
// requests and device approvals.
type Factors interface {
	CreateFactor(ctx context.Context, f *factor.Factor) error
	FactorByID(ctx context.Context, id string) (*factor.Factor, error)
	// FactorByCredentialID finds a WebAuthn credential or a push key.
	FactorByCredentialID(ctx context.Context, credentialID []byte) (*factor.Factor, error)
	// FactorsOfUser lists a user's factors, oldest first.
	FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error)
	// UpdateFactor stores the mutable fields of f (name, status, secret,
	// data, device-bound, flag, confirmed and last-used times).
	UpdateFactor(ctx context.Context, f *factor.Factor) error
	// AdvanceTOTP records step as the factor's last accepted TOTP step, only
	// if it is later than the stored one; ErrConflict otherwise, so two
	// racing logins cannot both use one code.
	AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error

	// SetRecoveryCodes replaces the user's recovery codes with hashes.
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error
	RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error)
	// UseRecoveryCode marks one code used; ErrNotFound when it was used already.
	UseRecoveryCode(ctx context.Context, userID string, index int, now time.Time) error

	CreateFlow(ctx context.Context, f *session.Flow) error
	FlowByID(ctx context.Context, id string) (*session.Flow, error)
	// UpdateFlow stores f if the stored version is f.Version, and raises
	// f.Version; ErrConflict when another update came first.
	UpdateFlow(ctx context.Context, f *session.Flow) error

	CreatePushRequest(ctx context.Context, p *factor.PushRequest) error
	PushRequestByID(ctx context.Context, id string) (*factor.PushRequest, error)
	// PendingPushRequests lists a user's unanswered, unexpired requests.
	PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*factor.PushRequest, error)
	// AnswerPushRequest records the outcome of a pending request;
	// ErrNotFound when it is not pending any more.
	AnswerPushRequest(ctx context.Context, id, outcome string, now time.Time) error
	// PushRequestsSince lists a user's requests created at or after since, newest first.
	PushRequestsSince(ctx context.Context, userID string, since time.Time) ([]*factor.PushRequest, error)

	// CreatePushEnrolment stores a one-time phone enrolment code's hash.
	CreatePushEnrolment(ctx context.Context, userID string, codeHash []byte, expires time.Time) error
	// RedeemPushEnrolment spends a code and returns its user; ErrNotFound
	// when unknown, used or expired.
	RedeemPushEnrolment(ctx context.Context, codeHash []byte, now time.Time) (userID string, err error)

	// CreateDeviceApproval stores the hash of a single-use e-mailed link token.
	CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID, userID string, expires time.Time) error
	// UseDeviceApproval spends a link token; ErrNotFound when unknown, used or expired.
	UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (deviceID, userID string, err error)

	// PurgeExpired deletes what can no longer be used: login flows,
	// enrolment codes and approval links that expired before expired; and
	// what is too old to matter: push requests created, and throttle
	// counters last failed, before old (which must lie beyond every
	// throttle rule's forget window and the posture report's look-back).
	// It returns how many rows went.
	PurgeExpired(ctx context.Context, expired, old time.Time) (int64, error)
}
