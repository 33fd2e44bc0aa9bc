package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
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
	c, err := o.F.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	n, err := c.Message(cx, o.Target, o.Text)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.F.Out, "Message sent to %s.\n", plural(n, "session"))
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
