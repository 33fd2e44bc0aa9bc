package main

import (
	"context"
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
	cmd := &cobra.Command{
		Use:     "message ID|all TEXT...",
		Aliases: []string{"m"},
		Short:   "Show a message on the terminals of one session or all",
		Long: `Show a message on the terminals of one session or all. Flags go before
the session ID: everything after it is the text, even when it starts with "-".
Sessions in stream mode (mode: stream) are sent no messages: their clients get
nothing but their programs' output.`,
		Example: `  tlntadmn message all "The server restarts at 18:00."
  tlntadmn message all "-5 min to reboot"`,
		Args: func(cmd *cobra.Command, args []string) error {
			args = messageArgs(cmd, args)
			if err := wantArgs(2, -1, "a session ID or all, then the text")(cmd, args); err != nil {
				return err
			}
			return checkTarget(args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			args = messageArgs(cmd, args)
			opts.Target, opts.Text = args[0], strings.Join(args[1:], " ")
			if err := admin.CheckMessage("the message text", opts.Text, false); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return messageRun(opts)
		},
	}
	// The text is not parsed for flags: "-5 min to reboot" is a message.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// messageArgs drops a "--" between the target and the text. Flag parsing
// stops at the target, so such a "--" (which used to end the flags, and
// still does before the target) would otherwise be sent as text.
func messageArgs(cmd *cobra.Command, args []string) []string {
	if len(args) >= 2 && args[1] == "--" && cmd.ArgsLenAtDash() < 0 {
		return append(args[:1:1], args[2:]...)
	}
	return args
}

func messageRun(o *MessageOptions) error {
	if err := checkTarget(o.Target); err != nil {
		return err
	}
	if err := admin.CheckMessage("the message text", o.Text, false); err != nil {
		return err
	}
	return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		r, err := c.Message(ctx, o.Target, o.Text)
		if err == nil {
			fmt.Fprintf(o.F.Out, "Message sent to %s.\n", plural(r.Count, "session"))
			if r.Unreached > 0 {
				fmt.Fprintf(o.F.Out, "%s did not take it within 2 s: the client is not reading (it gets the message if it reads again).\n", plural(r.Unreached, "session"))
			}
			if r.StreamMode > 0 {
				fmt.Fprintf(o.F.Out, "Not sent to %s in stream mode: a stream-mode client gets nothing but its program's output.\n", plural(r.StreamMode, "session"))
			}
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
