package cli_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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
			// freeport NAME sets $NAME to a loopback port nobody listens on,
			// for a background server to take.
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: freeport NAME")
				}
				l, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				port := l.Addr().(*net.TCPAddr).Port
				ts.Check(l.Close())
				ts.Setenv(args[0], strconv.Itoa(port))
			},
			// waithttp URL waits until URL answers 200: a background server
			// is up. It gives up after 20 seconds.
			"waithttp": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waithttp URL")
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					resp, err := http.Get(args[0])
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							return
						}
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not answer 200 within 20s (last error: %v)", args[0], err)
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
			// httpstatus URL CODE checks that a GET of URL answers CODE.
			"httpstatus": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: httpstatus URL CODE")
				}
				resp, err := http.Get(args[0])
				ts.Check(err)
				resp.Body.Close()
				if got := strconv.Itoa(resp.StatusCode); got != args[1] {
					ts.Fatalf("GET %s = %s, want %s", args[0], got, args[1])
				}
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEHOUSE_TEST_POSTGRES_URL", os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"))
			return nil
		},
	})
}
