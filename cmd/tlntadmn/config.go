package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// ConfigOptions are the parsed arguments of tlntadmn config.
type ConfigOptions struct {
	F       *Factory
	Changes []admin.Setting // empty: show the settings
	JSON    bool
}

// NewCmdConfig builds "tlntadmn config [key=value...]".
func NewCmdConfig(f *Factory, runF func(*ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{F: f}
	cmd := &cobra.Command{
		Use:   "config [key=value...]",
		Short: "Show the settings, or change them",
		Long: `Without arguments, print every setting and its value.

With key=value arguments, check the changes, write them to the config file
(keeping its comments and order) and apply them in the running daemon. Settings
bound at start take effect at the next start, and tlntadmn says so:
  ` + strings.Join(config.RestartKeys(), ", ") + `.
When the daemon is not running, the file is changed alone.

Keys are those of the config file (tlntadmn config lists them; lockout.attempts,
lockout.window, lockout.duration for the lockout). A whole mapping given at once
(lockout={attempts: 5}) replaces it: the keys it leaves out take their defaults.
Windows' names work too:
  timeout=hh:mm:ss        idle_timeout
  timeoutactive=yes|no    idle_timeout on (1 hour if it was off) or off (0)
  maxfail=N               max_failed_logons
  maxconn=N               max_connections
  port=N                  the port of every listen address
  mode=console|stream     mode`,
		Example: `  tlntadmn config maxconn=10 timeout=00:30:00
  tlntadmn config banner="Lab switch console server" idle_warning=5m`,
		Args: cobra.ArbitraryArgs, // each is checked to be key=value
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("%q: want key=value (for example maxconn=10)", a)
				}
				opts.Changes = append(opts.Changes, admin.Setting{Key: strings.ToLower(k), Value: v})
			}
			if runF != nil {
				return runF(opts)
			}
			return configRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func configRun(o *ConfigOptions) error {
	return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		cur, err := c.Config(ctx)
		running := err == nil
		if err != nil && !errors.Is(err, admin.ErrNotRunning) {
			return err
		}
		if !running {
			// Work on the file alone.
			cfg, lerr := o.F.Config()
			if lerr != nil {
				return fmt.Errorf("%w, and the config file cannot be read: %v", err, lerr)
			}
			cur = admin.ConfigResponse{Path: cfg.Path, Settings: settingsOf(cfg)}
		}
		if len(o.Changes) == 0 {
			if o.JSON {
				return printJSON(o.F.Out, cur)
			}
			fmt.Fprintf(o.F.Out, "# %s\n", cur.Path)
			tw := tabwriter.NewWriter(o.F.Out, 0, 4, 1, ' ', 0)
			for _, s := range cur.Settings {
				fmt.Fprintf(tw, "%s\t= %s\n", s.Key, s.Value)
			}
			return tw.Flush()
		}
		changes, err := translateWindows(o.Changes, cur.Settings)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			// Only timeoutactive=yes with the timeout on comes to nothing.
			for _, s := range cur.Settings {
				if s.Key == "idle_timeout" {
					fmt.Fprintf(o.F.Out, "Nothing to change: the idle timeout is already on (idle_timeout = %s).\n", s.Value)
				}
			}
			return nil
		}
		if !running {
			if _, err := config.EditFile(cur.Path, toConfigSettings(changes), startable); err != nil {
				return fmt.Errorf("not changed: %w", err)
			}
			fmt.Fprintf(o.F.Out, "tlntsvr is not running: written to %s; it takes effect when tlntsvr starts.\n", cur.Path)
			return nil
		}
		resp, err := c.SetConfig(ctx, changes)
		if err != nil {
			return err
		}
		if len(resp.Applied) > 0 {
			fmt.Fprintf(o.F.Out, "Applied now and written to %s: %s\n", resp.Path, strings.Join(resp.Applied, ", "))
		}
		if len(resp.RestartNeeded) > 0 {
			fmt.Fprintf(o.F.Out, "Written to %s; takes effect when tlntsvr restarts: %s\n", resp.Path, strings.Join(resp.RestartNeeded, ", "))
		}
		if len(resp.AlsoApplied) > 0 {
			fmt.Fprintf(o.F.Out, "Also in force now, edited in %s since tlntsvr last read it: %s\n", resp.Path, strings.Join(resp.AlsoApplied, ", "))
		}
		if slices.Contains(resp.RestartNeeded, "admin_socket") && o.F.SocketFlag == "" {
			// tlntadmn finds the daemon by the file's admin_socket, which
			// now names where the daemon will listen, not where it does.
			fmt.Fprintf(o.F.Out, "Until it restarts, tlntsvr listens on %s: reach it with tlntadmn --socket %s\n", c.Socket, c.Socket)
		}
		return nil
	})
}

// settingsOf lists a config's settings in the admin API's form.
func settingsOf(cfg *config.Config) []admin.Setting {
	var out []admin.Setting
	for _, s := range cfg.Settings() {
		out = append(out, admin.Setting{Key: s.Key, Value: s.Value})
	}
	return out
}

func toConfigSettings(in []admin.Setting) []config.Setting {
	out := make([]config.Setting, len(in))
	for i, s := range in {
		out[i] = config.Setting{Key: s.Key, Value: s.Value}
	}
	return out
}

// windowsRefused are Windows' tlntadmn config names with no tlntsvr
// equivalent.
var windowsRefused = []string{"ctrlakeymap", "sec", "dom", "defaultdom"}

// translateWindows turns Windows' tlntadmn config names into tlntsvr keys
// (config.FromWindows). cur is the settings in force (port= and
// timeoutactive= depend on them, and on changes earlier on the command
// line).
func translateWindows(in []admin.Setting, cur []admin.Setting) ([]admin.Setting, error) {
	var out []admin.Setting
	get := func(key string) string {
		for i := len(out) - 1; i >= 0; i-- {
			if out[i].Key == key {
				return out[i].Value
			}
		}
		for _, s := range cur {
			if s.Key == key {
				return s.Value
			}
		}
		return ""
	}
	for _, s := range in {
		if slices.Contains(windowsRefused, s.Key) {
			return nil, fmt.Errorf("%s: Windows setting with no tlntsvr equivalent (see docs/migrating-from-windows.md)", s.Key)
		}
		cs, known, err := config.FromWindows(s.Key, s.Value, get)
		if err != nil {
			return nil, err
		}
		if !known {
			out = append(out, s)
		}
		for _, c := range cs {
			out = append(out, admin.Setting{Key: c.Key, Value: c.Value})
		}
	}
	return out, nil
}

// startable refuses, as the daemon's own edits over the socket do, new
// settings that tlntsvr could not start with: a group or a socket
// directory this host does not have, users or groups files it cannot
// read. Written while tlntsvr is stopped, they would only show at its next
// start, which then fails (and systemd does not retry a config error).
func startable(next *config.Config) error {
	if err := next.CheckHost(); err != nil {
		return err
	}
	_, err := auth.NewStore(auth.Options{UsersFile: next.UsersFile, GroupsFile: next.GroupsFile,
		ClientsGroup: next.ClientsGroup, AdminsGroup: next.AdminsGroup})
	return err
}
