package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// ReloadOptions are the arguments of tlntadmn reload.
type ReloadOptions struct {
	F    *Factory
	JSON bool
}

// NewCmdReload builds "tlntadmn reload".
func NewCmdReload(f *Factory, runF func(*ReloadOptions) error) *cobra.Command {
	opts := &ReloadOptions{F: f}
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make the daemon re-read its config, users and groups files; sessions go on",
		Long: `reload makes the running daemon re-read its config file and its users and
groups files, as SIGHUP and systemctl reload do. Changed settings apply to
new connections and logons at once; these wait for a restart:
  ` + strings.Join(config.RestartKeys(), ", ") + `.
A file with errors is refused, with every error listed, and the settings in
force stay. No session is ended.`,
		Args: wantArgs(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return reloadRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func reloadRun(o *ReloadOptions) error {
	return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		r, err := c.ReloadChanges(ctx, "tlntadmn reload")
		if err != nil {
			return err
		}
		if o.JSON {
			return printJSON(o.F.Out, r)
		}
		if len(r.Applied) == 0 {
			fmt.Fprintf(o.F.Out, "Reloaded %s: no setting changed.\n", r.Path)
		} else {
			fmt.Fprintf(o.F.Out, "Reloaded %s; in force now: %s\n", r.Path, strings.Join(r.Applied, ", "))
		}
		if len(r.RestartNeeded) > 0 {
			fmt.Fprintf(o.F.Out, "Take effect when tlntsvr restarts: %s\n", strings.Join(r.RestartNeeded, ", "))
		}
		return nil
	})
}
