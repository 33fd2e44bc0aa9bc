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

// value makes the field of a key whose value read decodes and checks
// (reporting what is wrong through d) and at locates in Config; show
// formats it. The value is stored only when read accepts it.
func value[T any](key string, kind valueKind, read func(d *decoder, key string, n *yaml.Node) (T, bool),
	at func(*Config) *T, show func(T) string) field {
	return field{key: key, kind: kind,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := read(d, key, n); ok {
				*at(c) = v
			}
		},
		show: func(c *Config) string { return show(*at(c)) }}
}

// The readers of the schema's values that take more than the node.

func intIn(lo, hi int) func(*decoder, string, *yaml.Node) (int, bool) {
	return func(d *decoder, key string, n *yaml.Node) (int, bool) { return d.integer(key, n, lo, hi) }
}

func pathOf(rules pathRule, what string) func(*decoder, string, *yaml.Node) (string, bool) {
	return func(d *decoder, key string, n *yaml.Node) (string, bool) { return d.path(key, n, rules, what) }
}

func groupName(required bool) func(*decoder, string, *yaml.Node) (string, bool) {
	return func(d *decoder, key string, n *yaml.Node) (string, bool) { return d.group(key, n, required) }
}

func readBanner(d *decoder, key string, n *yaml.Node) (string, bool) {
	v, ok := d.str(key, n)
	return v, ok && d.check(key, n, checkBanner(v))
}

func readLoginTimeout(d *decoder, key string, n *yaml.Node) (time.Duration, bool) {
	v, ok := d.duration(key, n)
	if ok && v == 0 {
		d.errorf(n.Line, key, "must be more than 0 (the time from connect to a successful logon), e.g. 60s")
		return 0, false
	}
	return v, ok
}

func readMode(d *decoder, key string, n *yaml.Node) (string, bool) {
	v, ok := d.str(key, n)
	if ok && v != ModeConsole && v != ModeStream {
		d.errorf(n.Line, key, "must be %s or %s; got %s", ModeConsole, ModeStream, describe(n))
		return "", false
	}
	return v, ok
}

func readAdminSocket(d *decoder, key string, n *yaml.Node) (string, bool) {
	v, ok := d.path(key, n, pathRequired|pathAbsolute, "an absolute path such as /run/tlntsvr/admin.sock")
	if ok && len(v) > maxSocketPathBytes {
		d.errorf(n.Line, key, "must be at most %d bytes long (the limit for a Unix socket path); got %d", maxSocketPathBytes, len(v))
		return "", false
	}
	return v, ok
}

// fields is the schema, in the order of configs/tlntsvr.yaml and Settings.
var fields = []field{
	value("listen", kindList, (*decoder).listen, func(c *Config) *[]string { return &c.Listen }, showList),
	value("banner", kindString, readBanner, func(c *Config) *string { return &c.Banner }, showString),
	value("max_connections", kindScalar, intIn(1, maxConnectionsLimit), func(c *Config) *int { return &c.MaxConnections }, strconv.Itoa),
	value("max_failed_logons", kindScalar, intIn(1, maxFailedLogonsLimit), func(c *Config) *int { return &c.MaxFailedLogons }, strconv.Itoa),
	value("login_timeout", kindScalar, readLoginTimeout, func(c *Config) *time.Duration { return &c.LoginTimeout }, showDuration),
	value("idle_timeout", kindScalar, (*decoder).duration, func(c *Config) *time.Duration { return &c.IdleTimeout }, showDuration),
	value("idle_warning", kindScalar, (*decoder).duration, func(c *Config) *time.Duration { return &c.IdleWarning }, showDuration),
	value("mode", kindString, readMode, func(c *Config) *string { return &c.Mode }, showString),
	value("users_file", kindString, pathOf(pathRequired|pathResolve, "the users file (htpasswd format, bcrypt hashes), e.g. /etc/tlntsvr/users"),
		func(c *Config) *string { return &c.UsersFile }, showString),
	value("groups_file", kindString, pathOf(pathRequired|pathResolve, "the groups file (AuthGroupFile format), e.g. /etc/tlntsvr/groups"),
		func(c *Config) *string { return &c.GroupsFile }, showString),
	value("clients_group", kindString, groupName(true), func(c *Config) *string { return &c.ClientsGroup }, showString),
	value("admins_group", kindString, groupName(true), func(c *Config) *string { return &c.AdminsGroup }, showString),
	value("shell", kindString, pathOf(pathAbsolute, `an absolute path such as /bin/bash, or "" for the account's login shell`),
		func(c *Config) *string { return &c.Shell }, showString),
	value("login_script", kindString, pathOf(pathAbsolute, `an absolute path such as /etc/tlntsvr/login.sh, or "" for none`),
		func(c *Config) *string { return &c.LoginScript }, showString),
	value("accept_env", kindList, (*decoder).acceptEnv, func(c *Config) *[]string { return &c.AcceptEnv }, showList),
	value("end_tasks_on_disconnect", kindScalar, (*decoder).boolean, func(c *Config) *bool { return &c.EndTasksOnDisconnect }, strconv.FormatBool),
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
	value("admin_socket", kindString, readAdminSocket, func(c *Config) *string { return &c.AdminSocket }, showString),
	value("admin_os_group", kindString, groupName(false), func(c *Config) *string { return &c.AdminOSGroup }, showString),
	value("audit_log", kindString, pathOf(pathResolve, `a file path such as /var/log/tlntsvr/audit.json, or "" for stderr only`),
		func(c *Config) *string { return &c.AuditLog }, showString),
}

var lockoutFields = []field{
	value("attempts", kindScalar, intIn(0, lockoutAttemptsLimit), func(c *Config) *int { return &c.Lockout.Attempts }, strconv.Itoa),
	value("window", kindScalar, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Window }, showDuration),
	value("duration", kindScalar, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Duration }, showDuration),
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
