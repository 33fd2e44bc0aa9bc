package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// The users and groups files are edited here, not through the daemon, so
// users can be added before the daemon first starts. The daemon is then
// asked to re-read them (it would notice the change within a second
// anyway), which also puts the change in its audit trail.

func loadUsers(path string) (*auth.UsersFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	return auth.ParseUsers(bytes.NewReader(data), path)
}

func loadGroups(path string) (*auth.GroupsFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read groups file: %w", err)
	}
	return auth.ParseGroups(bytes.NewReader(data), path)
}

// save replaces path atomically with what write produces, keeping the
// file's mode and owner; a new file gets newMode.
func save(path string, newMode fs.FileMode, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, newMode)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		f.Close()
	}
	if err := config.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// notifyDaemon asks a running daemon to re-read the files now.
func notifyDaemon(f *Factory, reason string) {
	err := f.callDaemon(func(ctx context.Context, c *admin.Client) error { return c.Reload(ctx, reason) })
	if err != nil {
		fmt.Fprintf(f.ErrOut, "note: %v; the change takes effect when tlntsvr next reads its files\n", err)
	}
}

// readPassword gets a new password: one line of stdin with
// --password-stdin, else asked twice on the terminal without echo.
func readPassword(f *Factory, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(f.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("the password read from stdin is empty")
		}
		return pw, nil
	}
	pw, err := f.ReadPassword("New password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("empty password refused")
	}
	again, err := f.ReadPassword("Retype new password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match; nothing changed")
	}
	return pw, nil
}
