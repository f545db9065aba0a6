// Command gatehouse is the access-security service of a trading platform.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"gatehouse/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	cli.Report(os.Stderr, err)
	os.Exit(cli.ExitCode(err))
}
