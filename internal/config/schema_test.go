package config

import "testing"

// The daemon's rules come from the schema: which settings wait for a
// restart and which only root may change, whole mappings and their keys
// alike. The keys listed here must keep their rules (a key that lost
// rootOnly would let the admin group choose what runs as root); a new key
// may have either.
func TestRules(t *testing.T) {
	for _, k := range []string{"listen", "admin_socket", "admin_os_group", "audit_log"} {
		if !NeedsRestart(k) {
			t.Errorf("%s applies live; the daemon binds it at start", k)
		}
	}
	for _, k := range []string{"listen", "users_file", "groups_file", "clients_group", "admins_group",
		"shell", "login_script", "accept_env", "admin_socket", "admin_os_group", "audit_log"} {
		if !RootOnly(k) {
			t.Errorf("%s may be changed by the admin group; only root may", k)
		}
	}
	for _, k := range []string{"max_connections", "banner", "mode", "idle_timeout", "lockout", "lockout.window"} {
		if NeedsRestart(k) || RootOnly(k) {
			t.Errorf("%s: the admin group changes it, live", k)
		}
	}
	if NeedsRestart("nope") || RootOnly("lockout.nope") {
		t.Error("an unknown key has a rule")
	}
}

// WithStartSettings keeps the settings bound at start, and only those, and
// shares nothing with either config.
func TestWithStartSettings(t *testing.T) {
	started := Default()
	next := Default()
	next.Listen = []string{":2323"}
	next.AuditLog = "/var/log/x"
	next.MaxConnections = 5
	got := next.WithStartSettings(&started)
	if got.Listen[0] != ":23" || got.AuditLog != "" || got.MaxConnections != 5 {
		t.Errorf("WithStartSettings = %+v", *got)
	}
	got.Listen[0] = "changed"
	if started.Listen[0] != ":23" {
		t.Error("WithStartSettings shares listen with the started config")
	}
}
