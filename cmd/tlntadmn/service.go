package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// ServiceOptions are the arguments of pause, continue, start and stop.
type ServiceOptions struct {
	F      *Factory
	Action string // pause, continue, start, stop
}

func newServiceCmd(f *Factory, runF func(*ServiceOptions) error, action, short string) *cobra.Command {
	opts := &ServiceOptions{F: f, Action: action}
	return &cobra.Command{
		Use:   action,
		Short: short,
		Args:  wantArgs(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return serviceRun(opts)
		},
	}
}

// NewCmdPause builds "tlntadmn pause".
func NewCmdPause(f *Factory, runF func(*ServiceOptions) error) *cobra.Command {
	return newServiceCmd(f, runF, "pause", "Stop accepting new connections; sessions go on")
}

// NewCmdContinue builds "tlntadmn continue".
func NewCmdContinue(f *Factory, runF func(*ServiceOptions) error) *cobra.Command {
	return newServiceCmd(f, runF, "continue", "Accept new connections again after pause")
}

// NewCmdStart builds "tlntadmn start".
func NewCmdStart(f *Factory, runF func(*ServiceOptions) error) *cobra.Command {
	return newServiceCmd(f, runF, "start", "Start the tlntsvr service (through systemd)")
}

// NewCmdStop builds "tlntadmn stop".
func NewCmdStop(f *Factory, runF func(*ServiceOptions) error) *cobra.Command {
	return newServiceCmd(f, runF, "stop", "Stop the tlntsvr service (through systemd); every session ends")
}

// unitPaths are where an installed tlntsvr.service can be: where
// tlntsvr install, make install (PREFIX /usr/local or /usr) and the
// package put it (tlntsvr's unitDirs).
var unitPaths = []string{
	"/etc/systemd/system/tlntsvr.service",
	"/usr/local/lib/systemd/system/tlntsvr.service",
	"/lib/systemd/system/tlntsvr.service",
	"/usr/lib/systemd/system/tlntsvr.service",
}

func serviceRun(o *ServiceOptions) error {
	switch o.Action {
	case "pause":
		return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
			err := c.Pause(ctx)
			if err == nil {
				fmt.Fprintln(o.F.Out, "Paused: new connections are refused; sessions go on. tlntadmn continue resumes.")
			}
			return err
		})
	case "continue":
		return o.F.callDaemon(func(ctx context.Context, c *admin.Client) error {
			err := c.Continue(ctx)
			if err == nil {
				fmt.Fprintln(o.F.Out, "Accepting new connections.")
			}
			return err
		})
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return errors.New("no service manager: systemd is not running on this machine; run the daemon with tlntsvr run")
	}
	installed := false
	for _, p := range unitPaths {
		if _, err := os.Stat(p); err == nil {
			installed = true
		}
	}
	if !installed {
		return errors.New("tlntsvr is not installed as a service (no tlntsvr.service unit); install it with tlntsvr install, or run it with tlntsvr run")
	}
	if err := o.F.Systemctl(o.Action, "tlntsvr.service"); err != nil {
		return fmt.Errorf("systemctl %s tlntsvr.service: %w", o.Action, err)
	}
	return nil
}
