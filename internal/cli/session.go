package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

func init() {
	verbs["session"] = verb{summary: "list and revoke sessions", run: subverbs("session", map[string]func(context.Context, *env, []string) error{
		"list":   runSessionList,
		"revoke": runSessionRevoke,
	})}
	verbs["audit"] = verb{summary: "verify the audit chain", run: subverbs("audit", map[string]func(context.Context, *env, []string) error{
		"verify": runAuditVerify,
	})}
}

func runSessionList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "session list", "session list [--user U]")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "only this `username`'s sessions")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	var list []*session.Session
	if *username != "" {
		u, err := userByName(ctx, st, *username)
		if err != nil {
			return err
		}
		list, err = st.SessionsOfUser(ctx, u.ID)
		if err != nil {
			return err
		}
	} else if list, err = st.ListSessions(ctx); err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tINTERFACE\tDEVICE\tIP\tASSURANCE\tCREATED\tLAST SEEN")
	for _, s := range list {
		if !s.Active(now) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.UserID, s.Door, s.DeviceName, s.IP, s.Assurance,
			s.CreatedAt.Format(time.RFC3339), s.LastSeenAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func runSessionRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "session revoke", "session revoke ID")
	var sf storeFlags
	sf.register(fs)
	id, err := parseWithID(fs, args, "session revoke takes one session id")
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
		s, err := tx.SessionByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.EndSession(ctx, id, now, session.EndRevoked); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.SessionEnded, UserID: s.UserID, Actor: "admin", Interface: string(s.Door),
			Detail: map[string]string{"session": id, "reason": session.EndRevoked}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no active session %q", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "session %s revoked\n", id)
	return nil
}

func runAuditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit verify", "audit verify")
	var sf storeFlags
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := audit.Verify(st.AuditEvents(ctx))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "audit chain intact: %d events\n", n)
	return nil
}
