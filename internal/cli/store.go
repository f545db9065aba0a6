package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"gatehouse/internal/config"
	"gatehouse/internal/emit"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/sqlite"
)

// storeFlags are the flags every verb that touches the store shares, so
// admin verbs work on the same store as serve.
type storeFlags struct {
	config, data, databaseURL string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&f.data, "data", "", "SQLite data `dir`ectory (default ./data)")
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL `url` (postgres://…) instead of SQLite")
}

// load reads the configuration and applies the flags over it.
func (f *storeFlags) load(e *env) (*config.Config, error) {
	c, err := config.Load(f.config, e.getenv)
	if err != nil {
		return nil, err
	}
	if f.data != "" {
		c.Data = f.data
	}
	if f.databaseURL != "" {
		c.DatabaseURL = f.databaseURL
	}
	return c, nil
}

// openStore opens the store the configuration names and runs migrations.
//
// Every verb gets the store through here, so an audit event written by
// the server or by an operator's command tells the same receivers (see
// [derivers]).
func openStore(ctx context.Context, c *config.Config) (store.Store, error) {
	ds, err := derivers(c)
	if err != nil {
		return nil, err
	}
	if c.DatabaseURL != "" {
		db, err := postgres.Open(ctx, c.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w (check --database-url and that the server is running)", err)
		}
		return emit.Wrap(db, ds...), nil
	}
	db, err := sqlite.Open(ctx, c.Data)
	if err != nil {
		return nil, fmt.Errorf("open SQLite in %s: %w (check --data)", c.Data, err)
	}
	return emit.Wrap(db, ds...), nil
}

// derivers lists what each audit event causes to be sent, in the event's
// transaction: notices to the user, signals to downstream services.
func derivers(c *config.Config) ([]emit.Deriver, error) {
	var ds []emit.Deriver
	if len(c.SSF.Receivers) > 0 {
		ds = append(ds, transmitter(c))
	}
	n, err := noticeDeriver(c)
	if err != nil {
		return nil, err
	}
	ds = append(ds, n)
	return ds, nil
}

// openFromFlags is load, Validate and openStore in one, for admin verbs.
func (f *storeFlags) open(ctx context.Context, e *env) (*config.Config, store.Store, error) {
	c, err := f.load(e)
	if err != nil {
		return nil, nil, err
	}
	if err := c.ValidateAdmin(); err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, c)
	return c, st, err
}

// newFlagSet returns a verb's flag set, writing usage to stderr.
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: gatehouse %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args for a verb that takes no positional argument.
func parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	return nil
}

// parseWithID parses args for a verb that takes one id, which may come
// before, between or after the flags ("key rotate ID --overlap 1h");
// usage is the error when there is not exactly one.
func parseWithID(fs *flag.FlagSet, args []string, usage string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageError("%s", usage)
	}
	return pos[0], nil
}

// parseArgs parses fs's flags wherever they stand among args and returns
// the positional arguments in order, mapping flag errors to usage errors.
// Every verb parses through it, so that "session revoke ID --data DIR" and
// "session revoke --data DIR ID" mean the same, as for every verb. A "--"
// ends the flags: what follows it is positional, dashes and all.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, &ExitError{Code: 0}
			}
			return nil, usageError("%v", err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func newLogger(w io.Writer, c *config.Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
