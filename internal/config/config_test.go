package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	examplePath = "../../configs/tlntsvr.yaml"
	devPath     = "../../configs/dev.yaml"
)

// The defaults are the schema's (docs_test.go checks them against the
// docs and the example config); here, that each call has its own, and
// that they pass the file's own checks.
func TestDefault(t *testing.T) {
	got := Default()
	got.Listen[0] = "changed"
	if Default().Listen[0] != ":23" {
		t.Fatal("Default() shares its Listen slice between calls")
	}
	want := Default()
	if c, err := Parse(render(&want), ""); err != nil {
		t.Fatalf("defaults, written out, do not parse: %v", err)
	} else if !sameSettings(c, &want) {
		t.Fatalf("defaults, written out, read back as\n%+v\nwant\n%+v", *c, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "\n\n", "# only a comment\n", "---\n", "~\n", "--- # doc\n...\n"} {
		c, err := Parse([]byte(data), "t.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", data, err)
			continue
		}
		want := Default()
		want.Path = "t.yaml"
		if !sameSettings(c, &want) {
			t.Errorf("Parse(%q) = %+v, want the defaults", data, *c)
		}
	}
}

// everyKey sets every key to a value other than its default.
const everyKey = `listen:
  - "0.0.0.0:2323"
  - "[::]:2323"
  - "localhost:0"
listen_tls: ["127.0.0.1:992"]
tls:
  cert_file: /srv/tls/cert.pem
  key_file: /srv/tls/key.pem
  min_version: "1.3"
  require: true
  client_ca_file: /srv/tls/clients.pem
banner: |-
  Lab gear
  	tabbed line
max_connections: 100000
max_startups: 1000
per_source_max_startups: 4
source_netblock: [24, 48]
penalty_exempt: [192.0.2.10, "2001:db8:1::/48"]
allow: [10.0.0.0/8, "::1"]
deny: [10.66.0.0/16]
max_failed_logons: 5
login_timeout: 1m30s
idle_timeout: 2h
idle_warning: 5m
mode: stream
users_file: /srv/users
groups_file: /srv/groups
clients_group: lab-users
admins_group: wheel
shell: /bin/sh
login_script: /etc/tlntsvr/login.sh
accept_env: [TERM, "LC_*", "XDG_*", COLORTERM]
allow_root: true
refuse_locked_accounts: false
end_tasks_on_disconnect: false
session_limits: {tasks: 100, memory: 1GiB}
record: {dir: /var/log/tlntsvr/sessions, input: true, max_bytes: 1GiB}
shadow_notice: false
lockout: {attempts: 0, window: 0, duration: 0s}
proxy_protocol:
  from: ["10.0.0.0/24", "2001:db8::7", "::ffff:192.0.2.0/120"]
metrics_listen: "127.0.0.1:9323"
admin_socket: /run/lab/admin.sock
admin_os_group: telnet-admins
audit_log: /var/log/tlntsvr/audit.json
`

func TestParseEveryKey(t *testing.T) {
	data := everyKey
	want := Config{
		Listen:               []string{"0.0.0.0:2323", "[::]:2323", "localhost:0"},
		ListenTLS:            []string{"127.0.0.1:992"},
		TLS:                  TLS{CertFile: "/srv/tls/cert.pem", KeyFile: "/srv/tls/key.pem", MinVersion: TLS13, Require: true, ClientCAFile: "/srv/tls/clients.pem"},
		Banner:               "Lab gear\n\ttabbed line",
		MaxConnections:       100000,
		MaxStartups:          1000,
		PerSourceMaxStartups: 4,
		SourceNetblock:       Netblock{IPv4: 24, IPv6: 48},
		PenaltyExempt:        CIDRs{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8:1::/48")},
		Allow:                CIDRs{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Deny:                 CIDRs{netip.MustParsePrefix("10.66.0.0/16")},
		MaxFailedLogons:      5,
		LoginTimeout:         90 * time.Second,
		IdleTimeout:          2 * time.Hour,
		IdleWarning:          5 * time.Minute,
		Mode:                 ModeStream,
		UsersFile:            "/srv/users",
		GroupsFile:           "/srv/groups",
		ClientsGroup:         "lab-users",
		AdminsGroup:          "wheel",
		Shell:                "/bin/sh",
		LoginScript:          "/etc/tlntsvr/login.sh",
		AcceptEnv:            []string{"TERM", "LC_*", "XDG_*", "COLORTERM"},
		AllowRoot:            true,
		RefuseLockedAccounts: false,
		EndTasksOnDisconnect: false,
		SessionLimits:        SessionLimits{Tasks: 100, Memory: 1 << 30},
		Record:               Record{Dir: "/var/log/tlntsvr/sessions", Input: true, MaxBytes: 1 << 30},
		ShadowNotice:         false,
		Lockout:              Lockout{},
		ProxyProtocol:        ProxyProtocol{From: []string{"10.0.0.0/24", "2001:db8::7", "::ffff:192.0.2.0/120"}},
		MetricsListen:        "127.0.0.1:9323",
		AdminSocket:          "/run/lab/admin.sock",
		AdminOSGroup:         "telnet-admins",
		AuditLog:             "/var/log/tlntsvr/audit.json",
		Path:                 "/etc/tlntsvr/tlntsvr.yaml",
	}
	c, err := Parse([]byte(data), "/etc/tlntsvr/tlntsvr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !sameSettings(c, &want) {
		t.Fatalf("got\n%+v\nwant\n%+v", *c, want)
	}
	// The test covers every key of the schema.
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if _, ok := doc[f.key]; !ok {
			t.Errorf("key %s is not exercised", f.key)
		}
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name, data string
		check      func(*Config) bool
	}{
		{"keys left out keep defaults", "max_connections: 5\n", func(c *Config) bool {
			d := Default()
			d.MaxConnections, d.Path = 5, c.Path
			return sameSettings(c, &d)
		}},
		{"partial lockout keeps the rest", "lockout:\n  attempts: 3\n", func(c *Config) bool {
			return c.Lockout == Lockout{Attempts: 3, Window: 10 * time.Minute, Duration: 15 * time.Minute}
		}},
		{"idle_timeout 0 with any warning", "idle_timeout: 0\nidle_warning: 2h\n", func(c *Config) bool {
			return c.IdleTimeout == 0 && c.IdleWarning == 2*time.Hour
		}},
		{"idle_warning 0", "idle_warning: 0s\n", func(c *Config) bool { return c.IdleWarning == 0 }},
		{"yes/no booleans", "end_tasks_on_disconnect: no\n", func(c *Config) bool { return !c.EndTasksOnDisconnect }},
		{"empty strings", "banner: \"\"\nshell:\nlogin_script: ~\naudit_log: ''\nadmin_os_group:\n", func(c *Config) bool {
			return c.Banner == "" && c.Shell == "" && c.LoginScript == "" && c.AuditLog == "" && c.AdminOSGroup == ""
		}},
		{"numbers as strings", "banner: 42\nclients_group: 1000\n", func(c *Config) bool {
			return c.Banner == "42" && c.ClientsGroup == "1000"
		}},
		{"escaped line break in banner", `banner: "a\nb\tc"` + "\n", func(c *Config) bool { return c.Banner == "a\nb\tc" }},
		{"banner at the size limit", "banner: " + strings.Repeat("x", maxBannerBytes) + "\n", func(c *Config) bool { return len(c.Banner) == maxBannerBytes }},
		{"empty accept_env", "accept_env: []\n", func(c *Config) bool { return len(c.AcceptEnv) == 0 }},
		{"listen forms", `listen: [":0", "[fe80::1%eth0]:23", "[::ffff:192.0.2.1]:65535", "Host-1.example:23", "[::1]:23", "127.0.0.1:23"]` + "\n", func(c *Config) bool {
			return len(c.Listen) == 6
		}},
		{"aliases", "max_failed_logons: &n 7\nmax_connections: *n\n", func(c *Config) bool {
			return c.MaxConnections == 7 && c.MaxFailedLogons == 7
		}},
		{"explicit document markers", "---\nmode: stream\n...\n", func(c *Config) bool { return c.Mode == ModeStream }},
		{"CRLF line ends", "mode: stream\r\nmax_connections: 9\r\n", func(c *Config) bool { return c.Mode == ModeStream && c.MaxConnections == 9 }},
		{"byte order mark", "\ufeffmode: stream\n", func(c *Config) bool { return c.Mode == ModeStream }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.data), "t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected result %+v", *c)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	data := []byte("users_file: users\ngroups_file: ./sub/../groups\naudit_log: log/audit.json\n")
	c, err := Parse(data, "/srv/tlntsvr/tlntsvr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.UsersFile != "/srv/tlntsvr/users" || c.GroupsFile != "/srv/tlntsvr/groups" || c.AuditLog != "/srv/tlntsvr/log/audit.json" {
		t.Errorf("resolved against the config's directory: %q %q %q", c.UsersFile, c.GroupsFile, c.AuditLog)
	}
	c, err = Parse(data, "configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.UsersFile != "configs/users" {
		t.Errorf("relative config path: users_file = %q, want configs/users", c.UsersFile)
	}
	c, err = Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.UsersFile != "users" || c.GroupsFile != "./sub/../groups" {
		t.Errorf("without a config path, paths stay as written: %q %q", c.UsersFile, c.GroupsFile)
	}
}

// want is an expected problem: File, Line and Key exactly, Msg a substring.
type want = FieldError

func TestParseErrors(t *testing.T) {
	const f = "t.yaml"
	w := func(line int, key, msg string) want { return want{File: f, Line: line, Key: key, Msg: msg} }
	tests := []struct {
		name, data string
		want       []want
	}{
		// Structure.
		{"tls cert without key", "tls: {cert_file: c.pem}\n", []want{w(1, "tls.key_file", "must name the private key of tls.cert_file")}},
		{"tls key without cert", "tls:\n  key_file: k.pem\n", []want{w(2, "tls.cert_file", "must name the certificate of tls.key_file")}},
		{"listen_tls without cert", "listen_tls: [\":992\"]\n", []want{w(1, "listen_tls", "needs a certificate")}},
		{"require without cert", "tls:\n  require: true\n", []want{w(2, "tls.require", "needs a certificate")}},
		{"tls min_version", "tls: {min_version: \"1.1\"}\n", []want{w(1, "tls.min_version", `must be "1.2" or "1.3"`)}},
		{"listen every address and one", "listen: [\":23\", \"0.0.0.0:23\"]\n", []want{w(1, "listen", `entry 2: "0.0.0.0:23" cannot be listened on beside listen entry 1 (":23"): ":23" already takes port 23 on every address, IPv4 and IPv6`)}},
		{"listen every IPv4 address and one", "listen:\n  - 127.0.0.1:23\n  - 0.0.0.0:023\n", []want{w(1, "listen", `entry 2: "0.0.0.0:023" cannot be listened on beside listen entry 1 ("127.0.0.1:23"): "0.0.0.0:23" already takes port 23 on every IPv4 address`)}},
		{"listen every IPv6 address and one", "listen: [\"[::1]:23\", \"[::]:23\"]\n", []want{w(1, "listen", `already takes port 23 on every IPv6 address`)}},
		{"listen_tls on a listen address", "listen: [\":992\"]\nlisten_tls: [\"127.0.0.1:992\"]\ntls: {cert_file: c, key_file: k}\n", []want{w(2, "listen_tls", `entry 1: "127.0.0.1:992" cannot be listened on beside listen entry 1 (":992")`)}},
		{"listen mapped and plain IPv4", "listen: [\"[::ffff:127.0.0.1]:23\", \"127.0.0.1:23\"]\n", []want{w(1, "listen", `entry 2: "127.0.0.1:23" cannot be listened on beside listen entry 1 ("[::ffff:127.0.0.1]:23"): it is the same address`)}},
		{"listen_tls same as listen", "listen: [\"127.0.0.1:992\"]\nlisten_tls: [\"127.0.0.1:992\"]\ntls: {cert_file: c, key_file: k}\n", []want{w(2, "listen_tls", `it is the same address`)}},
		{"listen_tls duplicate", "listen_tls: [\":992\", \":992\"]\ntls: {cert_file: c, key_file: k}\n", []want{w(1, "listen_tls", "same address as entry 1")}},
		{"proxy_protocol host bits", "proxy_protocol: {from: [10.0.0.7/24]}\n", []want{w(1, "proxy_protocol.from", "write 10.0.0.0/24 for the network, or 10.0.0.7/32 for the one host")}},
		{"proxy_protocol not a prefix", "proxy_protocol:\n  from: [lb.example.com]\n", []want{w(2, "proxy_protocol.from", "entry 1: \"lb.example.com\" is neither an address nor a CIDR prefix")}},
		{"proxy_protocol duplicate", "proxy_protocol: {from: [192.0.2.1, 192.0.2.1/32]}\n", []want{w(1, "proxy_protocol.from", "entry 2: \"192.0.2.1/32\" is the same prefix as entry 1")}},
		{"proxy_protocol not a list", "proxy_protocol: {from: 10.0.0.0/8}\n", []want{w(1, "proxy_protocol.from", "must be a list of the load balancers' addresses")}},
		{"metrics_listen", "metrics_listen: 9323\n", []want{w(1, "metrics_listen", "has no host part")}},
		{"unknown key", "banner: hi\nbogus: 1\n", []want{w(2, "bogus", "unknown key; accepted keys: listen, listen_tls, tls, banner,")}},
		{"unknown key suggestion", "max_conections: 5\n", []want{w(1, "max_conections", "did you mean max_connections?")}},
		{"windows name", "maxfail: 5\n", []want{w(1, "maxfail", "did you mean max_failed_logons?")}},
		{"unknown key in lockout", "lockout:\n  attempts: 5\n  windw: 1m\n", []want{w(3, "lockout.windw", "did you mean window?); accepted keys in lockout: attempts, window, duration")}},
		{"odd key quoted", "\"a b\": 1\n", []want{w(1, `"a b"`, "unknown key")}},
		{"merge key", "<<: {banner: x}\n", []want{w(1, `"<<"`, "merge keys")}},
		{"non-scalar key", "? [a]\n: b\n", []want{w(1, "", "keys must be plain names")}},
		{"duplicate key", "banner: a\nmode: console\nbanner: b\n", []want{w(3, "banner", "duplicate key; first set on line 1")}},
		{"duplicate key in lockout", "lockout:\n  window: 1m\n  window: 2m\n", []want{w(3, "lockout.window", "duplicate key; first set on line 2")}},
		{"list document", "- banner\n", []want{w(1, "", "must be a YAML mapping of settings")}},
		{"scalar document", "\n\nhello\n", []want{w(3, "", "must be a YAML mapping of settings")}},
		{"two documents", "mode: console\n---\nmode: stream\n", []want{w(2, "", "only one YAML document")}},
		{"syntax error", "banner: a\nlisten:\n\t- x\n", []want{w(3, "", "invalid YAML: found character that cannot start any token")}},
		{"syntax error on line 1", "banner: a: b\n", []want{w(1, "", "invalid YAML: mapping values are not allowed")}},
		{"control byte in file", "banner: hi\nmode: con\x01sole\n", []want{w(2, "", "control character U+0001 is not allowed")}},
		{"not UTF-8", "banner: hi\n\nbanner: caf\xe9\n", []want{w(3, "", "must be UTF-8 text; found the byte 0xe9")}},
		{"too large", "#" + strings.Repeat("x", MaxFileSize), []want{{File: f, Msg: "larger than 1048576 bytes"}}},
		// Types.
		{"list for string", "banner: [a, b]\n", []want{w(1, "banner", "must be a string; got a list")}},
		{"mapping for string", "mode:\n  a: b\n", []want{w(2, "mode", "must be a string; got a mapping")}},
		{"string for list", "listen: \":23\"\n", []want{w(1, "listen", `must be a list of host:port addresses, such as [":23"]`)}},
		{"null for list", "accept_env:\n", []want{w(1, "accept_env", "must be a list of variable names")}},
		{"quoted number", "max_connections: \"64\"\n", []want{w(1, "max_connections", `must be a whole number from 1 to 100000; got "64"`)}},
		{"float for int", "max_connections: 1.5\n", []want{w(1, "max_connections", "got 1.5")}},
		{"hex int", "max_connections: 0x40\n", []want{w(1, "max_connections", "in decimal")}},
		{"huge int", "max_connections: 99999999999999999999999\n", []want{w(1, "max_connections", "from 1 to 100000")}},
		{"string for bool", "end_tasks_on_disconnect: \"true\"\n", []want{w(1, "end_tasks_on_disconnect", `must be true or false; got "true"`)}},
		{"int for bool", "end_tasks_on_disconnect: 1\n", []want{w(1, "end_tasks_on_disconnect", "must be true or false; got 1")}},
		{"list for duration", "idle_timeout: [1h]\n", []want{w(1, "idle_timeout", "must be a duration such as 90s")}},
		{"scalar for lockout", "lockout: 5\n", []want{w(1, "lockout", "must be a mapping such as {attempts: 10")}},
		{"list entry not a string", "listen:\n  - \":23\"\n  - [a]\n", []want{w(3, "listen", "entry 2 must be a string; got a list")}},
		{"binary tag", "banner: !!binary aGk=\n", []want{w(1, "banner", "tagged !!binary")}},
		// Network edge.
		{"cidr host bits", "allow: [10.1.2.3/8]\n", []want{w(1, "allow", "entry 1: \"10.1.2.3/8\" has bits set past its prefix length; write 10.0.0.0/8 for the block, or 10.1.2.3/32")}},
		{"cidr not an address", "deny: [10.0.0.0/8, example.com]\n", []want{w(1, "deny", "entry 2: \"example.com\" is not an address or network block")}},
		{"cidr bad length", "deny: [10.0.0.0/33]\n", []want{w(1, "deny", "is not a network block")}},
		{"cidr 4in6", "penalty_exempt: [\"::ffff:10.0.0.0/104\"]\n", []want{w(1, "penalty_exempt", "write the IPv4 block")}},
		{"cidr zone", "allow: [\"fe80::1%eth0\"]\n", []want{w(1, "allow", "is not an address or network block")}},
		{"cidrs not a list", "allow: 10.0.0.0/8\n", []want{w(1, "allow", "must be a list of network blocks")}},
		{"netblock one entry", "source_netblock: [24]\n", []want{w(1, "source_netblock", "must be a list of two prefix lengths")}},
		{"netblock too long", "source_netblock: [33, 64]\n", []want{w(1, "source_netblock", "entry 1 must be a prefix length from 1 to 32; got 33")}},
		{"netblock zero", "source_netblock: [24, 0]\n", []want{w(1, "source_netblock", "entry 2 must be a prefix length from 1 to 128; got 0")}},
		{"netblock words", "source_netblock: [a, b]\n", []want{w(1, "source_netblock", "entry 1 must be a prefix length")}},
		{"max_startups too big", "max_startups: 10001\n", []want{w(1, "max_startups", "from 1 to 10000")}},
		{"per_source_max_startups 0", "per_source_max_startups: 0\n", []want{w(1, "per_source_max_startups", "from 1 to 10000")}},
		// Durations.
		{"duration without unit", "login_timeout: 60\n", []want{w(1, "login_timeout", "60 has no unit (write 60s for seconds)")}},
		{"bad duration", "idle_timeout: 1 hour\n", []want{w(1, "idle_timeout", `(units ms, s, m, h); got "1 hour"`)}},
		{"negative duration", "idle_warning: -1s\n", []want{w(1, "idle_warning", "must not be negative")}},
		{"zero login_timeout", "login_timeout: 0s\n", []want{w(1, "login_timeout", "must be more than 0")}},
		{"warning not shorter", "idle_timeout: 1h\nidle_warning: 1h\n", []want{w(2, "idle_warning", "must be shorter than idle_timeout (1h); 0 = no warning")}},
		{"timeout below default warning", "idle_timeout: 30s\n", []want{w(1, "idle_timeout", "must be longer than idle_warning (1m), or 0 for never")}},
		{"lockout window zero", "lockout: {attempts: 5, window: 0}\n", []want{w(1, "lockout.window", "must be more than 0 while lockout.attempts is more than 0")}},
		{"lockout duration zero", "lockout:\n  duration: 0s\n", []want{w(2, "lockout.duration", "must be more than 0 while lockout.attempts")}},
		{"lockout negative window", "lockout:\n  window: -5m\n", []want{w(2, "lockout.window", "must not be negative")}},
		// Integers.
		{"max_connections 0", "max_connections: 0\n", []want{w(1, "max_connections", "must be a whole number from 1 to 100000; got 0")}},
		{"max_connections too big", "max_connections: 100001\n", []want{w(1, "max_connections", "from 1 to 100000")}},
		{"max_failed_logons 0", "max_failed_logons: 0\n", []want{w(1, "max_failed_logons", "from 1 to 100; got 0")}},
		{"max_failed_logons too big", "max_failed_logons: 101\n", []want{w(1, "max_failed_logons", "from 1 to 100")}},
		{"lockout attempts negative", "lockout:\n  attempts: -1\n", []want{w(2, "lockout.attempts", "from 0 to 100000")}},
		// listen.
		{"empty listen", "listen: []\n", []want{w(1, "listen", "must list at least one host:port address")}},
		{"port only", "listen: [2323]\n", []want{w(1, "listen", `entry 1: "2323" has no host part; write ":2323" for port 2323 on every address`)}},
		{"no port", "listen: [\"localhost\"]\n", []want{w(1, "listen", `entry 1: "localhost" is not host:port (missing port in address); write host:port`)}},
		{"IPv6 without brackets", "listen: [\"::1:23\"]\n", []want{w(1, "listen", "entry 1: \"::1:23\": an IPv6 address must be in brackets")}},
		{"named port", "listen: [\":telnet\"]\n", []want{w(1, "listen", "the port must be a number from 0 to 65535")}},
		{"port too big", "listen: [\":65536\"]\n", []want{w(1, "listen", "the port must be a number from 0 to 65535")}},
		{"empty port", "listen: [\"127.0.0.1:\"]\n", []want{w(1, "listen", "the port must be a number")}},
		{"bad host", "listen:\n  - \":23\"\n  - \"bad_host!:23\"\n", []want{w(3, "listen", `entry 2: "bad_host!:23": "bad_host!" is neither an IP address nor a host name`)}},
		{"bracketed name", "listen: [\"[localhost]:23\"]\n", []want{w(1, "listen", "neither an IP address nor a host name")}},
		{"duplicate address", "listen:\n  - \"[::1]:23\"\n  - \":24\"\n  - \"[0::1]:023\"\n", []want{w(4, "listen", `entry 3: "[0::1]:023" is the same address as entry 1`)}},
		// mode.
		{"bad mode", "mode: Console\n", []want{w(1, "mode", `must be console or stream; got "Console"`)}},
		// Paths.
		{"empty users_file", "users_file: \"\"\n", []want{w(1, "users_file", "must not be empty; write the users file")}},
		{"null groups_file", "groups_file:\n", []want{w(1, "groups_file", "must not be empty")}},
		{"relative admin_socket", "admin_socket: admin.sock\n", []want{w(1, "admin_socket", "must be an absolute path such as /run/tlntsvr/admin.sock")}},
		{"empty admin_socket", "admin_socket: ''\n", []want{w(1, "admin_socket", "must not be empty")}},
		{"long admin_socket", "admin_socket: /" + strings.Repeat("s", 107) + "\n", []want{w(1, "admin_socket", "at most 107 bytes")}},
		{"relative shell", "shell: bash\n", []want{w(1, "shell", `must be an absolute path such as /bin/bash, or "" for the account's login shell; got "bash"`)}},
		{"relative login_script", "login_script: login.sh\n", []want{w(1, "login_script", "must be an absolute path")}},
		{"control in path", "audit_log: \"/var/log/a\\tb\"\n", []want{w(1, "audit_log", "must not contain control characters")}},
		// Groups and names.
		{"group with space", "clients_group: telnet clients\n", []want{w(1, "clients_group", "without spaces, ':' or control characters")}},
		{"group with colon", "admins_group: \"a:b\"\n", []want{w(1, "admins_group", "without spaces, ':'")}},
		{"empty group", "clients_group: \"\"\n", []want{w(1, "clients_group", "must not be empty")}},
		{"admin_os_group with space", "admin_os_group: a b\n", []want{w(1, "admin_os_group", "without spaces")}},
		{"group starting with -", "clients_group: -clients\n", []want{w(1, "clients_group", "not starting with '-'")}},
		{"group with slash", "admins_group: a/b\n", []want{w(1, "admins_group", "with no '/'")}},
		{"group too long", "admin_os_group: " + strings.Repeat("g", 65) + "\n", []want{w(1, "admin_os_group", "at most 64 bytes")}},
		{"group with zero-width joiner", "clients_group: \"a\u200db\"\n", []want{w(1, "clients_group", "non-printing")}},
		{"accept_env star alone", "accept_env: [TERM, \"*\"]\n", []want{w(1, "accept_env", `entry 2 must be a variable name ([A-Za-z_][A-Za-z0-9_]*), optionally ending in *`)}},
		{"accept_env bad names", "accept_env:\n  - \"LC_**\"\n  - 1X\n  - A-B\n  - \"A*B\"\n  - \"\"\n", []want{
			w(2, "accept_env", "entry 1 must be a variable name"),
			w(3, "accept_env", "entry 2 must be a variable name"),
			w(4, "accept_env", "entry 3 must be a variable name"),
			w(5, "accept_env", "entry 4 must be a variable name"),
			w(6, "accept_env", "entry 5 must be a variable name"),
		}},
		// Banner.
		{"banner escape", "banner: \"\\e[31mred\"\n", []want{w(1, "banner", "control character U+001B at byte 0; only tab and line breaks")}},
		{"banner CR", "banner: \"a\\r\\nb\"\n", []want{w(1, "banner", "carriage return at byte 1")}},
		{"banner C1", "banner: \"a\\x9bb\"\n", []want{w(1, "banner", "U+009B")}},
		{"banner too long", "banner: " + strings.Repeat("x", maxBannerBytes+1) + "\n", []want{w(1, "banner", "at most 4096 bytes")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.data), f)
			if err == nil {
				t.Fatalf("no error; got %+v", *c)
			}
			if c != nil {
				t.Error("a config was returned with the error")
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func checkErrors(t *testing.T, err error, wants []want) {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not Errors: %v", err, err)
	}
	if len(es) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(es), len(wants), err)
	}
	for i, w := range wants {
		g := es[i]
		if g.File != w.File || g.Line != w.Line || g.Key != w.Key || !strings.Contains(g.Msg, w.Msg) {
			t.Errorf("problem %d:\n got %s\nwant %s (message containing %q)", i, g.Error(), FieldError{File: w.File, Line: w.Line, Key: w.Key, Msg: "..."}, w.Msg)
		}
	}
}

func TestParseReportsEveryError(t *testing.T) {
	data := `listen: [":23", ":23"]
banner: "\e"
max_connections: 0
bogus: true
login_timeout: 10
idle_timeout: 1h
idle_warning: 2h
mode: tty
lockout:
  attempts: x
  window: 0
  extra: 1
users_file: ""
shell: sh
accept_env: ["LC_*", "-"]
max_connections: 5
---
`
	c, err := Parse([]byte(data), "/etc/tlntsvr/tlntsvr.yaml")
	if c != nil || err == nil {
		t.Fatal("no error")
	}
	wantText := `/etc/tlntsvr/tlntsvr.yaml:1: listen: entry 2: ":23" is the same address as entry 1
/etc/tlntsvr/tlntsvr.yaml:2: banner: contains the control character U+001B at byte 0; only tab and line breaks (\n) are allowed
/etc/tlntsvr/tlntsvr.yaml:3: max_connections: must be a whole number from 1 to 100000; got 0
/etc/tlntsvr/tlntsvr.yaml:4: bogus: unknown key; accepted keys: ` + topKeys() + `
/etc/tlntsvr/tlntsvr.yaml:5: login_timeout: must be a duration such as 90s, 10m or 1h30m (units ms, s, m, h); 10 has no unit (write 10s for seconds)
/etc/tlntsvr/tlntsvr.yaml:7: idle_warning: must be shorter than idle_timeout (1h); 0 = no warning
/etc/tlntsvr/tlntsvr.yaml:8: mode: must be console or stream; got "tty"
/etc/tlntsvr/tlntsvr.yaml:10: lockout.attempts: must be a whole number from 0 to 100000; got "x"
/etc/tlntsvr/tlntsvr.yaml:12: lockout.extra: unknown key; accepted keys in lockout: attempts, window, duration
/etc/tlntsvr/tlntsvr.yaml:13: users_file: must not be empty; write the users file (htpasswd format, bcrypt hashes), e.g. /etc/tlntsvr/users
/etc/tlntsvr/tlntsvr.yaml:14: shell: must be an absolute path such as /bin/bash, or "" for the account's login shell; got "sh"
/etc/tlntsvr/tlntsvr.yaml:15: accept_env: entry 2 must be a variable name ([A-Za-z_][A-Za-z0-9_]*), optionally ending in * to match a prefix as in LC_*; got "-"
/etc/tlntsvr/tlntsvr.yaml:16: max_connections: duplicate key; first set on line 3
/etc/tlntsvr/tlntsvr.yaml:17: only one YAML document is allowed; another starts here (after ---)`
	if err.Error() != wantText {
		t.Fatalf("got\n%s\n\nwant\n%s", err, wantText)
	}
	// lockout.window: 0 is not reported: attempts was refused, so whether the
	// lockout is on is unknown.
}

// topKeys lists the schema's top-level keys as the unknown-key error does.
func topKeys() string {
	var ks []string
	for _, f := range fields {
		ks = append(ks, f.key)
	}
	return strings.Join(ks, ", ")
}

func TestParseCapsProblems(t *testing.T) {
	data := strings.Repeat("bogus: 1\n", 1000)
	_, err := Parse([]byte(data), "t.yaml")
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	if len(es) != maxProblems+1 {
		t.Fatalf("got %d problems, want %d", len(es), maxProblems+1)
	}
	if es[0].Line != 1 || es[maxProblems-1].Line != maxProblems {
		t.Errorf("problems not in file order: %v, %v", es[0], es[maxProblems-1])
	}
	if last := es[maxProblems].Error(); last != "t.yaml: 900 more problems not listed; is this the right file?" {
		t.Errorf("last problem: %q", last)
	}

	// A binary file gives a few lines of complaints, not one per line.
	_, err = Parse([]byte(strings.Repeat("\x00\n", 1000)), "t.yaml")
	if !errors.As(err, &es) || len(es) != 11 || es[0].Line != 1 || es[9].Line != 10 || !strings.Contains(es[10].Msg, "more lines") {
		t.Errorf("binary file: %v", err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "a.yaml", Line: 3, Key: "mode", Msg: "bad"}, "a.yaml:3: mode: bad"},
		{FieldError{File: "a.yaml", Key: "mode", Msg: "bad"}, "a.yaml: mode: bad"},
		{FieldError{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{FieldError{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
		{FieldError{Line: 3, Key: "mode", Msg: "bad"}, "line 3: mode: bad"},
		{FieldError{Key: "mode", Msg: "bad"}, "mode: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.e, got, tt.want)
		}
	}
	es := Errors{tests[0].e, tests[1].e}
	if got := es.Error(); got != "a.yaml:3: mode: bad\na.yaml: mode: bad" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestEnvAllowed(t *testing.T) {
	c := Default()
	c.AcceptEnv = append(c.AcceptEnv, "DISPLAY", "XDG_*")
	tests := []struct {
		name string
		want bool
	}{
		{"TERM", true},
		{"LANG", true},
		{"LC_ALL", true},
		{"LC_CTYPE", true},
		{"LC_", true},
		{"DISPLAY", true},
		{"XDG_SESSION_TYPE", true},
		{"LC", false},
		{"TERMINFO", false},
		{"term", false},
		{"LANGUAGE", false},
		{"LD_PRELOAD", false},
		{"PATH", false},
		{"DISPLAY2", false},
		{"", false},
		{"LC_ALL=C", false},
		{"LC_X\x00", false},
		{"LC_ X", false},
		{"LC_é", false},
	}
	for _, tt := range tests {
		if got := c.EnvAllowed(tt.name); got != tt.want {
			t.Errorf("EnvAllowed(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	none := Default()
	none.AcceptEnv = nil
	if none.EnvAllowed("TERM") {
		t.Error("an empty accept_env allows TERM")
	}
}

// TestExampleConfig keeps configs/tlntsvr.yaml equal to Default(), with every
// key present, so the documented defaults cannot drift from the code.
func TestExampleConfig(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != examplePath {
		t.Errorf("Path = %q", c.Path)
	}
	c.Path = ""
	if d := Default(); !sameSettings(c, &d) {
		t.Errorf("configs/tlntsvr.yaml differs from Default():\n got %+v\nwant %+v", *c, d)
	}
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		top, sub, nested := strings.Cut(k, ".")
		v, ok := doc[top]
		if m, _ := v.(map[string]any); nested {
			_, ok = m[sub]
		}
		if !ok {
			t.Errorf("the example has no %s", k)
		}
	}
	if hash := regexp.MustCompile(`\$2[aby]?\$[0-9]{2}\$[./A-Za-z0-9]{20,}`).Find(data); hash != nil {
		t.Errorf("the example contains a password hash: %s", hash)
	}
}

func TestDevConfig(t *testing.T) {
	c, err := Load(devPath)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = []string{"127.0.0.1:2323", "[::1]:2323"}
	want.UsersFile = filepath.Join("../../configs", "dev/users")
	want.GroupsFile = filepath.Join("../../configs", "dev/groups")
	want.AdminSocket = "/tmp/tlntsvr-dev/admin.sock"
	want.ListenTLS = []string{"127.0.0.1:2992"}
	want.AllowRoot = true
	want.Record.Dir = "/tmp/tlntsvr-dev/recordings"
	want.TLS.CertFile = filepath.Join("../../configs", "dev/cert.pem")
	want.TLS.KeyFile = filepath.Join("../../configs", "dev/key.pem")
	want.Path = devPath
	if !sameSettings(c, &want) {
		t.Errorf("configs/dev.yaml:\n got %+v\nwant %+v", *c, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(big)
	checkErrors(t, err, []want{{File: big, Msg: "larger than"}})

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("mode: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	checkErrors(t, err, []want{{File: bad, Line: 1, Key: "mode", Msg: "must be console or stream"}})

	if _, err := Load(dir); err == nil {
		t.Error("loading a directory worked")
	}
}

func TestSettings(t *testing.T) {
	c := Default()
	var got []string
	for _, s := range c.Settings() {
		got = append(got, s.Key+": "+s.Value)
	}
	wantLines := []string{
		`listen: [":23"]`,
		`banner: Welcome to tlntsvr Telnet Server`,
		`max_connections: 64`,
		`max_failed_logons: 3`,
		`login_timeout: 1m`,
		`idle_timeout: 1h`,
		`idle_warning: 1m`,
		`mode: console`,
		`users_file: /etc/tlntsvr/users`,
		`groups_file: /etc/tlntsvr/groups`,
		`clients_group: telnet-clients`,
		`admins_group: administrators`,
		`shell: ""`,
		`login_script: ""`,
		`accept_env: [TERM, LANG, LC_*]`,
		`end_tasks_on_disconnect: true`,
		`lockout.attempts: 10`,
		`lockout.window: 10m`,
		`lockout.duration: 15m`,
		`admin_socket: /run/tlntsvr/admin.sock`,
		`admin_os_group: ""`,
		`audit_log: ""`,
	}
	// Each line is there, in this order (keys added since may come between).
	i := 0
	for _, l := range got {
		if i < len(wantLines) && l == wantLines[i] {
			i++
		}
	}
	if i < len(wantLines) {
		t.Errorf("Settings():\n%s\nlacks, in order,\n%s", strings.Join(got, "\n"), strings.Join(wantLines[i:], "\n"))
	}
	if keys := Keys(); len(keys) != len(got) {
		t.Errorf("Keys() = %v", keys)
	}
}

// TestSettingsRoundTrip: every value Settings prints reads back, from a file
// and through Set, as the same value.
func TestSettingsRoundTrip(t *testing.T) {
	odd := Default()
	odd.Listen = []string{"[::1]:23", "0.0.0.0:2323", "host.example:0"}
	odd.Banner = "Line one: \"quoted\" # not a comment\n\tLine two \\ é\n"
	odd.LoginTimeout = 1500 * time.Millisecond
	odd.IdleTimeout = 0
	odd.IdleWarning = 90 * time.Minute
	odd.Mode = ModeStream
	odd.UsersFile = "/etc/tlnt svr/users: x"
	odd.GroupsFile = "'quoted'"
	odd.ClientsGroup = "123"
	odd.AdminsGroup = "true"
	odd.Shell = "/bin/sh"
	odd.AcceptEnv = []string{}
	odd.EndTasksOnDisconnect = false
	odd.Lockout = Lockout{}
	odd.AuditLog = "[audit].log"
	for _, c := range []Config{Default(), odd} {
		got, err := Parse(render(&c), "")
		if err != nil {
			t.Fatalf("%v\n%s", err, render(&c))
		}
		if !sameSettings(got, &c) {
			t.Errorf("round trip through a file:\n got %+v\nwant %+v\nfile:\n%s", *got, c, render(&c))
		}
		// Start where every value may be set in Settings' order.
		set := Default()
		set.Lockout.Attempts = 0
		set.IdleTimeout = 0
		for _, s := range c.Settings() {
			if err := set.Set(s.Key, s.Value); err != nil {
				t.Errorf("Set(%q, %q): %v", s.Key, s.Value, err)
			}
		}
		if d := diff(&set, &c); d != "" {
			t.Errorf("round trip through Set: %s", d)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(*Config) bool
		err        string // "" = success
	}{
		{"max_connections", "10", func(c *Config) bool { return c.MaxConnections == 10 }, ""},
		{"banner", "It's #1: hello", func(c *Config) bool { return c.Banner == "It's #1: hello" }, ""},
		{"banner", `"two\nlines"`, func(c *Config) bool { return c.Banner == "two\nlines" }, ""},
		{"banner", "", func(c *Config) bool { return c.Banner == "" }, ""},
		{"listen", "0.0.0.0:23, [::1]:23", func(c *Config) bool { return reflect.DeepEqual(c.Listen, []string{"0.0.0.0:23", "[::1]:23"}) }, ""},
		{"listen", `[":2323"]`, func(c *Config) bool { return reflect.DeepEqual(c.Listen, []string{":2323"}) }, ""},
		{"accept_env", "", func(c *Config) bool { return len(c.AcceptEnv) == 0 }, ""},
		{"idle_timeout", "0", func(c *Config) bool { return c.IdleTimeout == 0 }, ""},
		{"end_tasks_on_disconnect", "no", func(c *Config) bool { return !c.EndTasksOnDisconnect }, ""},
		{"lockout.window", "30m", func(c *Config) bool { return c.Lockout.Window == 30*time.Minute }, ""},
		{"lockout", "{attempts: 0, window: 0}", func(c *Config) bool { return c.Lockout == Lockout{Duration: 15 * time.Minute} }, ""},
		{"users_file", "users2", func(c *Config) bool { return c.UsersFile == "/etc/tlntsvr/users2" }, ""},
		{"max_connections", "0", nil, "max_connections: must be a whole number from 1 to 100000; got 0"},
		{"source_netblock", "24, 56", func(c *Config) bool { return c.SourceNetblock == Netblock{IPv4: 24, IPv6: 56} }, ""},
		{"source_netblock", "[16, 48]", func(c *Config) bool { return c.SourceNetblock == Netblock{IPv4: 16, IPv6: 48} }, ""},
		{"deny", "192.0.2.0/24, 2001:db8::1", func(c *Config) bool {
			return reflect.DeepEqual(c.Deny, CIDRs{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")})
		}, ""},
		{"allow", "", func(c *Config) bool { return len(c.Allow) == 0 }, ""},
		{"allow", "11.0.0.0/7", nil, "allow: entry 1: \"11.0.0.0/7\" has bits set past its prefix length"},
		{"idle_timeout", "30s", nil, "idle_timeout: must be longer than idle_warning (1m), or 0 for never"},
		{"idle_warning", "2h", nil, "idle_warning: must be shorter than idle_timeout (1h)"},
		{"lockout.window", "0", nil, "lockout.window: must be more than 0 while lockout.attempts is more than 0"},
		{"lockout", "5", nil, "lockout: must be a flow mapping"},
		{"lockout", "{attempts: 1, bad: 2}", nil, "lockout.bad: unknown key"},
		{"banner", `"unterminated`, nil, "banner: a value starting with a quote must be one YAML quoted string"},
		{"banner", "a\x1bb", nil, "banner: contains the control character U+001B"},
		{"listen", "[a, [b]", nil, "listen: must be a YAML flow list"},
		{"listen", "", nil, "listen: must list at least one"},
		{"maxconn", "5", nil, "maxconn: unknown key (did you mean max_connections?)"},
		{"lockout.nope", "5", nil, "lockout.nope: unknown key"},
		{"shell", "sh", nil, "shell: must be an absolute path"},
	}
	for _, tt := range tests {
		c := Default()
		c.Path = "/etc/tlntsvr/tlntsvr.yaml"
		before := *c.Clone()
		err := c.Set(tt.key, tt.value)
		if tt.err == "" {
			if err != nil {
				t.Errorf("Set(%q, %q): %v", tt.key, tt.value, err)
			} else if !tt.check(&c) {
				t.Errorf("Set(%q, %q): got %+v", tt.key, tt.value, c)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("Set(%q, %q) = %v, want an error starting %q", tt.key, tt.value, err, tt.err)
		}
		if !reflect.DeepEqual(c, before) {
			t.Errorf("Set(%q, %q) failed but changed the config", tt.key, tt.value)
		}
	}
}

func TestClone(t *testing.T) {
	c := Default()
	n := c.Clone()
	n.Listen[0] = "x"
	n.AcceptEnv[0] = "x"
	if c.Listen[0] != ":23" || c.AcceptEnv[0] != "TERM" {
		t.Fatal("Clone shares slices")
	}
}

// sameSettings reports whether a and b hold the same settings and Path,
// wherever in a file they were read from.
func sameSettings(a, b *Config) bool {
	x, y := *a, *b
	x.lines, y.lines = nil, nil
	return reflect.DeepEqual(x, y)
}

// diff names the fields where got and want differ.
func diff(got, want *Config) string {
	var out []string
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := 0; i < g.NumField(); i++ {
		if !g.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s = %#v, want %#v", g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface()))
		}
	}
	return strings.Join(out, "; ")
}

// render writes c as a configuration file, from Settings: a mapping's
// keys (lockout.window) under the mapping's.
func render(c *Config) []byte {
	var b strings.Builder
	parent := ""
	for _, s := range c.Settings() {
		if p, sub, ok := strings.Cut(s.Key, "."); ok {
			if p != parent {
				b.WriteString(p + ":\n")
				parent = p
			}
			b.WriteString("  " + sub + ": " + s.Value + "\n")
			continue
		}
		parent = ""
		b.WriteString(s.Key + ": " + s.Value + "\n")
	}
	return []byte(b.String())
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{examplePath, devPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		everyKey,
		"",
		"- a\n",
		"a: b: c\n",
		"listen: [\":23\", \"[::1]:23\", \"[::1]:023\"]\nbanner: \"\\e[1m\"\n",
		"lockout: {attempts: 5, window: 0, duration: -1s}\nidle_timeout: 30s\n",
		"max_failed_logons: &a 5\nmax_connections: *a\nlockout: *a\n",
		"<<: {banner: x}\nbanner: [a]\nbanner: b\n",
		"users_file: ../x\naudit_log: log\naccept_env: [\"LC_*\", \"*\"]\n",
		"banner: |\n  a\n  b\n---\nx: 1\n",
		"\xff\xfe\x00",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "dir/fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not a non-empty Errors: %#v", err)
			}
			for _, e := range es {
				if e.File != "dir/fuzz.yaml" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("bad problem %#v", e)
				}
			}
			return
		}
		// A config that parsed is written out by Settings, and reads back
		// the same, from a file and through Set.
		c.Path = ""
		again, err := Parse(render(c), "")
		if err != nil {
			t.Fatalf("rendered config does not parse: %v\n%s", err, render(c))
		}
		if !sameSettings(again, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *again, *c)
		}
		set := c.Clone()
		for _, s := range c.Settings() {
			if err := set.Set(s.Key, s.Value); err != nil {
				t.Fatalf("Set(%q, %q): %v", s.Key, s.Value, err)
			}
		}
		if !sameSettings(set, c) {
			t.Fatalf("Set round trip:\n got %+v\nwant %+v", *set, *c)
		}
	})
}

// KeyError names the line on which the file sets the key, as the parser's
// own errors do, and no line for a key the file leaves at its default.
func TestKeyError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tlntsvr.yaml")
	if err := os.WriteFile(p, []byte("# c\nbanner: hi\nlockout:\n  attempts: 3\n  window: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ key, want string }{
		{"banner", p + ":2: banner: bad 7"},
		{"lockout.window", p + ":5: lockout.window: bad 7"},
		{"admin_os_group", p + ": admin_os_group: bad 7"},
	} {
		if got := c.KeyError(tt.key, "bad %d", 7).Error(); got != tt.want {
			t.Errorf("KeyError(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestSessionLimitsMemory(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  string
	}{
		{"", 0, ""},
		{"512MiB", 512 << 20, ""},
		{"2G", 2 << 30, ""},
		{"1T", 1 << 40, ""},
		{"16777216", 16 << 20, ""},
		{"1M", 0, "at least 16MiB"},
		{"12X", 0, "must be a size"},
		{"-5G", 0, "must be a size"},
		{"99999999999T", 0, "too large"},
	} {
		cfg, err := Parse([]byte("session_limits: {memory: \""+c.in+"\"}\n"), "f.yaml")
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), "f.yaml:1: session_limits.memory: ") || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("memory %q: error %v, want one containing %q", c.in, err, c.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("memory %q: %v", c.in, err)
			continue
		}
		if got := cfg.SessionLimits.MemoryBytes(); got != c.want || cfg.SessionLimits.Tasks != 512 {
			t.Errorf("memory %q = %d (tasks %d), want %d (tasks 512)", c.in, got, cfg.SessionLimits.Tasks, c.want)
		}
	}
}

// proxy_protocol.from gives prefixes that match the client addresses the
// daemon sees, IPv4-mapped ones as IPv4.
func TestProxySources(t *testing.T) {
	c, err := Parse([]byte("proxy_protocol:\n  from: [10.0.0.0/24, 2001:db8::7, \"::ffff:192.0.2.0/120\"]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.ProxySources() {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/24", "2001:db8::7/128", "192.0.2.0/24"}
	if !slices.Equal(got, want) {
		t.Errorf("ProxySources() = %v, want %v", got, want)
	}
}
