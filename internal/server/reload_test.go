package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// writeConfigFile writes the test server's config file (newTestServer only
// parses its settings) with extra settings after its own, as an admin's
// edit the daemon has not read yet; it returns the settings in force.
func writeConfigFile(t *testing.T, srv *Server, extra string) *config.Config {
	t.Helper()
	cfg := srv.Config()
	yaml := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\n" + extra
	if err := os.WriteFile(cfg.Path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A reload whose config file goes in while the users file is refused says
// both: an error naming only the users file read as if nothing changed.
func TestReloadSaysWhatWentIn(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	cfg := writeConfigFile(t, srv, "banner: \"new banner\"\n")
	if err := os.WriteFile(cfg.UsersFile, []byte("not a users line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Reload()
	if err == nil || !strings.Contains(err.Error(), "the config file's changes are in force (banner)") || !strings.Contains(err.Error(), cfg.UsersFile) {
		t.Fatalf("Reload = %+v, %v; want the banner in force and the users file's error", res, err)
	}
	if got := srv.Config().Banner; got != "new banner" {
		t.Errorf("banner in force %q, want the new one", got)
	}
}

// A change through tlntadmn puts the whole file in force, so an edit made
// by hand since the last reload goes in with it: the answer names it.
func TestChangeConfigNamesPendingEdits(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	writeConfigFile(t, srv, "banner: \"edited by hand\"\n")
	resp, err := srv.ChangeConfig([]admin.Setting{{Key: "max_connections", Value: "5"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resp.Applied, []string{"max_connections"}) || !slices.Equal(resp.AlsoApplied, []string{"banner"}) {
		t.Errorf("ChangeConfig = %+v; want max_connections applied, banner also applied", resp)
	}
	if got := srv.Config(); got.MaxConnections != 5 || got.Banner != "edited by hand" {
		t.Errorf("in force: max_connections %d, banner %q", got.MaxConnections, got.Banner)
	}
}

// A reload refuses a config file others can write, or one whose
// login_script others can change, naming it and the fix; the settings in
// force stay.
func TestReloadRefusesFilesOthersCanWrite(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfigFile(t, srv, "banner: \"edited by another user\"\n")
	if err := os.Chmod(cfg.Path, 0o646); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Reload(); err == nil || !strings.Contains(err.Error(), "chmod go-w "+cfg.Path) {
		t.Errorf("Reload of a world-writable config file: %v; want it refused, naming the fix", err)
	}
	if err := os.Chmod(cfg.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	writeConfigFile(t, srv, "login_script: "+filepath.Join(open, "login.sh")+"\n")
	if _, err := srv.Reload(); err == nil || !strings.Contains(err.Error(), "login_script") || !strings.Contains(err.Error(), open) {
		t.Errorf("Reload with login_script in a directory others can write: %v; want it refused", err)
	}
	if got := srv.Config(); got.Banner == "edited by another user" || got.LoginScript != "" {
		t.Errorf("in force: banner %q, login_script %q; want neither", got.Banner, got.LoginScript)
	}
}
