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
	verbs["store"] = verb{summary: "copy a SQLite store into an empty PostgreSQL database", run: subverbs("store", map[string]func(context.Context, *env, []string) error{
		"copy": runStoreCopy,
	})}
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
