package config

import (
	"fmt"
	"reflect"
	"slices"
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

// fields is the schema, in the order of configs/tlntsvr.yaml and Settings.
// Each entry is the one place that says a key's name, default (as the file
// writes it), whether it applies live or at restart, whether only root may
// change it over the admin socket, its Windows names, and how its value is
// read and checked. Everything else is derived from it: Default, Keys,
// Settings, Set, the daemon's restart and root-only rules, the Windows
// names of tlntadmn and of "did you mean", and the table in
// docs/configuration.md (a test checks that table and configs/tlntsvr.yaml).
//
// live settings apply to the next connection and logon; restart settings
// are bound into sockets and files opened at start, and the daemon keeps
// their start values until it restarts. rootOnly settings decide who may
// log on and as which account, what runs in a session, and what the
// daemon, as root, opens or listens on: an admin group member who could
// point users_file at a file of their own would be root. The group runs
// the service: limits, timeouts, lockout, banner and mode.
var fields = []field{
	value("listen", `[":23"]`, restart|rootOnly, (*decoder).listen, func(c *Config) *[]string { return &c.Listen }).
		windows(windowsName{name: "port", use: "port=N", note: "(the port of every address)", to: portToListen}),
	value("banner", `"Welcome to tlntsvr Telnet Server"`, live, readBanner, func(c *Config) *string { return &c.Banner }),
	value("max_connections", "64", live, intIn(1, maxConnectionsLimit), func(c *Config) *int { return &c.MaxConnections }).
		windows(windowsName{name: "maxconn", use: "maxconn=N"}),
	value("max_failed_logons", "3", live, intIn(1, maxFailedLogonsLimit), func(c *Config) *int { return &c.MaxFailedLogons }).
		windows(windowsName{name: "maxfail", use: "maxfail=N"}),
	value("login_timeout", "60s", live, readLoginTimeout, func(c *Config) *time.Duration { return &c.LoginTimeout }),
	value("idle_timeout", "1h", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.IdleTimeout }).
		windows(windowsName{name: "timeout", use: "timeout=hh:mm:ss", to: hmsToDuration},
			windowsName{name: "timeoutactive", use: "timeoutactive=yes|no", to: timeoutActive}),
	value("idle_warning", "1m", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.IdleWarning }),
	value("mode", string(ModeConsole), live, readMode, func(c *Config) *Mode { return &c.Mode }).
		windows(windowsName{name: "mode", use: "mode=console|stream", to: lowerCase}),
	value("users_file", "/etc/tlntsvr/users", live|rootOnly,
		pathOf(pathRequired|pathResolve, "the users file (htpasswd format, bcrypt hashes), e.g. /etc/tlntsvr/users"),
		func(c *Config) *string { return &c.UsersFile }),
	value("groups_file", "/etc/tlntsvr/groups", live|rootOnly,
		pathOf(pathRequired|pathResolve, "the groups file (AuthGroupFile format), e.g. /etc/tlntsvr/groups"),
		func(c *Config) *string { return &c.GroupsFile }),
	value("clients_group", "telnet-clients", live|rootOnly, groupName(true), func(c *Config) *string { return &c.ClientsGroup }),
	value("admins_group", "administrators", live|rootOnly, groupName(true), func(c *Config) *string { return &c.AdminsGroup }),
	value("shell", `""`, live|rootOnly, pathOf(pathAbsolute, `an absolute path such as /bin/bash, or "" for the account's login shell`),
		func(c *Config) *string { return &c.Shell }).
		windows(windowsName{name: "defaultshell"}),
	value("login_script", `""`, live|rootOnly, pathOf(pathAbsolute, `an absolute path such as /etc/tlntsvr/login.sh, or "" for none`),
		func(c *Config) *string { return &c.LoginScript }).
		windows(windowsName{name: "loginscript"}),
	value("accept_env", `[TERM, LANG, "LC_*"]`, live|rootOnly, (*decoder).acceptEnv, func(c *Config) *[]string { return &c.AcceptEnv }),
	value("end_tasks_on_disconnect", "true", live, (*decoder).boolean, func(c *Config) *bool { return &c.EndTasksOnDisconnect }),
	mapping("lockout", live,
		value("attempts", "10", live, intIn(0, lockoutAttemptsLimit), func(c *Config) *int { return &c.Lockout.Attempts }),
		value("window", "10m", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Window }),
		value("duration", "15m", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Duration }),
	),
	value("admin_socket", "/run/tlntsvr/admin.sock", restart|rootOnly, readAdminSocket, func(c *Config) *string { return &c.AdminSocket }),
	value("admin_os_group", `""`, restart|rootOnly, groupName(false), func(c *Config) *string { return &c.AdminOSGroup }),
	value("audit_log", `""`, restart|rootOnly, pathOf(pathResolve, `a file path such as /var/log/tlntsvr/audit.json, or "" for stderr only`),
		func(c *Config) *string { return &c.AuditLog }),
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

func readMode(d *decoder, key string, n *yaml.Node) (Mode, bool) {
	v, ok := d.str(key, n)
	if ok && Mode(v) != ModeConsole && Mode(v) != ModeStream {
		d.errorf(n.Line, key, "must be %s or %s; got %s", ModeConsole, ModeStream, describe(n))
		return "", false
	}
	return Mode(v), ok
}

func readAdminSocket(d *decoder, key string, n *yaml.Node) (string, bool) {
	v, ok := d.path(key, n, pathRequired|pathAbsolute, "an absolute path such as /run/tlntsvr/admin.sock")
	if ok && len(v) > maxSocketPathBytes {
		d.errorf(n.Line, key, "must be at most %d bytes long (the limit for a Unix socket path); got %d", maxSocketPathBytes, len(v))
		return "", false
	}
	return v, ok
}

// rule says when a setting applies and who may change it.
type rule int

const (
	live     rule = 0      // applies to the next connection and logon
	restart  rule = 1 << 0 // bound at start: the daemon keeps its start value until a restart
	rootOnly rule = 1 << 1 // only root may change it over the admin socket
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
// and stores it in c only when it is valid; show formats the current value;
// copy sets dst's value to src's (unshared).
type field struct {
	key     string
	def     string // the default, as the file writes it
	rules   rule
	kind    valueKind
	aliases []windowsName
	parse   func(d *decoder, c *Config, key string, n *yaml.Node)
	show    func(c *Config) string
	copy    func(dst, src *Config)
	sub     []field // for a mapping (lockout): its keys; show and copy are unused
}

// value makes the field of a key whose value read decodes and checks
// (reporting what is wrong through d) and at locates in Config. The value
// is stored only when read accepts it. How Set reads the key's text and
// how Settings writes its value follow from T.
func value[T any](key, def string, rules rule, read func(d *decoder, key string, n *yaml.Node) (T, bool), at func(*Config) *T) field {
	kind := kindScalar
	switch reflect.TypeFor[T]().Kind() {
	case reflect.String:
		kind = kindString
	case reflect.Slice:
		kind = kindList
	}
	return field{key: key, def: def, rules: rules, kind: kind,
		parse: func(d *decoder, c *Config, key string, n *yaml.Node) {
			if v, ok := read(d, key, n); ok {
				*at(c) = v
			}
		},
		show: func(c *Config) string { return showValue(*at(c)) },
		copy: func(dst, src *Config) { *at(dst) = cloneValue(*at(src)) },
	}
}

// mapping makes the field of a key whose value is a mapping of the keys
// subs (lockout: {attempts: 10, ...}). Each key of it is a setting of its
// own ("lockout.attempts"), with the rules of the mapping besides its own;
// the mapping's default is that of its keys.
func mapping(key string, rules rule, subs ...field) field {
	defs := make([]string, len(subs))
	for i := range subs {
		subs[i].rules |= rules
		defs[i] = subs[i].key + ": " + subs[i].def
	}
	f := field{key: key, def: "{" + strings.Join(defs, ", ") + "}", rules: rules, kind: kindMap, sub: subs}
	f.parse = func(d *decoder, c *Config, key string, n *yaml.Node) {
		m := deref(n)
		if m.Kind != yaml.MappingNode {
			d.errorf(n.Line, key, "must be a mapping such as %s; got %s", f.def, describe(n))
			return
		}
		d.mapping(key+".", m, subs, c)
	}
	return f
}

// windows adds the names Windows' Tlntadmn.exe gives the key.
func (f field) windows(names ...windowsName) field {
	f.aliases = append(slices.Clip(f.aliases), names...)
	return f
}

// showValue writes a value as it would be after "key: " in the file.
func showValue(v any) string {
	switch v := v.(type) {
	case []string:
		return showList(v)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Duration:
		return showDuration(v)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return showString(rv.String())
	}
	panic(fmt.Sprintf("config: no way to write a %T in the file; add it to showValue", v))
}

// cloneValue returns v with nothing shared with it.
func cloneValue[T any](v T) T {
	if s, ok := any(v).([]string); ok {
		return any(slices.Clone(s)).(T)
	}
	return v
}

// eachField calls fn for every key of Settings with its field, in file
// order: a mapping's keys, not the mapping.
func eachField(fn func(key string, f *field)) {
	for i := range fields {
		f := &fields[i]
		if f.sub == nil {
			fn(f.key, f)
			continue
		}
		for j := range f.sub {
			fn(f.key+"."+f.sub[j].key, &f.sub[j])
		}
	}
}

// lookupFlat finds the field for a key of Settings ("lockout.window"), or
// for a mapping ("lockout").
func lookupFlat(key string) (field, string, bool) {
	fs, name := fields, key
	if parent, sub, ok := strings.Cut(key, "."); ok {
		i := slices.IndexFunc(fields, func(f field) bool { return f.key == parent && f.sub != nil })
		if i < 0 {
			return field{}, "", false
		}
		fs, name = fields[i].sub, sub
	}
	if i := slices.IndexFunc(fs, func(f field) bool { return f.key == name }); i >= 0 {
		return fs[i], key, true
	}
	return field{}, "", false
}

// NeedsRestart reports whether the setting key (a key of Settings, or a
// mapping such as lockout) is bound at start: the daemon keeps the value it
// started with until it restarts.
func NeedsRestart(key string) bool {
	f, _, ok := lookupFlat(key)
	return ok && f.rules&restart != 0
}

// RootOnly reports whether only root may change the setting key over the
// admin socket (see fields).
func RootOnly(key string) bool {
	f, _, ok := lookupFlat(key)
	return ok && f.rules&rootOnly != 0
}

// WithStartSettings is a copy of c with the settings that need a restart
// as in started: they are bound into the sockets and files opened at
// start, so they stay as they are until a restart.
func (c *Config) WithStartSettings(started *Config) *Config {
	n := c.Clone()
	eachField(func(_ string, f *field) {
		if f.rules&restart != 0 {
			f.copy(n, started)
		}
	})
	return n
}
