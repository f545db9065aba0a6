package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"gatehouse/internal/posture"
	"gatehouse/internal/posture/setup"
)

func init() {
	verbs["assess"] = verb{
		summary: "judge a trader's own set-up from SETUP.yaml, no server needed",
		run:     runAssess,
	}
}

// runAssess is `gatehouse assess --file SETUP.yaml [--format text|json|html]
// [--fail-on high|medium|low|never]` and `gatehouse assess --example`. It
// exits 1 while a finding at --fail-on or worse is open (high by default)
// and 2 for a malformed SETUP.yaml, so a script can gate on it.
func runAssess(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("assess", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	file := fs.String("file", "", "the `SETUP.yaml` describing your set-up (- for standard input)")
	format := fs.String("format", "text", "output `format`: text, json or html")
	example := fs.Bool("example", false, "print a commented example SETUP.yaml and exit")
	strict := fs.Bool("strict", false, "read a field left out as its worst case (no factors, no recovery codes, notifications off) instead of asking for it")
	failOn := fs.String("fail-on", "high", "exit 1 when a finding this `severe` or worse is open: high, medium, low or never")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: gatehouse assess --file SETUP.yaml [--format text|json|html] [--fail-on high|medium|low|never] [--strict]")
		fmt.Fprintln(e.stderr, "       gatehouse assess --example")
		fmt.Fprintln(e.stderr)
		fmt.Fprintln(e.stderr, "Exit status: 0 nothing at --fail-on or worse, 1 such a finding is open, 2 bad input.")
		fmt.Fprintln(e.stderr)
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && ee.Code == 0 {
			return nil // -h
		}
		return err
	}
	if len(pos) > 0 {
		return usageError("assess: unexpected argument %q", pos[0])
	}
	if *example {
		if *file != "" {
			return usageError("assess: --example takes no --file")
		}
		_, err := io.WriteString(e.stdout, setup.Example)
		return err
	}
	write, ok := map[string]func(io.Writer, posture.Report) error{
		"text": posture.WriteText,
		"json": posture.WriteJSON,
		"html": posture.WriteHTML,
	}[*format]
	if !ok {
		return usageError("assess: unknown --format %q (want text, json or html)", *format)
	}
	gate, ok := map[string][]posture.Exposure{
		"high":   {posture.High},
		"medium": {posture.High, posture.Medium},
		"low":    {posture.High, posture.Medium, posture.Low},
		"never":  nil,
	}[*failOn]
	if !ok {
		return usageError("assess: unknown --fail-on %q (want high, medium, low or never)", *failOn)
	}
	if *file == "" {
		return usageError("assess: --file SETUP.yaml is required (gatehouse assess --example prints one to start from)")
	}

	var data []byte
	name := *file
	if name == "-" {
		name = "stdin"
		data, err = io.ReadAll(io.LimitReader(e.stdin, setup.MaxSize+1))
	} else {
		data, err = readLimited(name, setup.MaxSize+1)
	}
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("assess: %w", err)}
	}
	now := time.Now()
	snap, err := setup.Loader{Name: name, Strict: *strict}.Load(data, now)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	report := posture.Assess(snap, now)
	if err := write(e.stdout, report); err != nil {
		return fmt.Errorf("assess: write report: %w", err)
	}
	for _, x := range gate {
		if report.Count(x) > 0 {
			return &ExitError{Code: 1}
		}
	}
	return nil
}

// readLimited reads at most n bytes of the file at path.
func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
