package cli

import (
	"context"

	"gatehouse/internal/config"
)

func init() {
	verbs["config"] = verb{summary: "print the example configuration", run: subverbs("config", map[string]func(context.Context, *env, []string) error{
		"example": func(ctx context.Context, e *env, args []string) error {
			if err := parse(newFlagSet(e, "config example", "config example"), args); err != nil {
				return err
			}
			_, err := e.stdout.Write(config.Example())
			return err
		},
	})}
}
