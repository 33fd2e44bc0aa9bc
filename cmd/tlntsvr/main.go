// Command tlntsvr is the Telnet server daemon.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/session"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	// A session's first process is this binary re-executed; it never
	// returns from here.
	session.RunIncubatorIfRequested()

	cmd := newRootCmd()
	if err := cmd.Execute(); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "tlntsvr:", msg)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	opts := &runOptions{}
	root := &cobra.Command{
		Use:   "tlntsvr",
		Short: "Telnet server daemon",
		Long: `tlntsvr is a Telnet server in the manner of Windows Telnet Server: it negotiates
Telnet options, checks users against a users file and a telnet-clients group,
and runs each user's shell on a PTY as their own OS account. With a TLS
certificate (tls.cert_file) it encrypts: TLS from the first byte on
listen_tls (telnets, port 992), START_TLS and AUTH SSL on listen, and
certificate logon with tls.client_ca_file.

Run without a subcommand it does what "tlntsvr run" does.

Signals: SIGTERM or SIGINT stops it (every session is told and ended; a
second one stops it at once); SIGHUP re-reads the config, users and groups
files and the TLS certificate without ending sessions and reopens audit_log; SIGUSR1 reopens
audit_log (for logrotate). A signal that comes while it starts is acted on
once it is ready.

install, uninstall, start, stop, restart and status manage the systemd
service.

Under systemd: started by tlntsvr.socket, it serves the sockets it is passed
(LISTEN_FDS; a socket named telnets as listen_tls, telnet or unnamed as
listen) instead of opening listen and listen_tls; as a Type=notify service
it sends READY=1 once listening, RELOADING=1 and READY=1 around a reload,
STOPPING=1, and STATUS= with the session count.

Behind a load balancer, connections from proxy_protocol.from must start
with a PROXY protocol (v1 or v2) header, whose client address is used for
everything; a header from any other address is refused. metrics_listen
serves Prometheus metrics at /metrics.

Files: /etc/tlntsvr/tlntsvr.yaml (settings), /etc/tlntsvr/users (htpasswd,
bcrypt; mode 0600), /etc/tlntsvr/groups (telnet-clients and administrators),
/run/tlntsvr/admin.sock (for tlntadmn), audit_log (/var/log/tlntsvr/audit.log
as packaged).

Exit status of run: 0 after a clean stop; 1 on an error, or when a stop was
cut short by a second signal or the 10 s grace; 78 (EX_CONFIG) when the
config, users, groups, TLS certificate or audit log file or --log-level
cannot be used at
start (systemd does not restart after it); 2 on a crash (a Go panic), which
systemd restarts.

See docs/configuration.md, docs/tls.md, docs/operations.md and tlntadmn(8).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, args []string) error { return run(opts) },
	}
	root.PersistentFlags().StringVarP(&opts.configPath, "config", "c", defaultConfigPath(), "configuration file")
	root.PersistentFlags().StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newServiceCmds(opts)...)
	root.AddCommand(
		&cobra.Command{
			Use:   "run",
			Short: "Run the server in the foreground",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, args []string) error { return run(opts) },
		},
		&cobra.Command{
			Use:   "check-config",
			Short: "Check the configuration file and the users and groups files it names",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return checkConfig(cmd.OutOrStdout(), opts.configPath)
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, args []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "tlntsvr", version)
			},
		},
	)
	return root
}
