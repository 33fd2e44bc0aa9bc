package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/logescape"
	"github.com/tlntsvr/tlntsvr/internal/server"
	"github.com/tlntsvr/tlntsvr/internal/session"
	"github.com/tlntsvr/tlntsvr/internal/tlsconf"
)

// shutdownGrace is how long SIGTERM waits for sessions to end before the
// daemon exits anyway. Sessions are ended (SIGHUP, then SIGKILL) well
// within it; a second SIGTERM skips the wait.
const shutdownGrace = 10 * time.Second

type runOptions struct {
	configPath string
	logLevel   string
}

// defaultConfigPath is the config file used without --config: the
// TLNTSVR_CONFIG environment variable, else the system one.
func defaultConfigPath() string {
	if p := os.Getenv("TLNTSVR_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

// exitConfig is run's exit status when the config, users, groups or audit
// log file, or --log-level, cannot be used at start: EX_CONFIG of
// sysexits.h. The unit's RestartPreventExitStatus=78 keeps systemd from
// restarting into the same error. Not 2: a Go panic or fatal runtime error
// exits 2, and a crash must be restarted.
const exitConfig = 78

func run(opts *runOptions) error {
	// Signals first. Until the server is ready, SIGHUP's and SIGUSR1's
	// default action would kill the daemon (and systemd does not restart a
	// death by SIGHUP), yet both come at any time: systemctl reload right
	// after a start, logrotate. Caught here, they wait in their channels
	// and are acted on once the server is ready, as is a stop signal.
	sigs := notifySignals()
	defer sigs.stop()

	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return &exitError{exitConfig, fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel)}
	}
	cfg, err := config.Load(opts.configPath)
	if err == nil {
		err = cfg.CheckHost()
	}
	if err != nil {
		return &exitError{exitConfig, err}
	}
	log := slog.New(logescape.NewHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	audit, auditFile, err := openAudit(cfg.AuditLog)
	if err != nil {
		return &exitError{exitConfig, err}
	}
	if auditFile != nil {
		defer auditFile.Close()
	}

	// How sessions' processes are kept together (a cgroup each, or by
	// session ID), decided and logged once, before any session.
	session.Setup(log)

	store, err := auth.NewStore(server.AuthOptions(cfg, log))
	if err != nil {
		return &exitError{exitConfig, err}
	}

	srv := server.New(cfg, store, log, audit)
	srv.Version = version
	if err := srv.StartTLS(cfg); err != nil {
		return &exitError{exitConfig, err}
	}
	// Sockets from systemd's socket unit, if it started us; else our own.
	if passed, err := activated(srv, log); err != nil {
		return &exitError{exitConfig, err}
	} else if !passed {
		if err := srv.Listen(); err != nil {
			return listenError(err, os.Geteuid())
		}
	}
	notify := notifier{log: log, srv: srv}
	srv.SetLifecycle(notify)
	if err := srv.ServeAdmin(); err != nil {
		// What CheckHost cannot see before (another daemon on the
		// socket, a path too long for a socket) a restart would meet
		// again.
		return &exitError{exitConfig, err}
	}
	if err := srv.ServeMetrics(); err != nil {
		return listenError(err, os.Geteuid())
	}
	log.Info("tlntsvr started", "version", version, "config", cfg.Path, "pid", os.Getpid(), "uid", os.Geteuid())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	notify.ready()
	followDone := make(chan struct{})
	defer close(followDone)
	go notify.followSessions(followDone)

	for {
		select {
		case err := <-serveErr:
			if errors.Is(err, server.ErrServerClosed) {
				return nil
			}
			return err
		case <-sigs.reload:
			reopenAudit(auditFile, log)
			reload(srv, audit)
		case <-sigs.reopen:
			reopenAudit(auditFile, log)
		case sig := <-sigs.stopping:
			log.Info("shutting down", "signal", sig.String(), "sessions", srv.Sessions().Len())
			notify.stopping()
			return shutdown(srv, sigs.stopping, log)
		}
	}
}

// signals are the daemon's signals, a channel for each action. Signals of
// a kind that arrive while one waits make one request (a reload begun after
// the last SIGHUP covers them all), and no kind crowds out another: a burst
// of SIGHUPs cannot lose a SIGTERM, which signal.Notify would drop on a
// full channel.
type signals struct {
	stopping chan os.Signal // SIGTERM, SIGINT; room for the second, which cuts the stop short
	reload   chan os.Signal // SIGHUP
	reopen   chan os.Signal // SIGUSR1
}

// notifySignals catches the daemon's signals. Catching a signal (rather
// than inheriting it ignored) also matters for sessions: see
// session.resetSignals.
func notifySignals() *signals {
	s := &signals{
		stopping: make(chan os.Signal, 2),
		reload:   make(chan os.Signal, 1),
		reopen:   make(chan os.Signal, 1),
	}
	signal.Notify(s.stopping, syscall.SIGTERM, syscall.SIGINT)
	signal.Notify(s.reload, syscall.SIGHUP)
	signal.Notify(s.reopen, syscall.SIGUSR1)
	return s
}

func (s *signals) stop() {
	signal.Stop(s.stopping)
	signal.Stop(s.reload)
	signal.Stop(s.reopen)
}

// listenError adds to a listen error what to do about the usual one: a
// port below 1024 refused to a process that is not root (a developer's run
// on the system config). Root is refused one only when something took
// CAP_NET_BIND_SERVICE away (a bounding set, a container): no hint fits.
func listenError(err error, euid int) error {
	var op *net.OpError
	if euid == 0 || !errors.Is(err, syscall.EACCES) || !errors.As(err, &op) {
		return err
	}
	if a, ok := op.Addr.(*net.TCPAddr); !ok || a.Port == 0 || a.Port >= 1024 {
		return err
	}
	return fmt.Errorf("%w: ports below 1024 need root or CAP_NET_BIND_SERVICE, and this process runs as uid %d; "+
		"run it as root (the systemd unit does), or listen on a port from 1024 up, as configs/dev.yaml does (2323; make run)", err, euid)
}

// shutdown ends every session and waits for them, for at most
// shutdownGrace or until a second signal.
func shutdown(srv *server.Server, stopping <-chan os.Signal, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		select {
		case sig := <-stopping:
			log.Warn("second signal: not waiting for sessions", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	leaders := srv.SessionLeaders()
	err := srv.Shutdown(ctx)
	// Nothing of the sessions may outlive the daemon: what is left when
	// the wait was cut short, or what ignored the hangup when
	// end_tasks_on_disconnect is off, is killed now.
	leaders = append(leaders, srv.SessionLeaders()...)
	if n := server.KillSessionProcesses(leaders); n > 0 {
		log.Warn("killed what was left of the sessions", "processes", n)
	}
	if err != nil {
		log.Error("shutdown forced: the sessions' teardown was not waited for", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}

// reload re-reads the config, users and groups files (SIGHUP); the server
// logs what changed or why not, and the audit trail records it as an admin
// action.
func reload(srv *server.Server, audit *slog.Logger) {
	res, err := srv.Reload()
	result := "ok"
	if err != nil {
		result = err.Error()
	}
	audit.Info("admin action", "event", "admin", "action", "reload", "via", "SIGHUP", "result", result,
		"applied", res.Applied, "restart_needed", res.RestartNeeded)
}

// reopenAudit reopens the audit log file (SIGUSR1, SIGHUP) for logrotate.
func reopenAudit(f *auditFile, log *slog.Logger) {
	if f == nil {
		return
	}
	if err := f.Reopen(); err != nil {
		log.Error("audit log not reopened; records go on to the file already open", "path", f.path, "err", err)
		return
	}
	log.Info("audit log reopened", "path", f.path)
}

// rootUsers says which users of the users file run as an account of uid
// 0, whose logons the daemon refuses while allow_root is false: the file
// is valid and the other users log on, so check-config warns rather than
// fails. The file has just loaded; a read error here says nothing new.
func rootUsers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	users, err := auth.ParseUsers(f, path)
	if err != nil {
		return nil
	}
	var warnings []string
	for _, u := range users.Users() {
		if acct, err := user.Lookup(u.OSAccount); err == nil && acct.Uid == "0" {
			warnings = append(warnings, fmt.Sprintf("users file %s: user %q runs as OS account %s (uid 0); its logons are refused "+
				"while allow_root is false: map it to another account, or set allow_root: true", path, u.Name, u.OSAccount))
		}
	}
	return warnings
}

// checkConfig loads the configuration and the files it names and reports
// every problem found.
func checkConfig(out io.Writer, path string) error {
	cfg, err := config.Load(path)
	if err == nil {
		err = cfg.CheckHost()
	}
	if err != nil {
		return &exitError{1, err}
	}
	if _, err := auth.NewStore(server.AuthOptions(cfg, nil)); err != nil {
		return &exitError{1, err}
	}
	if !cfg.AllowRoot {
		for _, w := range rootUsers(cfg.UsersFile) {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
	}
	if cfg.TLS.Enabled() {
		warnings, err := tlsconf.Check(server.TLSSettings(cfg), time.Now())
		if err != nil {
			return &exitError{1, err}
		}
		for _, w := range warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
	}
	fmt.Fprintf(out, "%s: configuration OK\n", path)
	return nil
}
