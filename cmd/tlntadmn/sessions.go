package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// SessionsOptions are the parsed arguments of tlntadmn sessions.
type SessionsOptions struct {
	F      *Factory
	Target string // "all" or a session ID
	JSON   bool
}

// NewCmdSessions builds "tlntadmn sessions [ID|all]". runF replaces the
// run function in tests.
func NewCmdSessions(f *Factory, runF func(*SessionsOptions) error) *cobra.Command {
	opts := &SessionsOptions{F: f, Target: "all"}
	cmd := &cobra.Command{
		Use:     "sessions [ID|all]",
		Aliases: []string{"s"},
		Short:   "List the logged-on sessions",
		Args:    wantArgs(0, 1, "at most one session ID or all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Target = args[0]
			}
			if err := checkTarget(opts.Target); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return sessionsRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// checkTarget accepts a session ID or "all".
func checkTarget(t string) error {
	if strings.EqualFold(t, "all") {
		return nil
	}
	if id, err := strconv.Atoi(t); err != nil || id <= 0 {
		return fmt.Errorf("session %q: want a session ID (a number from tlntadmn sessions) or all", t)
	}
	return nil
}

func sessionsRun(o *SessionsOptions) error {
	if err := checkTarget(o.Target); err != nil {
		return err
	}
	var all []admin.Session
	err := o.F.callDaemon(func(ctx context.Context, c *admin.Client) (err error) {
		all, err = c.Sessions(ctx)
		return err
	})
	if err != nil {
		return err
	}
	list := all
	if !strings.EqualFold(o.Target, "all") {
		id, _ := strconv.Atoi(o.Target)
		list = nil
		for _, s := range all {
			if s.ID == id {
				list = append(list, s)
			}
		}
		if len(list) == 0 {
			return fmt.Errorf("no session %d", id)
		}
	}
	if o.JSON {
		return printJSON(o.F.Out, list)
	}
	printSessions(o.F.Out, list, o.F.Now())
	return nil
}

func printSessions(w io.Writer, list []admin.Session, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No sessions.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tOS ACCOUNT\tCLIENT\tLOGON TIME\tIDLE\tTERM\tSIZE\tPID\tTLS")
	for _, s := range list {
		size := "-"
		if s.Cols > 0 {
			size = fmt.Sprintf("%dx%d", s.Cols, s.Rows)
		}
		term := s.Term
		if term == "" {
			term = "-"
		}
		protection := "-"
		if s.TLS != nil {
			protection = s.TLS.Version
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.User, s.OSAccount, s.Remote,
			s.LogonTime.Local().Format("2006-01-02 15:04:05"), idle(now.Sub(s.LastActivity)), term, size, s.PID, protection)
	}
	tw.Flush()
}

// idle formats an idle time as hh:mm:ss, Windows' format.
func idle(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
