package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// The files an install creates when they are missing, as the Debian package
// and make install do (deploy/debian/postinst, Makefile).
const (
	installConfig = `# tlntsvr configuration, written by "tlntsvr install".
# Every key left out keeps its default: see docs/configuration.md for each
# key, and tlntadmn config for the settings in force.
users_file: users     # beside this file
groups_file: groups
# The systemd unit creates /var/log/tlntsvr; /etc/logrotate.d/tlntsvr
# (tlntsvr install, make install, the package) rotates it.
audit_log: /var/log/tlntsvr/audit.log
`
	installGroups = "telnet-clients:\nadministrators:\n"

	usersMode  fs.FileMode = 0o600 // password hashes
	groupsMode fs.FileMode = 0o640
)

// setupFiles creates, when missing, the config file at configPath, then the
// users and groups files it names. Existing files are never changed. It
// reports whether the users file has a user.
func setupFiles(out io.Writer, configPath string) (hasUsers bool, err error) {
	if err := os.MkdirAll(filepath.Dir(configPath), 0o755); err != nil {
		return false, fmt.Errorf("create config directory: %w", err)
	}
	if err := createFile(out, configPath, 0o644, installConfig); err != nil {
		return false, err
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return false, err
	}
	for _, f := range []struct {
		path    string
		mode    fs.FileMode
		content string
	}{
		{cfg.UsersFile, usersMode, ""},
		{cfg.GroupsFile, groupsMode, installGroups},
	} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return false, fmt.Errorf("create directory for %s: %w", f.path, err)
		}
		if err := createFile(out, f.path, f.mode, f.content); err != nil {
			return false, err
		}
	}
	return usersFileHasUsers(cfg.UsersFile)
}

// createFile writes content to a new file at path with mode, exactly (not
// reduced by the umask); an existing file is left as it is.
func createFile(out io.Writer, path string, mode fs.FileMode, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(out, "Created %s (mode %04o)\n", path, mode)
	return nil
}

// usersFileHasUsers reports whether the users file has a line that is not
// blank or a comment.
func usersFileHasUsers(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read users file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) > 0 && line[0] != '#' {
			return true, nil
		}
	}
	return false, nil
}
