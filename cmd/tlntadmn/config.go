package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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
bound at start (listen, admin_socket, audit_log) take effect at the next start,
and tlntadmn says so. When the daemon is not running, the file is changed alone.

Keys are those of the config file (tlntadmn config lists them; lockout.attempts,
lockout.window, lockout.duration for the lockout). Windows' names work too:
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

// translateWindows turns Windows' tlntadmn config names into tlntsvr keys.
// cur is the settings in force (port= and timeoutactive= depend on them).
func translateWindows(in []admin.Setting, cur []admin.Setting) ([]admin.Setting, error) {
	get := func(key string) string {
		for _, s := range cur {
			if s.Key == key {
				return s.Value
			}
		}
		return ""
	}
	var out []admin.Setting
	for _, s := range in {
		switch s.Key {
		case "timeout":
			d, err := parseHMS(s.Value)
			if err != nil {
				return nil, fmt.Errorf("timeout=%s: %w", s.Value, err)
			}
			out = append(out, admin.Setting{Key: "idle_timeout", Value: shortDuration(d)})
		case "timeoutactive":
			switch strings.ToLower(s.Value) {
			case "no":
				out = append(out, admin.Setting{Key: "idle_timeout", Value: "0"})
			case "yes":
				// On already (in force, or set earlier on this command
				// line: timeout=00:30:00 timeoutactive=yes): nothing to do.
				v := get("idle_timeout")
				for _, o := range out {
					if o.Key == "idle_timeout" {
						v = o.Value
					}
				}
				if v == "0" || v == "0s" {
					out = append(out, admin.Setting{Key: "idle_timeout", Value: "1h"})
				}
			default:
				return nil, fmt.Errorf("timeoutactive=%s: want yes or no", s.Value)
			}
		case "maxfail":
			out = append(out, admin.Setting{Key: "max_failed_logons", Value: s.Value})
		case "maxconn":
			out = append(out, admin.Setting{Key: "max_connections", Value: s.Value})
		case "mode":
			out = append(out, admin.Setting{Key: "mode", Value: strings.ToLower(s.Value)})
		case "port":
			listen, err := withPort(get("listen"), s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, admin.Setting{Key: "listen", Value: listen})
		case "ctrlakeymap", "sec", "dom", "defaultdom":
			return nil, fmt.Errorf("%s: Windows setting with no tlntsvr equivalent (see docs/migrating-from-windows.md)", s.Key)
		default:
			out = append(out, s)
		}
	}
	return out, nil
}

// parseHMS reads Windows' hh:mm:ss idle timeout.
func parseHMS(v string) (time.Duration, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return 0, errors.New("want hh:mm:ss, for example 01:30:00")
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || (i > 0 && x > 59) {
			return 0, errors.New("want hh:mm:ss with minutes and seconds 0-59, for example 01:30:00")
		}
		n[i] = x
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second, nil
}

// shortDuration writes d as Go syntax without zero units: 30m, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// withPort gives every address of a listen value (YAML flow list) the new
// port.
func withPort(listen, port string) (string, error) {
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("port=%s: want a port number 1-65535", port)
	}
	var addrs []string
	for _, a := range strings.Split(strings.Trim(listen, "[]"), ",") {
		a = strings.Trim(strings.TrimSpace(a), `"'`)
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return "", fmt.Errorf("port=%s: current listen address %q: %w", port, a, err)
		}
		addrs = append(addrs, strconv.Quote(net.JoinHostPort(host, port)))
	}
	if len(addrs) == 0 {
		addrs = []string{strconv.Quote(":" + port)}
	}
	return "[" + strings.Join(addrs, ", ") + "]", nil
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
