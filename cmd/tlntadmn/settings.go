package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// SettingsOptions are the arguments of bare tlntadmn.
type SettingsOptions struct {
	F    *Factory
	JSON bool
}

// settingsListing is what bare tlntadmn prints, after Windows' listing.
type settingsListing struct {
	State    string          `json:"state"` // Running, Paused or Stopped
	Sessions int             `json:"sessions"`
	Path     string          `json:"config_path"`
	Settings []admin.Setting `json:"settings"`
}

func settingsRun(o *SettingsOptions) error {
	var l settingsListing
	err := o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
		st, err := c.Status(ctx)
		switch {
		case err == nil:
			l.State, l.Sessions = "Running", st.Sessions
			if st.Paused {
				l.State = "Paused"
			}
			cfg, err := c.Config(ctx)
			l.Path, l.Settings = cfg.Path, cfg.Settings
			return err
		case errors.Is(err, admin.ErrNotRunning):
			l.State = "Stopped"
			cfg, lerr := o.F.Config()
			if lerr != nil {
				return fmt.Errorf("%w, and the config file cannot be read: %v", err, lerr)
			}
			l.Path, l.Settings = cfg.Path, settingsOf(cfg)
			return nil
		default:
			return err
		}
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.F.Out, l)
	}
	get := func(k string) string {
		for _, s := range l.Settings {
			if s.Key == k {
				return strings.Trim(s.Value, `"`)
			}
		}
		return ""
	}
	timeout := get("idle_timeout")
	if timeout == "0" || timeout == "0s" {
		timeout = "Off (timeoutactive=no)"
	}
	yes := func(v string) string {
		if v == "true" {
			return "YES"
		}
		return "NO"
	}
	mode := get("mode")
	if mode != "" {
		mode = strings.ToUpper(mode[:1]) + mode[1:]
	}
	fmt.Fprintf(o.F.Out, "The following are the settings on localhost\n\n")
	tw := tabwriter.NewWriter(o.F.Out, 0, 4, 1, ' ', 0)
	rows := [][2]string{
		{"Idle session timeout", timeout},
		{"Idle warning", get("idle_warning")},
		{"Max connections", get("max_connections")},
		{"Telnet port", get("listen")},
		{"Max failed login attempts", get("max_failed_logons")},
		{"End tasks on disconnect", yes(get("end_tasks_on_disconnect"))},
		{"Mode of Operation", mode},
		{"Authentication Mechanism", "Password (bcrypt users file)"},
		{"Telnet clients group", get("clients_group")},
		{"Administrators group", get("admins_group")},
		{"Config file", l.Path},
		{"State", l.State},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t: %s\n", r[0], r[1])
	}
	return tw.Flush()
}
