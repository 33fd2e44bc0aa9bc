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
	if err != nil {
		return &exitError{2, err}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	audit, closeAudit, err := openAudit(cfg.AuditLog)
	if err != nil {
		return &exitError{2, err}
	}
	defer closeAudit()

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
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
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
			if sig == syscall.SIGHUP {
				if err := store.Reload(); err != nil {
					log.Error("reload refused; the previous users and groups stay in force", "err", err)
				} else {
					log.Info("reloaded users and groups files")
				}
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
			if sig != syscall.SIGHUP {
				log.Warn("second signal: not waiting for sessions", "signal", sig.String())
				cancel()
				return
			}
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}

// openAudit returns the audit logger: JSON records to stderr (journald)
// and, when path is set, to that file, opened 0600 for appending.
func openAudit(path string) (*slog.Logger, func(), error) {
	handlers := []slog.Handler{slog.NewJSONHandler(os.Stderr, nil)}
	closeFn := func() {}
	if path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("open audit log: %w", err)
		}
		handlers = append(handlers, slog.NewJSONHandler(f, nil))
		closeFn = func() { f.Close() }
	}
	return slog.New(slog.NewMultiHandler(handlers...)).With("audit", true), closeFn, nil
}

// checkConfig loads the configuration and the files it names and reports
// every problem found.
func checkConfig(out io.Writer, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return &exitError{1, err}
	}
	if _, err := auth.NewStore(server.AuthOptions(cfg, nil)); err != nil {
		return &exitError{1, err}
	}
	fmt.Fprintf(out, "%s: configuration OK\n", path)
	return nil
}
