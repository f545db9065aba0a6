package cli

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/config"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/session"
)

func init() {
	verbs["cooldown"] = verb{summary: "lift a user's cool-down early, with an audited reason (cooldown lift --user U --reason R)", run: runCooldown}
}

// cooldownPolicy is the cool-down the flows start, from the configuration.
func cooldownPolicy(c *config.Config) *cooldown.Policy {
	return &cooldown.Policy{Length: c.Cooldown.Length, Profiles: c.Cooldown.Profiles}
}

func runCooldown(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "lift" {
		return usageError("cooldown needs a subcommand: lift --user U --reason R")
	}
	fs := newFlagSet(e, "cooldown lift", "cooldown lift --user U --reason R")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "the `username` whose cool-down ends")
	reason := fs.String("reason", "", "why it ends early, for the audit trail (required)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *username == "" || *reason == "" {
		return usageError("cooldown lift needs --user and --reason")
	}
	_, st, u, err := openUser(ctx, e, &sf, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &cooldown.Service{Store: st}
	if err := svc.Lift(ctx, session.Actor{}, u.ID, *reason); errors.Is(err, cooldown.ErrNone) {
		return fmt.Errorf("user %s has no cool-down running", u.Username)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "cool-down of user %s lifted\n", u.Username)
	return nil
}
