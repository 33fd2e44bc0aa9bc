package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// MessageOptions are the parsed arguments of tlntadmn message.
type MessageOptions struct {
	F      *Factory
	Target string
	Text   string
}

// NewCmdMessage builds "tlntadmn message ID|all TEXT...".
func NewCmdMessage(f *Factory, runF func(*MessageOptions) error) *cobra.Command {
	opts := &MessageOptions{F: f}
	return &cobra.Command{
		Use:     "message ID|all TEXT...",
		Aliases: []string{"m"},
		Short:   "Show a message on the terminals of one session or all",
		Example: `  tlntadmn message all "The server restarts at 18:00."`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New(`want a session ID or all, then the text: tlntadmn message ID|all "text"`)
			}
			return checkTarget(args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target, opts.Text = args[0], strings.Join(args[1:], " ")
			if strings.TrimSpace(opts.Text) == "" {
				return errors.New("the message text is empty")
			}
			if runF != nil {
				return runF(opts)
			}
			return messageRun(opts)
		},
	}
}

func messageRun(o *MessageOptions) error {
	if err := checkTarget(o.Target); err != nil {
		return err
	}
	return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		n, err := c.Message(ctx, o.Target, o.Text)
		if err == nil {
			fmt.Fprintf(o.F.Out, "Message sent to %s.\n", plural(n, "session"))
		}
		return err
	})
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
