package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// detachKey is Ctrl-], the key that leaves telnet's session too.
const detachKey = 0x1d

// ShadowOptions are the parsed arguments of tlntadmn shadow.
type ShadowOptions struct {
	F  *Factory
	ID int
}

// NewCmdShadow builds "tlntadmn shadow ID".
func NewCmdShadow(f *Factory, runF func(*ShadowOptions) error) *cobra.Command {
	opts := &ShadowOptions{F: f}
	cmd := &cobra.Command{
		Use:   "shadow ID",
		Short: "Watch a session's output live, read-only, until Ctrl-] or the session ends",
		Long: `Shows what session ID's user sees, live: first the screen as it is (redrawn from
the session's recent output), then everything the session writes. Nothing typed here
reaches the session; Ctrl-] stops watching. Several administrators may watch one
session. Unless shadow_notice is false, the user is told who is watching, and when
the watching ends. Watching is audited. A view that cannot keep up with the session
(a slow terminal, a stopped tlntadmn) is dropped and says so; the session never waits
for it.`,
		Args: wantArgs(1, 1, "one session ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.Atoi(args[0])
			if err != nil || id <= 0 {
				return fmt.Errorf("session %q: want a session ID (a number from tlntadmn sessions)", args[0])
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			return shadowRun(opts)
		},
	}
	return cmd
}

func shadowRun(o *ShadowOptions) error {
	c, err := o.F.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Shadow(ctx, o.ID)
	if err != nil {
		return err
	}
	defer stream.Close()
	fmt.Fprintf(o.F.ErrOut, "Watching session %d, read-only. Press Ctrl-] to stop.\r\n", o.ID)
	// Raw, so that Ctrl-] comes as a byte and nothing typed is echoed
	// over the session's screen.
	if in, ok := o.F.In.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		if st, err := term.MakeRaw(int(in.Fd())); err == nil {
			defer term.Restore(int(in.Fd()), st)
		}
	}
	detached := make(chan struct{})
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := o.F.In.Read(buf)
			if bytes.IndexByte(buf[:n], detachKey) >= 0 {
				close(detached)
				cancel()
				return
			}
			if err != nil {
				return // no keyboard: watch until the session ends
			}
		}
	}()
	_, err = io.Copy(o.F.Out, stream)
	select {
	case <-detached:
		fmt.Fprintf(o.F.ErrOut, "\r\nStopped watching session %d.\r\n", o.ID)
		return nil
	default:
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The daemon closed the stream without its closing line because
		// it could not write even that: what a watcher that took nothing
		// for 10 s gets (the daemon's shadowWriteTimeout), a stopped
		// tlntadmn or a terminal that does not read. Or the daemon went.
		return fmt.Errorf("watching session %d: the daemon broke off the stream: a view that takes no output "+
			"for 10 seconds is dropped (or the daemon stopped); run tlntadmn shadow %d again to resume", o.ID, o.ID)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("watching session %d: %w", o.ID, err)
	}
	fmt.Fprint(o.F.ErrOut, "\r\n")
	return nil
}
