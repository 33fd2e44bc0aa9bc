package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// DefaultSocket is the admin socket used when no config file names one.
const DefaultSocket = "/run/tlntsvr/admin.sock"

// Factory holds what commands share: streams, and the way to reach the
// daemon and its files. Tests replace parts of it.
type Factory struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	SocketFlag string // --socket
	ConfigFlag string // --config

	// Now is the clock for idle times.
	Now func() time.Time
	// Systemctl runs systemctl with args (start/stop through the service
	// manager).
	Systemctl func(args ...string) error
	// ReadPassword reads a password from the terminal without echo.
	ReadPassword func(prompt string) (string, error)
}

// configPath is the config file tlntadmn reads: --config, else
// $TLNTSVR_CONFIG, else the system one.
func (f *Factory) configPath() string {
	if f.ConfigFlag != "" {
		return f.ConfigFlag
	}
	if p := os.Getenv("TLNTSVR_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

// Config loads the config file (see configPath).
func (f *Factory) Config() (*config.Config, error) {
	return config.Load(f.configPath())
}

// Socket finds the daemon's admin socket: --socket, else admin_socket of
// the config file (--config, or the default one when it exists), else the
// default path.
func (f *Factory) Socket() (string, error) {
	if f.SocketFlag != "" {
		return f.SocketFlag, nil
	}
	cfg, err := f.Config()
	if err == nil {
		return cfg.AdminSocket, nil
	}
	if f.ConfigFlag == "" && os.Getenv("TLNTSVR_CONFIG") == "" && errors.Is(err, fs.ErrNotExist) {
		return DefaultSocket, nil
	}
	return "", fmt.Errorf("find the admin socket: %w; name it with --socket (the daemon's default is %s)", err, DefaultSocket)
}

// Client returns a client for the daemon's admin socket.
func (f *Factory) Client() (*admin.Client, error) {
	path, err := f.Socket()
	if err != nil {
		return nil, err
	}
	return admin.NewClient(path), nil
}

// callDaemon runs fn with a client for the daemon and a 30-second
// deadline for the whole exchange.
func (f *Factory) callDaemon(fn func(context.Context, *admin.Client) error) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return fn(ctx, c)
}
