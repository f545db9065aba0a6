package cli_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"gatehouse/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gatehouse": func() {
			// As cmd/gatehouse does: SIGTERM and interrupt end the context.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
			cli.Report(os.Stderr, err)
			os.Exit(cli.ExitCode(err))
		},
	})
}

// TestScripts runs the command-line scripts in testdata/script, one txtar
// per verb, each against the real binary's code path.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// sleep gives a background server time to come up.
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: sleep duration")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEHOUSE_TEST_POSTGRES_URL", os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"))
			return nil
		},
	})
}
