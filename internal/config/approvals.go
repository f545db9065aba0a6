package config

import "time"

// Approvals configures transaction-bound approvals (POST /v1/approvals).
// Zero values mean the defaults of package approval. The tokens are
// signed with a key derived from factors.seed_key, which every instance
// on one store shares.
type Approvals struct {
	// Lifetime is how long an approval waits for its owner (default 5m).
	Lifetime time.Duration `yaml:"lifetime"`
	// TokenLifetime is how long an approval token lives after the
	// approval (default 2m).
	TokenLifetime time.Duration `yaml:"token_lifetime"`
	// MaxPending caps a user's approvals waiting at once (default 5).
	MaxPending int `yaml:"max_pending"`
}

func (a Approvals) problems() []string {
	var out []string
	if a.Lifetime < 0 || a.Lifetime > 30*time.Minute {
		out = append(out, "approvals.lifetime: from 0 (the default, 5m) to 30m")
	}
	if a.TokenLifetime < 0 || a.TokenLifetime > 10*time.Minute {
		out = append(out, "approvals.token_lifetime: from 0 (the default, 2m) to 10m")
	}
	if a.MaxPending < 0 || a.MaxPending > 100 {
		out = append(out, "approvals.max_pending: from 0 (the default, 5) to 100")
	}
	return out
}
