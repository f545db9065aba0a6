package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/posturegate"
	"gatehouse/internal/store"
)

// onOff is a flag that is either unset, on or off.
type onOff struct {
	set, on bool
}

func (f *onOff) String() string {
	if !f.set {
		return ""
	}
	if f.on {
		return "on"
	}
	return "off"
}

func (f *onOff) Set(s string) error {
	switch s {
	case "on":
		f.set, f.on = true, true
	case "off":
		f.set, f.on = true, false
	default:
		return fmt.Errorf("want on or off")
	}
	return nil
}

// value is the flag as a partial update: nil when unset.
func (f *onOff) value() *bool {
	if !f.set {
		return nil
	}
	v := f.on
	return &v
}

// maxOverride bounds an override reason, as the API does.
const maxOverride = 500

// runAccountPermissions is `gatehouse account permissions`: the operator
// changes an account's trading permissions for one of its owners. Turning
// options, margin, futures or withdrawals on is gated on that owner's
// posture, exactly as PATCH /v1/accounts/{account}/permissions is;
// --override passes the gate, and the override is audited with its reason.
func runAccountPermissions(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "account permissions", "account permissions --id ID [--options on|off] [--margin on|off] [--futures on|off] [--withdrawals on|off] --user U [--override REASON]")
	var sf storeFlags
	sf.register(fs)
	id := fs.String("id", "", "account `id`")
	var options, margin, futures, withdrawals onOff
	fs.Var(&options, "options", "options trading `on|off`")
	fs.Var(&margin, "margin", "margin `on|off`")
	fs.Var(&futures, "futures", "futures trading `on|off`")
	fs.Var(&withdrawals, "withdrawals", "withdrawals `on|off`")
	username := fs.String("user", "", "the owner acted for, whose posture gates the change (`username`)")
	override := fs.String("override", "", "pass the posture gate, for this `reason` (audited)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("--id: the account is required")
	}
	if !options.set && !margin.set && !futures.set && !withdrawals.set {
		return usageError("set at least one of --options, --margin, --futures and --withdrawals to on or off")
	}
	if *username == "" {
		return usageError("--user: name the owner you act for; the gate judges their posture")
	}
	overridden := false
	fs.Visit(func(f *flag.Flag) { overridden = overridden || f.Name == "override" })
	reason := strings.TrimSpace(*override)
	if overridden && (reason == "" || len(reason) > maxOverride || strings.ContainsFunc(reason, unicode.IsControl)) {
		return usageError("--override: 1 to %d printable characters saying why", maxOverride)
	}
	c, st, u, err := openUser(ctx, e, &sf, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := posturegate.ChangePermissions(ctx, st, posturegate.Change{
		Account: *id, Options: options.value(), Margin: margin.value(), Futures: futures.value(), Withdrawals: withdrawals.value(),
		For: u.ID, Actor: "admin", Override: reason,
	}, posturegate.Platform{Entities: c.Entities, SignInNotices: c.SignInNotices(), FactorRule: c.Throttle.Factor}, time.Now().UTC())
	var ge *posturegate.GateError
	switch {
	case errors.As(err, &ge):
		n := fmt.Sprintf("%d high findings", len(ge.Findings))
		if len(ge.Findings) == 1 {
			n = "1 high finding"
		}
		fmt.Fprintf(e.stderr, "%s's security posture has %s open:\n", u.Username, n)
		for _, f := range ge.Findings {
			fmt.Fprintf(e.stderr, "  %s (%s)\n    next step: %s\n", f.ID, f.FailureMode, f.NextStep)
		}
		return fmt.Errorf("turning on %s for %s refused: fix the findings first, or pass the gate with --override REASON (audited)",
			strings.Join(ge.TurningOn, ", "), *id)
	case errors.Is(err, posturegate.ErrNotOwner):
		return fmt.Errorf("%s is not an owner of %s", u.Username, *id)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no account %q", *id)
	case err != nil:
		return err
	}
	onoff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	p := res.After
	note := ""
	if !res.Changed() {
		note = " (unchanged)"
	}
	fmt.Fprintf(e.stdout, "account %s: options %s, margin %s, futures %s, withdrawals %s%s\n",
		*id, onoff(p.Options), onoff(p.Margin), onoff(p.Futures), onoff(p.Withdrawals), note)
	if len(res.Overridden) > 0 {
		ids := make([]string, len(res.Overridden))
		for i, f := range res.Overridden {
			ids[i] = f.ID
		}
		fmt.Fprintf(e.stdout, "posture gate overridden (audited): %s\n", strings.Join(ids, ", "))
	}
	return nil
}
