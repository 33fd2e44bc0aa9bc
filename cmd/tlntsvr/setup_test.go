package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// install's files: a valid config, an empty users file 0600 and the two
// groups 0640, whatever the umask; run again, it changes nothing.
func TestSetupFiles(t *testing.T) {
	old := syscall.Umask(0o002) // a loose umask must not loosen the modes
	defer syscall.Umask(old)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etc", "tlntsvr.yaml")
	var out bytes.Buffer
	hasUsers, err := setupFiles(&out, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if hasUsers {
		t.Error("a new users file has users")
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuditLog != "/var/log/tlntsvr/audit.log" || cfg.UsersFile != filepath.Join(dir, "etc", "users") {
		t.Errorf("config: audit_log %q, users_file %q", cfg.AuditLog, cfg.UsersFile)
	}
	for _, f := range []struct {
		path    string
		mode    os.FileMode
		content string
	}{
		{cfgPath, 0o644, installConfig},
		{cfg.UsersFile, 0o600, ""},
		{cfg.GroupsFile, 0o640, "telnet-clients:\nadministrators:\n"},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
		if b, _ := os.ReadFile(f.path); string(b) != f.content {
			t.Errorf("%s: %q, want %q", f.path, b, f.content)
		}
		if !strings.Contains(out.String(), "Created "+f.path) {
			t.Errorf("output does not name %s:\n%s", f.path, out.String())
		}
	}

	if err := os.WriteFile(cfg.UsersFile, []byte("# a comment\nalice:$2y$10$x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if hasUsers, err = setupFiles(&out, cfgPath); err != nil || !hasUsers {
		t.Errorf("second run: users %v, err %v", hasUsers, err)
	}
	if out.Len() != 0 {
		t.Errorf("second run created files:\n%s", out.String())
	}
	if b, _ := os.ReadFile(cfg.UsersFile); !strings.Contains(string(b), "alice") {
		t.Error("second run changed the users file")
	}
}

func TestSetupFilesRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tlntsvr.yaml")
	if err := os.WriteFile(cfgPath, []byte("max_connections: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := setupFiles(&bytes.Buffer{}, cfgPath); err == nil || !strings.Contains(err.Error(), "max_connections") {
		t.Errorf("err %v", err)
	}
}
