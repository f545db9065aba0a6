package cli_test

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"gatehouse/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gatehouse": func() {
			err := cli.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
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
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEHOUSE_TEST_POSTGRES_URL", os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"))
			return nil
		},
	})
}
