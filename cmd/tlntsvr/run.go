package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/server"
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

func run(opts *runOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return &exitError{2, fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel)}
	}
	cfg, err := config.Load(opts.configPath)
	if err == nil {
		err = server.CheckOSGroup(cfg)
	}
	if err != nil {
		return &exitError{2, err}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	audit, auditFile, err := openAudit(cfg.AuditLog)
	if err != nil {
		return &exitError{2, err}
	}
	if auditFile != nil {
		defer auditFile.Close()
	}

	store, err := auth.NewStore(server.AuthOptions(cfg, log))
	if err != nil {
		return &exitError{2, err}
	}

	srv := server.New(cfg, store, log, audit)
	srv.Version = version
	if err := srv.Listen(); err != nil {
		return err
	}
	if err := srv.ServeAdmin(); err != nil {
		return err
	}
	log.Info("tlntsvr started", "version", version, "config", cfg.Path, "pid", os.Getpid(), "uid", os.Geteuid())

	// Catching a signal (rather than inheriting it ignored) also matters
	// for sessions: see session.resetSignals.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()

	for {
		select {
		case err := <-serveErr:
			if errors.Is(err, server.ErrServerClosed) {
				return nil
			}
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				reopenAudit(auditFile, log)
				reload(srv, audit)
				continue
			case syscall.SIGUSR1:
				reopenAudit(auditFile, log)
				continue
			}
			log.Info("shutting down", "signal", sig.String(), "sessions", srv.Sessions().Len())
			return shutdown(srv, sigs, log)
		}
	}
}

// shutdown ends every session and waits for them, for at most
// shutdownGrace or until a second signal.
func shutdown(srv *server.Server, sigs <-chan os.Signal, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				log.Warn("second signal: not waiting for sessions", "signal", sig.String())
				cancel()
				return
			}
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

// checkConfig loads the configuration and the files it names and reports
// every problem found.
func checkConfig(out io.Writer, path string) error {
	cfg, err := config.Load(path)
	if err == nil {
		err = server.CheckOSGroup(cfg)
	}
	if err != nil {
		return &exitError{1, err}
	}
	if _, err := auth.NewStore(server.AuthOptions(cfg, nil)); err != nil {
		return &exitError{1, err}
	}
	fmt.Fprintf(out, "%s: configuration OK\n", path)
	return nil
}
