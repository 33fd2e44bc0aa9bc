package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// KillOptions are the parsed arguments of tlntadmn kill.
type KillOptions struct {
	F       *Factory
	Target  string
	Message string
}

// NewCmdKill builds "tlntadmn kill ID|all [--message TEXT]".
func NewCmdKill(f *Factory, runF func(*KillOptions) error) *cobra.Command {
	opts := &KillOptions{F: f}
	cmd := &cobra.Command{
		Use:     "kill ID|all",
		Aliases: []string{"k"},
		Short:   "End one session or all: the user is told why, and every process of the session ends",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := wantArgs(1, 1, "one session ID or all")(cmd, args); err != nil {
				return err
			}
			return checkTarget(args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = args[0]
			if err := admin.CheckMessage("--message", opts.Message, true); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return killRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Message, "message", "", "tell the user this before the session ends")
	return cmd
}

func killRun(o *KillOptions) error {
	if err := checkTarget(o.Target); err != nil {
		return err
	}
	if err := admin.CheckMessage("--message", o.Message, true); err != nil {
		return err
	}
	return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		n, err := c.Kill(ctx, o.Target, o.Message)
		if err == nil {
			fmt.Fprintf(o.F.Out, "Ended %s.\n", plural(n, "session"))
		}
		return err
	})
}
