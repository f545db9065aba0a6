// Package cli is gatehouse's command line: it parses flags, wires the
// store, the flows and the server together, and runs one verb.
//
// It is the only package that wires; every other package receives its
// dependencies explicitly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// env is what a verb may touch of the outside world. Nothing in cli reads
// os.Args, os.Getenv or the standard streams directly, so tests can run
// verbs in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// verb is one subcommand. run receives the arguments after the verb's name.
type verb struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// verbs is the command table; each file of this package adds its verbs here.
var verbs = map[string]verb{}

// ExitError carries an exit status other than 1 out of [Run].
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by [Run] to a process exit status:
// 0 for nil, the carried code for an [ExitError], 2 for usage errors
// and 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// Report writes err for a person at the terminal. An [ExitError] without
// a cause is a status, not a failure, and prints nothing.
func Report(w io.Writer, err error) {
	if err == nil {
		return
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return
	}
	fmt.Fprintln(w, "gatehouse:", err)
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// Run runs the gatehouse command line with args (without the program name).
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		if len(args) == 0 {
			return usageError("no command given")
		}
		return nil
	}
	v, ok := verbs[args[0]]
	if !ok {
		printHelp(stderr)
		return usageError("unknown command %q", args[0])
	}
	return v.run(ctx, e, args[1:])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "gatehouse — access security for trading platforms")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: gatehouse <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'gatehouse <command> -h' for the flags of one command.")
}

// subverbs dispatches a verb with its own subcommands ("user add").
func subverbs(name string, table map[string]func(context.Context, *env, []string) error) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			return usageError("%s needs a subcommand: %s", name, strings.Join(keys(table), ", "))
		}
		f, ok := table[args[0]]
		if !ok {
			return usageError("unknown subcommand %q of %s; try: %s", args[0], name, strings.Join(keys(table), ", "))
		}
		return f(ctx, e, args[1:])
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
