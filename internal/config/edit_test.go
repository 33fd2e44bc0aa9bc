package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditKeepsCommentsAndOrder(t *testing.T) {
	in := `# tlntsvr settings
listen: [":2323"]   # where
max_connections: 64 # tlntadmn maxconn
# the banner
banner: "hello"
lockout: {attempts: 10, window: 10m, duration: 15m}
users_file: dev/users
`
	out, cfg, err := Edit([]byte(in), "/etc/x/tlntsvr.yaml", []Setting{
		{Key: "max_connections", Value: "1"},
		{Key: "lockout.attempts", Value: "5"},
		{Key: "idle_timeout", Value: "2h"},
		{Key: "users_file", Value: "other/users"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# tlntsvr settings", "# where", "max_connections: 1 # tlntadmn maxconn",
		"# the banner", "attempts: 5", "idle_timeout: 2h", "users_file: other/users"} {
		if !strings.Contains(s, want) {
			t.Errorf("edited file lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "listen") > strings.Index(s, "max_connections") || strings.Index(s, "banner") > strings.Index(s, "idle_timeout") {
		t.Errorf("order changed:\n%s", s)
	}
	if cfg.MaxConnections != 1 || cfg.Lockout.Attempts != 5 || cfg.UsersFile != "/etc/x/other/users" {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestEditRefusesBadValues(t *testing.T) {
	for _, ch := range []Setting{
		{Key: "max_connections", Value: "0"},
		{Key: "maxconn", Value: "3"},
		{Key: "mode", Value: "fancy"},
		{Key: "idle_timeout", Value: "soon"},
	} {
		if _, _, err := Edit([]byte("banner: x\n"), "c.yaml", []Setting{ch}); err == nil {
			t.Errorf("Edit(%s=%s) accepted", ch.Key, ch.Value)
		} else if !strings.Contains(err.Error(), ch.Key) {
			t.Errorf("Edit(%s=%s) error %q does not name the key", ch.Key, ch.Value, err)
		}
	}
}

func TestEditFileAtomicKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err := EditFile(p, []Setting{{Key: "max_failed_logons", Value: "7"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxFailedLogons != 7 {
		t.Errorf("MaxFailedLogons = %d", cfg.MaxFailedLogons)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	again, err := Load(p)
	if err != nil || again.MaxFailedLogons != 7 {
		t.Errorf("reload: %v %+v", err, again)
	}
}
