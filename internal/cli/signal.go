package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"gatehouse/internal/playbook"
	"gatehouse/internal/signal"
	"gatehouse/internal/user"
)

func init() {
	verbs["signal"] = verb{summary: "record security signals and run their playbooks (add, apply [--dry-run], list, close)", run: subverbs("signal", map[string]func(context.Context, *env, []string) error{
		"add":   runSignalAdd,
		"apply": runSignalApply,
		"list":  runSignalList,
		"close": runSignalClose,
	})}
}

func runSignalAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "signal add", "signal add --title T --kind vulnerability|phishing|policy|other --severity low|medium|high [--door D]… [--profile P]… [--link URL] [--step STEP]…")
	var sf storeFlags
	sf.register(fs)
	title := fs.String("title", "", "the signal's `title`, as users are told it")
	kind := fs.String("kind", "", "vulnerability, phishing, policy or other")
	severity := fs.String("severity", "", "low, medium or high")
	link := fs.String("link", "", "the advisory's public `URL`")
	var doors, profiles, steps listFlag
	fs.Var(&doors, "door", "a `door` in scope: web, desktop, mobile or api (repeatable; all when none)")
	fs.Var(&profiles, "profile", "a trader `profile` in scope (repeatable; all when none)")
	fs.Var(&steps, "step", "a playbook `step`: end-sessions[:DATE], reauth:aal2|aal3, rotate-keys:Nd, require-phishing-resistant:DATE, forbid-sms, route-aal:HOST/PATH=N (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sig := &signal.Signal{Title: *title, Kind: signal.Kind(*kind), Severity: signal.Severity(*severity), Doors: doors, Link: *link}
	for _, p := range profiles {
		sig.Profiles = append(sig.Profiles, user.Profile(p))
	}
	var errs []error
	for _, s := range steps {
		st, err := signal.ParseStep(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sig.Steps = append(sig.Steps, st)
	}
	if err := errors.Join(append(errs, sig.Validate())...); err != nil {
		return usageError("%v", err)
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	out, err := (&playbook.Service{Store: st}).Add(ctx, sig, "admin")
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, out.ID)
	return nil
}

func runSignalApply(ctx context.Context, e *env, args []string) error {
	var dry, asJSON *bool
	id, svc, done, err := signalByID(ctx, e, "apply", "signal apply ID [--dry-run] [--json]", args, func(fs *flag.FlagSet) {
		dry = fs.Bool("dry-run", false, "list what applying would do, and do nothing")
		asJSON = fs.Bool("json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer done()
	var p *playbook.Plan
	if *dry {
		p, err = svc.DryRun(ctx, id)
	} else {
		p, err = svc.Apply(ctx, id, "admin")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e, p.JSON(*dry))
	}
	verb := "applied"
	if *dry {
		verb = "dry run"
	}
	n := p.Count()
	fmt.Fprintf(e.stdout, "signal %s %s: %d users; %d sessions ended, %d keys marked, %d keys suspended, %d users told\n", p.Signal.ID, verb,
		n["users"], n[signal.OpEndSession], n[signal.OpMarkKey], n[signal.OpSuspendKey], n[signal.OpTell])
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tOP\tUSER\tTARGET")
	for _, a := range p.Actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Signal.Steps[a.Step], a.Op, a.UserID, a.Target)
	}
	return tw.Flush()
}

func runSignalList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "signal list", "signal list [--json]")
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := (&playbook.Service{Store: st}).List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]playbook.SignalJSON, len(list))
		for i, s := range list {
			out[i] = playbook.JSON(s)
		}
		return printJSON(e, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tSEVERITY\tCREATED\tAPPLIED\tCLOSED\tTITLE")
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Kind, s.Severity, when(s.CreatedAt), when(s.AppliedAt), when(s.ClosedAt), s.Title)
	}
	return tw.Flush()
}

func runSignalClose(ctx context.Context, e *env, args []string) error {
	id, svc, done, err := signalByID(ctx, e, "close", "signal close ID", args, nil)
	if err != nil {
		return err
	}
	defer done()
	s, err := svc.Close(ctx, id, "admin")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signal %s closed; its temporary rules are lifted\n", s.ID)
	return nil
}

// signalByID parses the flags of a signal verb that takes one id (more
// flags from more, when not nil), opens the store and returns the id and
// the playbook service on the store, with the function that closes it.
func signalByID(ctx context.Context, e *env, name, usage string, args []string, more func(*flag.FlagSet)) (string, *playbook.Service, func() error, error) {
	fs := newFlagSet(e, "signal "+name, usage)
	var sf storeFlags
	sf.register(fs)
	if more != nil {
		more(fs)
	}
	id, err := parseWithID(fs, args, "signal "+name+" takes one signal id")
	if err != nil {
		return "", nil, nil, err
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return "", nil, nil, err
	}
	return id, &playbook.Service{Store: st}, st.Close, nil
}
