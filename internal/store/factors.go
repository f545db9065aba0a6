package store

import (
	"context"
	"time"

	"gatehouse/internal/factor"
)

// Factors persists second factors: TOTP seeds (sealed), WebAuthn
// credentials, phones for SMS and push keys.
type Factors interface {
	CreateFactor(ctx context.Context, f *factor.Factor) error
	FactorByID(ctx context.Context, id string) (*factor.Factor, error)
	// FactorByCredentialID finds a WebAuthn credential or a push key.
	FactorByCredentialID(ctx context.Context, credentialID []byte) (*factor.Factor, error)
	// FactorsOfUser lists a user's factors, oldest first.
	FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error)
	// ListFactors lists every user's factors, by user then oldest first:
	// a playbook planning over every user reads them in one query.
	ListFactors(ctx context.Context) ([]*factor.Factor, error)
	// UpdateFactor stores the mutable fields of f (name, status, secret,
	// data, device-bound, flag, confirmed and last-used times).
	UpdateFactor(ctx context.Context, f *factor.Factor) error
	// AdvanceTOTP records step as the factor's last accepted TOTP step, only
	// if it is later than the stored one; ErrConflict otherwise, so two
	// racing logins cannot both use one code.
	AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error
}

// RecoveryCodes persists a user's one-time recovery codes, as hashes
// only: a code is shown once, when it is generated.
type RecoveryCodes interface {
	// SetRecoveryCodes replaces the user's recovery codes with hashes.
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error
	RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error)
	// UseRecoveryCode marks one code used; ErrNotFound when it was used already.
	UseRecoveryCode(ctx context.Context, userID string, index int, now time.Time) error
}
