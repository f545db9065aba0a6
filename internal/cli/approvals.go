package cli

import (
	"log/slog"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/authz"
	"gatehouse/internal/config"
	"gatehouse/internal/login"
	"gatehouse/internal/store"
)

// buildApprovals wires transaction-bound approvals. The token signing key
// is derived from the seed key, so every instance on one store signs and
// accepts the same tokens without another secret to distribute.
func buildApprovals(c *config.Config, st store.Store, factors login.Factors, now func() time.Time, log *slog.Logger) (*authz.Approvals, error) {
	seed, err := seedKey(c, log)
	if err != nil {
		return nil, err
	}
	signer, err := approval.NewSigner(seed, c.PublicOrigin)
	if err != nil {
		return nil, err
	}
	return authz.NewApprovals(authz.ApprovalsConfig{Store: st, Signer: signer, Lifetime: c.Approvals.Lifetime,
		TokenLifetime: c.Approvals.TokenLifetime, MaxPending: c.Approvals.MaxPending, WebAuthn: factors.WebAuthn,
		Shared: sharedOnce(c, st), OneInstance: c.DatabaseURL == "", Log: log, Now: now}), nil
}
