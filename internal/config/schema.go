package config

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on values; each error message names the accepted range.
const (
	maxConnectionsLimit  = 100000
	maxFailedLogonsLimit = 100 // as Windows' tlntadmn maxfail
	lockoutAttemptsLimit = 100000
	maxBannerBytes       = 4096
	maxPathBytes         = 4096 // PATH_MAX
	maxSocketPathBytes   = 107  // sizeof(sun_path) - 1 on Linux
	maxGroupNameBytes    = 256
	maxEnvEntryBytes     = 256
)

// valueKind tells Set how to turn its text into a YAML node.
type valueKind int

const (
	kindString valueKind = iota
	kindScalar           // int, duration, bool: read as a plain YAML scalar
	kindList
	kindMap
)

// field is one key of the file. parse decodes and checks n (the value node)
// and stores it in c only when it is valid; show formats the current value.
type field struct {
	key   string
	kind  valueKind
	parse func(d *decoder, c *Config, key string, n *yaml.Node)
	show  func(c *Config) string
	sub   []field // for a mapping (lockout): its keys; parse and show are unused
}

// fields is the schema, in the order of configs/tlntsvr.yaml and Settings.
var fields = []field{
	{key: "listen", kind: kindList,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.listen(key, n); ok {
				c.Listen = v
			}
		},
		show: func(c *Config) string { return showList(c.Listen) }},
	{key: "banner", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.str(key, n); ok && d.check(key, n, checkBanner(v)) {
				c.Banner = v
			}
		},
		show: func(c *Config) string { return showString(c.Banner) }},
	{key: "max_connections", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.integer(key, n, 1, maxConnectionsLimit); ok {
				c.MaxConnections = v
			}
		},
		show: func(c *Config) string { return strconv.Itoa(c.MaxConnections) }},
	{key: "max_failed_logons", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.integer(key, n, 1, maxFailedLogonsLimit); ok {
				c.MaxFailedLogons = v
			}
		},
		show: func(c *Config) string { return strconv.Itoa(c.MaxFailedLogons) }},
	{key: "login_timeout", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			v, ok := d.duration(key, n)
			if ok && v == 0 {
				d.errorf(n.Line, key, "must be more than 0 (the time from connect to a successful logon), e.g. 60s")
				ok = false
			}
			if ok {
				c.LoginTimeout = v
			}
		},
		show: func(c *Config) string { return showDuration(c.LoginTimeout) }},
	{key: "idle_timeout", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.duration(key, n); ok {
				c.IdleTimeout = v
			}
		},
		show: func(c *Config) string { return showDuration(c.IdleTimeout) }},
	{key: "idle_warning", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.duration(key, n); ok {
				c.IdleWarning = v
			}
		},
		show: func(c *Config) string { return showDuration(c.IdleWarning) }},
	{key: "mode", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			v, ok := d.str(key, n)
			if ok && v != ModeConsole && v != ModeStream {
				d.errorf(n.Line, key, "must be %s or %s; got %s", ModeConsole, ModeStream, describe(n))
				ok = false
			}
			if ok {
				c.Mode = v
			}
		},
		show: func(c *Config) string { return showString(c.Mode) }},
	{key: "users_file", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.path(key, n, pathRequired|pathResolve, "the users file (htpasswd format, bcrypt hashes), e.g. /etc/tlntsvr/users"); ok {
				c.UsersFile = v
			}
		},
		show: func(c *Config) string { return showString(c.UsersFile) }},
	{key: "groups_file", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.path(key, n, pathRequired|pathResolve, "the groups file (AuthGroupFile format), e.g. /etc/tlntsvr/groups"); ok {
				c.GroupsFile = v
			}
		},
		show: func(c *Config) string { return showString(c.GroupsFile) }},
	{key: "clients_group", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.group(key, n, true); ok {
				c.ClientsGroup = v
			}
		},
		show: func(c *Config) string { return showString(c.ClientsGroup) }},
	{key: "admins_group", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.group(key, n, true); ok {
				c.AdminsGroup = v
			}
		},
		show: func(c *Config) string { return showString(c.AdminsGroup) }},
	{key: "shell", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.path(key, n, pathAbsolute, `an absolute path such as /bin/bash, or "" for the account's login shell`); ok {
				c.Shell = v
			}
		},
		show: func(c *Config) string { return showString(c.Shell) }},
	{key: "login_script", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.path(key, n, pathAbsolute, `an absolute path such as /etc/tlntsvr/login.sh, or "" for none`); ok {
				c.LoginScript = v
			}
		},
		show: func(c *Config) string { return showString(c.LoginScript) }},
	{key: "accept_env", kind: kindList,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.acceptEnv(key, n); ok {
				c.AcceptEnv = v
			}
		},
		show: func(c *Config) string { return showList(c.AcceptEnv) }},
	{key: "end_tasks_on_disconnect", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.boolean(key, n); ok {
				c.EndTasksOnDisconnect = v
			}
		},
		show: func(c *Config) string { return strconv.FormatBool(c.EndTasksOnDisconnect) }},
	{key: "lockout", kind: kindMap,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			m := deref(n)
			if m.Kind != yaml.MappingNode {
				d.errorf(n.Line, key, "must be a mapping such as {attempts: 10, window: 10m, duration: 15m}; got %s", describe(n))
				return
			}
			d.mapping(key+".", m, lockoutFields, c)
		},
		sub: lockoutFields},
	{key: "admin_socket", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			v, ok := d.path(key, n, pathRequired|pathAbsolute, "an absolute path such as /run/tlntsvr/admin.sock")
			if ok && len(v) > maxSocketPathBytes {
				d.errorf(n.Line, key, "must be at most %d bytes long (the limit for a Unix socket path); got %d", maxSocketPathBytes, len(v))
				ok = false
			}
			if ok {
				c.AdminSocket = v
			}
		},
		show: func(c *Config) string { return showString(c.AdminSocket) }},
	{key: "admin_os_group", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.group(key, n, false); ok {
				c.AdminOSGroup = v
			}
		},
		show: func(c *Config) string { return showString(c.AdminOSGroup) }},
	{key: "audit_log", kind: kindString,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.path(key, n, pathResolve, `a file path such as /var/log/tlntsvr/audit.json, or "" for stderr only`); ok {
				c.AuditLog = v
			}
		},
		show: func(c *Config) string { return showString(c.AuditLog) }},
}

var lockoutFields = []field{
	{key: "attempts", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.integer(key, n, 0, lockoutAttemptsLimit); ok {
				c.Lockout.Attempts = v
			}
		},
		show: func(c *Config) string { return strconv.Itoa(c.Lockout.Attempts) }},
	{key: "window", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.duration(key, n); ok {
				c.Lockout.Window = v
			}
		},
		show: func(c *Config) string { return showDuration(c.Lockout.Window) }},
	{key: "duration", kind: kindScalar,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := d.duration(key, n); ok {
				c.Lockout.Duration = v
			}
		},
		show: func(c *Config) string { return showDuration(c.Lockout.Duration) }},
}

// lookupFlat finds the field for a key of Settings ("lockout.window").
func lookupFlat(key string) (field, string, bool) {
	if parent, sub, ok := strings.Cut(key, "."); ok {
		for _, f := range fields {
			if f.key == parent && f.sub != nil {
				for _, s := range f.sub {
					if s.key == sub {
						return s, key, true
					}
				}
			}
		}
		return field{}, "", false
	}
	for _, f := range fields {
		if f.key == key {
			return f, key, true
		}
	}
	return field{}, "", false
}

// crossCheck applies the rules that involve two keys. It blames the key the
// file (or Set) changed, and skips keys whose own value was refused.
func (d *decoder) crossCheck(c *Config) {
	if !d.bad["idle_timeout"] && !d.bad["idle_warning"] && c.IdleTimeout > 0 && c.IdleWarning >= c.IdleTimeout {
		if line, ok := d.present["idle_warning"]; ok {
			d.errorf(line, "idle_warning", "must be shorter than idle_timeout (%s); 0 = no warning", showDuration(c.IdleTimeout))
		} else {
			d.errorf(d.present["idle_timeout"], "idle_timeout", "must be longer than idle_warning (%s), or 0 for never", showDuration(c.IdleWarning))
		}
	}
	if !d.bad["lockout.attempts"] && c.Lockout.Attempts > 0 {
		for _, k := range []struct {
			key string
			v   time.Duration
		}{{"lockout.window", c.Lockout.Window}, {"lockout.duration", c.Lockout.Duration}} {
			if d.bad[k.key] || k.v > 0 {
				continue
			}
			if line, ok := d.present[k.key]; ok {
				d.errorf(line, k.key, "must be more than 0 while lockout.attempts is more than 0 (attempts: 0 turns the lockout off)")
			} else {
				d.errorf(d.present["lockout.attempts"], "lockout.attempts", "must be 0 (lockout off) while %s is 0; set %s above 0 first", k.key, k.key)
			}
		}
	}
}
