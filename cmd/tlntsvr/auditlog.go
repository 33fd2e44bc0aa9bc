package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tlntsvr/tlntsvr/internal/logescape"
)

// auditFile is the audit_log file, reopened by path on SIGUSR1 and SIGHUP
// so that logrotate can rename it away: records go on to the renamed file
// until the reopen, and to a new file at the path after it. Nothing is lost
// or split: slog writes each record with one Write, and Reopen swaps the
// file between two Writes.
type auditFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// openAuditFile opens path for appending, creating it 0600: audit records
// name users and addresses.
func openAuditFile(path string) (*auditFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &auditFile{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return f, nil
}

func (a *auditFile) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Write(p)
}

// Reopen opens the path again and writes there from now on. If it cannot
// be opened, records go on to the file already open and the error says why.
func (a *auditFile) Reopen() error {
	f, err := openAppend(a.path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	return old.Close()
}

func (a *auditFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// openAudit returns the audit logger: JSON records to stderr (journald)
// and, when path is set, to that file (nil otherwise). Strings are escaped
// (logescape): names, terminal types and addresses come from the network.
func openAudit(path string) (*slog.Logger, *auditFile, error) {
	handlers := []slog.Handler{slog.NewJSONHandler(os.Stderr, nil)}
	var file *auditFile
	if path != "" {
		var err error
		if file, err = openAuditFile(path); err != nil {
			return nil, nil, err
		}
		handlers = append(handlers, slog.NewJSONHandler(file, nil))
	}
	return slog.New(logescape.NewHandler(slog.NewMultiHandler(handlers...))).With("audit", true), file, nil
}
