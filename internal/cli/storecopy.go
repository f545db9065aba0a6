package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/sqlite"
)

func init() {
	verbs["store"] = verb{summary: "back up a SQLite store while it serves (backup), or copy it into an empty PostgreSQL database (copy)", run: subverbs("store", map[string]func(context.Context, *env, []string) error{
		"copy":   runStoreCopy,
		"backup": runStoreBackup,
	})}
}

// runStoreBackup writes an online backup of the SQLite store in --data to
// a new file, then checks that the copy opens and its audit chain
// verifies. A PostgreSQL store is backed up with pg_dump (docs/operations.md).
func runStoreBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "store backup", "store backup [--data DIR] --to FILE")
	data := fs.String("data", "data", "SQLite data `dir`ectory to back up (as serve --data)")
	to := fs.String("to", "", "the backup's `file`, which must not exist")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usageError("store backup needs --to FILE (a new file)")
	}
	if _, err := os.Stat(filepath.Join(*data, "gatehouse.db")); err != nil {
		return fmt.Errorf("no SQLite store in %s (want %s): check --data; back PostgreSQL up with pg_dump", *data, filepath.Join(*data, "gatehouse.db"))
	}
	src, err := sqlite.Open(ctx, *data)
	if err != nil {
		return fmt.Errorf("open SQLite in %s: %w (check --data)", *data, err)
	}
	defer src.Close()
	if err := src.Backup(ctx, *to); err != nil {
		return err
	}
	cp, err := sqlite.OpenFile(ctx, *to)
	if err != nil {
		return fmt.Errorf("the backup %s does not open: %w", *to, err)
	}
	defer cp.Close()
	n, err := audit.Verify(cp.AuditEvents(ctx))
	if err != nil {
		return fmt.Errorf("the backup %s: its audit chain does not verify: %w", *to, err)
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s: audit chain intact, %d events; keep factors.seed_key apart from it\n", *data, *to, n)
	return nil
}

// runStoreCopy moves a deployment from one machine to several: every table
// of the SQLite store in --from, sealed factor seeds and the audit chain
// as they are, into the empty PostgreSQL database of --to, in one
// transaction; then the copied chain is verified. The servers on the
// SQLite store should be stopped first: the copy holds its write lock
// while it reads, so a running server waits, and whatever it writes after
// the copy stays behind.
func runStoreCopy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "store copy", "store copy --from DIR --to postgres://…")
	from := fs.String("from", "", "SQLite data `dir`ectory to copy (as serve --data)")
	to := fs.String("to", "", "PostgreSQL `url` of an empty database (as serve --database-url)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageError("store copy needs --from DIR and --to postgres://…")
	}
	// sqlite.Open would make an empty store where there is none, and an
	// empty copy would look like success.
	if _, err := os.Stat(filepath.Join(*from, "gatehouse.db")); err != nil {
		return fmt.Errorf("no SQLite store in %s (want %s): check --from", *from, filepath.Join(*from, "gatehouse.db"))
	}
	src, err := sqlite.Open(ctx, *from)
	if err != nil {
		return fmt.Errorf("open SQLite in %s: %w (check --from)", *from, err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return fmt.Errorf("open PostgreSQL: %w (check --to and that the server is running)", err)
	}
	defer dst.Close()

	var counts map[string]int64
	var head int64
	err = src.Snapshot(ctx, func(snap store.Snapshot) error {
		var err error
		if counts, err = dst.Load(ctx, snap); err != nil {
			return err
		}
		head = counts["audit"]
		return nil
	})
	if errors.Is(err, postgres.ErrNotEmpty) {
		return fmt.Errorf("%w: nothing was copied", err)
	}
	if err != nil {
		return err
	}
	n, err := audit.Verify(dst.AuditEvents(ctx))
	if err != nil {
		return fmt.Errorf("the copied audit chain does not verify: %w", err)
	}
	if n != head {
		return fmt.Errorf("the copied audit chain has %d events, the source %d", n, head)
	}
	names := make([]string, 0, len(counts))
	for t := range counts {
		names = append(names, t)
	}
	sort.Strings(names)
	var rows int64
	for _, t := range names {
		fmt.Fprintf(e.stdout, "%-18s %d\n", t, counts[t])
		rows += counts[t]
	}
	fmt.Fprintf(e.stdout, "copied %d rows in %d tables; audit chain intact: %d events\n", rows, len(names), n)
	return nil
}
