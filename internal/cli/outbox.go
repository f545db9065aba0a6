package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

func init() {
	verbs["outbox"] = verb{summary: "list outbox messages and retry parked ones", run: subverbs("outbox", map[string]func(context.Context, *env, []string) error{
		"list":  runOutboxList,
		"retry": runOutboxRetry,
	})}
}

func runOutboxList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "outbox list", "outbox list [--failed] [--user U] [--limit N]")
	var sf storeFlags
	sf.register(fs)
	failed := fs.Bool("failed", false, "only the messages parked as failed (the dead letter)")
	username := fs.String("user", "", "only this `username`'s messages")
	limit := fs.Int("limit", 100, "at most `N` messages, newest first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > 10000 {
		return usageError("--limit: want 1 to 10000")
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	f := store.MessageFilter{Limit: *limit}
	if *failed {
		f.State = store.MessageFailed
	}
	if *username != "" {
		u, err := userByName(ctx, st, *username)
		if err != nil {
			return err
		}
		f.UserID = u.ID
	}
	ms, err := st.ListMessages(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCHANNEL\tEVENT\tUSER\tDESTINATION\tATTEMPTS\tCREATED\tNEXT OR DELIVERED\tLAST ERROR")
	for _, m := range ms {
		when := m.NextAttemptAt
		if m.State == store.MessageDelivered {
			when = m.DeliveredAt
		}
		at := "-"
		if m.State != store.MessageFailed && !when.IsZero() {
			at = when.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.State, m.Channel, m.Event, dash(m.UserID), dash(destination(m.Destination)), m.Attempts,
			m.CreatedAt.UTC().Format(time.RFC3339), at, dash(m.LastError))
	}
	return tw.Flush()
}

// destination shows a message's receiver without a URL's query, which
// may hold a token of the receiver's.
func destination(d string) string {
	if i := strings.IndexAny(d, "?#"); i >= 0 {
		return d[:i] + "?…"
	}
	return d
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runOutboxRetry(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "outbox retry", "outbox retry ID")
	var sf storeFlags
	sf.register(fs)
	id, err := parseWithID(fs, args, "outbox retry takes one message id (see gatehouse outbox list --failed)")
	if err != nil {
		return err
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	err = st.InTx(ctx, func(tx store.Tx) error {
		m, err := tx.MessageByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.RetryMessage(ctx, id, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.OutboxRetried, UserID: m.UserID, Actor: "admin",
			Detail: map[string]string{"message": id, "channel": m.Channel, "event": m.Event}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no parked message %q (gatehouse outbox list --failed shows them)", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "message %s pending again; the next delivery attempt is due now\n", id)
	return nil
}
