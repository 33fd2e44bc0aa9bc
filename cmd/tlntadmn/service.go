package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/systemdunit"
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
	if !systemdunit.ManagerRunning() {
		return errors.New("no service manager: systemd is not running on this machine; run the daemon with tlntsvr run")
	}
	if path, _ := systemdunit.Installed(); path == "" {
		return fmt.Errorf("tlntsvr is not installed as a service (no %s unit); install it with tlntsvr install, or run it with tlntsvr run", systemdunit.Name)
	}
	if err := o.F.Systemctl(o.Action, systemdunit.Name); err != nil {
		return fmt.Errorf("systemctl %s %s: %w", o.Action, systemdunit.Name, err)
	}
	return nil
}
