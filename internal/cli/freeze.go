package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/freeze"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

func init() {
	verbs["freeze"] = verb{summary: "freeze a user: end every session, suspend every API key (\"This wasn't me\")", run: runFreeze}
	verbs["unfreeze"] = verb{summary: "lift a user's freeze: restore the suspended keys, end every session again", run: runUnfreeze}
}

// newFreeze is the freeze service over st, as serve and the admin verbs
// share it; sessions and keys are the server's caches (nil at the
// command line, where the server hears of the change through the store).
func newFreeze(c *config.Config, st store.Store, h *password.Hasher) *freeze.Service {
	return &freeze.Service{Store: st, Hasher: h, Rules: c.Password.Rules, StepUpWindow: c.Factors.StepUpWindow, Cooldown: cooldownPolicy(c)}
}

// freezeTarget parses the flags of freeze and unfreeze, opens the store
// and returns the freeze service on it and the user named.
func freezeTarget(ctx context.Context, e *env, name string, args []string) (*freeze.Service, *user.User, func() error, error) {
	fs := newFlagSet(e, name, name+" --user U")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "the `username` to "+name)
	if err := parse(fs, args); err != nil {
		return nil, nil, nil, err
	}
	if *username == "" {
		return nil, nil, nil, usageError("%s needs --user", name)
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := userByName(ctx, st, *username)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return newFreeze(c, st, nil), u, st.Close, nil
}

func runFreeze(ctx context.Context, e *env, args []string) error {
	svc, u, done, err := freezeTarget(ctx, e, "freeze", args)
	if err != nil {
		return err
	}
	defer done()
	f, err := svc.Freeze(ctx, session.Actor{}, u.ID)
	if err != nil {
		return err
	}
	if f.Already {
		fmt.Fprintf(e.stdout, "user %s was frozen already (since %s); %d sessions ended\n", u.Username, f.At.Format(time.RFC3339), len(f.Sessions))
		return nil
	}
	fmt.Fprintf(e.stdout, "user %s frozen: %d sessions ended, %d API keys suspended\n", u.Username, len(f.Sessions), len(f.Keys))
	return nil
}

func runUnfreeze(ctx context.Context, e *env, args []string) error {
	svc, u, done, err := freezeTarget(ctx, e, "unfreeze", args)
	if err != nil {
		return err
	}
	defer done()
	out, err := svc.Unfreeze(ctx, session.Actor{}, u.ID, "")
	if errors.Is(err, freeze.ErrNotFrozen) {
		return fmt.Errorf("user %s is not frozen", u.Username)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s unfrozen: %d API keys restored, %d sessions ended\n", u.Username, len(out.Keys), len(out.Sessions))
	return nil
}
