package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/config"
	"gatehouse/internal/login"
	"gatehouse/internal/recovery"
	"gatehouse/internal/store"
)

func init() {
	verbs["recovery"] = verb{summary: "start, list and cancel lost-factor recoveries (they wait; no command ends a wait early)", run: subverbs("recovery", map[string]func(context.Context, *env, []string) error{
		"start":  runRecoveryStart,
		"list":   runRecoveryList,
		"cancel": runRecoveryCancel,
	})}
}

// recoveryService is the login service as the recovery verbs need it:
// the store and the configured waits. It sets no factor and no password.
func recoveryService(c *config.Config, st store.Store) *login.Service {
	return &login.Service{Store: st, Recovery: loginRecovery(c)}
}

func runRecoveryStart(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "recovery start", "recovery start --user U --reason R")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "the `username` who cannot start the recovery themselves")
	reason := fs.String("reason", "", "why (`text`, audited and told to the user)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *username == "" || *reason == "" {
		return usageError("recovery start needs --user and --reason")
	}
	if !clienttext.Printable(*reason, 200) {
		return usageError("--reason: 1 to 200 printable characters")
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := userByName(ctx, st, *username)
	if err != nil {
		return err
	}
	r, err := recoveryService(c, st).StartRecoveryFor(ctx, u.ID, *reason)
	if err != nil {
		return err
	}
	if r.StartedBy != "admin" || r.Reason != *reason {
		fmt.Fprintf(e.stdout, "user %s has a recovery pending already: %s, completes at %s (its clock stands)\n", u.Username, r.ID, r.CompletesAt.UTC().Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(e.stdout, "recovery %s started for %s: it completes at %s, account management opens at %s; the user is told on every channel\n",
		r.ID, u.Username, r.CompletesAt.UTC().Format(time.RFC3339), r.AccountAt.UTC().Format(time.RFC3339))
	return nil
}

// recoveryRow is a request as recovery list --json prints it.
type recoveryRow struct {
	ID          string     `json:"id"`
	User        string     `json:"user"`
	Status      string     `json:"status"`
	StartedBy   string     `json:"started_by"`
	Reason      string     `json:"reason,omitempty"`
	IP          string     `json:"ip,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletesAt time.Time  `json:"completes_at"`
	AccountAt   time.Time  `json:"account_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndedBy     string     `json:"ended_by,omitempty"`
	ShortenedBy string     `json:"shortened_by,omitempty"`
}

func runRecoveryList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "recovery list", "recovery list [--json]")
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON, one array of requests")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	rs, err := recoveryService(c, st).Recoveries(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	rows := []recoveryRow{}
	for _, r := range rs {
		if _, ok := names[r.UserID]; !ok {
			names[r.UserID] = r.UserID
			if u, err := st.UserByID(ctx, r.UserID); err == nil {
				names[r.UserID] = u.Username
			}
		}
		row := recoveryRow{ID: r.ID, User: names[r.UserID], Status: string(r.Status), StartedBy: r.StartedBy, Reason: r.Reason, IP: r.IP,
			CreatedAt: r.CreatedAt.UTC(), CompletesAt: r.CompletesAt.UTC(), AccountAt: r.AccountAt.UTC(), EndedBy: r.EndedBy, ShortenedBy: r.ShortenedBy}
		if !r.EndedAt.IsZero() {
			t := r.EndedAt.UTC()
			row.EndedAt = &t
		}
		if row.StartedBy == r.UserID {
			row.StartedBy = "user"
		}
		rows = append(rows, row)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tSTATUS\tSTARTED BY\tCREATED\tCOMPLETES\tACCOUNT OPENS\tENDED BY\tREASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, r.Status, r.StartedBy, r.CreatedAt.Format(time.RFC3339),
			r.CompletesAt.Format(time.RFC3339), r.AccountAt.Format(time.RFC3339), dash(r.EndedBy), dash(r.Reason))
	}
	return tw.Flush()
}

func runRecoveryCancel(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "recovery cancel", "recovery cancel ID")
	var sf storeFlags
	sf.register(fs)
	id, err := parseWithID(fs, args, "recovery cancel takes one request id (see gatehouse recovery list)")
	if err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := recoveryService(c, st).CancelRecovery(ctx, id, "admin")
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no recovery request %q (gatehouse recovery list shows them)", id)
	}
	if err != nil {
		return err
	}
	if r.EndedBy != "admin" || r.Status != recovery.Cancelled {
		fmt.Fprintf(e.stdout, "recovery %s was %s already; nothing changed\n", r.ID, r.Status)
		return nil
	}
	fmt.Fprintf(e.stdout, "recovery %s cancelled; the user is told\n", r.ID)
	return nil
}
