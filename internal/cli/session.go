package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/checkpoint"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
)

func init() {
	verbs["session"] = verb{summary: "list and revoke sessions", run: subverbs("session", map[string]func(context.Context, *env, []string) error{
		"list":   runSessionList,
		"revoke": runSessionRevoke,
	})}
	verbs["audit"] = verb{summary: "verify the audit chain, write signed checkpoints of its head", run: subverbs("audit", map[string]func(context.Context, *env, []string) error{
		"verify":     runAuditVerify,
		"checkpoint": runAuditCheckpoint,
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
	fs := newFlagSet(e, "audit verify", "audit verify [--checkpoint FILE]")
	var sf storeFlags
	sf.register(fs)
	cpFile := fs.String("checkpoint", "", "also check the chain against the signed checkpoints in this `file` (audit checkpoint, audit.checkpoints): a tail removed or a history rewritten fails")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if *cpFile == "" {
		n, err := audit.Verify(st.AuditEvents(ctx))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "audit chain intact: %d events\n", n)
		return nil
	}
	keys, err := checkpointKeys(c)
	if err != nil {
		return err
	}
	f, err := os.Open(*cpFile)
	if err != nil {
		return fmt.Errorf("read the checkpoints: %w", err)
	}
	defer f.Close()
	cps, err := checkpoint.ParseAll(f, keys)
	if err != nil {
		return fmt.Errorf("%s: %w", *cpFile, err)
	}
	if len(cps) == 0 {
		return fmt.Errorf("%s holds no checkpoint", *cpFile)
	}
	n, err := checkpoint.Verify(st.AuditEvents(ctx), cps)
	if err != nil {
		return err
	}
	last := cps[len(cps)-1]
	noun := "checkpoints"
	if len(cps) == 1 {
		noun = "checkpoint"
	}
	fmt.Fprintf(e.stdout, "audit chain intact: %d events, consistent with %d %s (the last: event %d at %s)\n", n, len(cps), noun, last.Seq, last.Time.Format(time.RFC3339))
	return nil
}
