package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An admin_os_group that is not a group of the host fails check-config,
// naming the file and the key, as it would fail the daemon's start.
func TestCheckConfigAdminOSGroup(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"users": "", "groups": "telnet-clients:\nadministrators:\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write := func(group string) string {
		p := filepath.Join(dir, "tlntsvr.yaml")
		cfg := "users_file: users\ngroups_file: groups\nadmin_os_group: " + group + "\n"
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var out bytes.Buffer
	p := write("tlntsvr-no-such-group")
	err := checkConfig(&out, p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), p+": admin_os_group:") || !strings.Contains(err.Error(), "groupadd") {
		t.Errorf("check-config with an unknown admin_os_group: %v", err)
	}
	if err := checkConfig(&out, write("root")); err != nil {
		t.Errorf("check-config with admin_os_group root: %v", err)
	}
}
