package server

import (
	"os"
	"strings"
	"testing"
)

// A reload whose config file goes in while the users file is refused says
// both: an error naming only the users file read as if nothing changed.
func TestReloadSaysWhatWentIn(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	cfg := srv.Config()
	yaml := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\nbanner: \"new banner\"\n"
	if err := os.WriteFile(cfg.Path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
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
