package config

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on values; each error message names the accepted range.
const (
	maxConnectionsLimit           = 100000
	maxStartupsLimit              = 10000 // eviction looks at each connection not yet logged on
	maxCIDRs                      = 10000
	maxFailedLogonsLimit          = 100 // as Windows' tlntadmn maxfail
	lockoutAttemptsLimit          = 100000
	maxBannerBytes                = 4096
	maxPathBytes                  = 4096 // PATH_MAX
	maxSocketPathBytes            = 107  // sizeof(sun_path) - 1 on Linux
	maxEnvEntryBytes              = 256
	maxSessionTasks               = 4194304 // the kernel's highest pid_max
	minRecordBytes       ByteSize = 4 << 10
	maxRecordBytes       ByteSize = 1 << 40
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
	value("listen_tls", "[]", restart|rootOnly, (*decoder).listenTLS, func(c *Config) *[]string { return &c.ListenTLS }),
	mapping("tls", live|rootOnly,
		value("cert_file", `""`, live, pathOf(pathResolve, `a PEM certificate (chain) file such as /etc/tlntsvr/cert.pem, or "" for no TLS`),
			func(c *Config) *string { return &c.TLS.CertFile }),
		value("key_file", `""`, live, pathOf(pathResolve, `the PEM private key file of cert_file, such as /etc/tlntsvr/key.pem`),
			func(c *Config) *string { return &c.TLS.KeyFile }),
		value("min_version", `"1.2"`, live, readTLSVersion, func(c *Config) *TLSVersion { return &c.TLS.MinVersion }),
		value("require", "false", live, (*decoder).boolean, func(c *Config) *bool { return &c.TLS.Require }),
		value("client_ca_file", `""`, live, pathOf(pathResolve, `a PEM file of the CA certificates that sign client certificates, or "" for no certificate logon`),
			func(c *Config) *string { return &c.TLS.ClientCAFile }),
	),
	value("banner", `"Welcome to tlntsvr Telnet Server"`, live, readBanner, func(c *Config) *string { return &c.Banner }),
	value("max_connections", "64", live, intIn(1, maxConnectionsLimit), func(c *Config) *int { return &c.MaxConnections }).
		windows(windowsName{name: "maxconn", use: "maxconn=N"}),
	value("max_startups", "256", live, intIn(1, maxStartupsLimit), func(c *Config) *int { return &c.MaxStartups }),
	value("per_source_max_startups", "16", live, intIn(1, maxStartupsLimit), func(c *Config) *int { return &c.PerSourceMaxStartups }),
	value("source_netblock", "[32, 64]", live, readNetblock, func(c *Config) *Netblock { return &c.SourceNetblock }),
	value("penalty_exempt", "[]", live, (*decoder).cidrs, func(c *Config) *CIDRs { return &c.PenaltyExempt }),
	value("allow", "[]", live, (*decoder).cidrs, func(c *Config) *CIDRs { return &c.Allow }),
	value("deny", "[]", live, (*decoder).cidrs, func(c *Config) *CIDRs { return &c.Deny }),
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
	value("allow_root", "false", live|rootOnly, (*decoder).boolean, func(c *Config) *bool { return &c.AllowRoot }),
	value("refuse_locked_accounts", "true", live|rootOnly, (*decoder).boolean, func(c *Config) *bool { return &c.RefuseLockedAccounts }),
	value("end_tasks_on_disconnect", "true", live, (*decoder).boolean, func(c *Config) *bool { return &c.EndTasksOnDisconnect }),
	mapping("session_limits", live,
		value("tasks", "512", live, intIn(0, maxSessionTasks), func(c *Config) *int { return &c.SessionLimits.Tasks }),
		value("memory", `""`, live, readMemory, func(c *Config) *ByteSize { return &c.SessionLimits.Memory }),
	),
	mapping("record", live,
		value("dir", `""`, live|rootOnly, pathOf(pathAbsolute, `an absolute directory such as /var/log/tlntsvr/sessions, or "" for no recording`),
			func(c *Config) *string { return &c.Record.Dir }),
		value("input", "false", live, (*decoder).boolean, func(c *Config) *bool { return &c.Record.Input }),
		value("max_bytes", "64MiB", live, readRecordBytes, func(c *Config) *ByteSize { return &c.Record.MaxBytes }),
	),
	value("shadow_notice", "true", live, (*decoder).boolean, func(c *Config) *bool { return &c.ShadowNotice }),
	mapping("lockout", live,
		value("attempts", "10", live, intIn(0, lockoutAttemptsLimit), func(c *Config) *int { return &c.Lockout.Attempts }),
		value("window", "10m", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Window }),
		value("duration", "15m", live, (*decoder).duration, func(c *Config) *time.Duration { return &c.Lockout.Duration }),
	),
	mapping("proxy_protocol", live|rootOnly,
		value("from", "[]", live, (*decoder).proxySources, func(c *Config) *[]string { return &c.ProxyProtocol.From }),
	),
	value("metrics_listen", `""`, restart|rootOnly, (*decoder).metricsListen, func(c *Config) *string { return &c.MetricsListen }),
	value("admin_socket", "/run/tlntsvr/admin.sock", restart|rootOnly, readAdminSocket, func(c *Config) *string { return &c.AdminSocket }),
	value("admin_os_group", `""`, restart|rootOnly, groupName(false), func(c *Config) *string { return &c.AdminOSGroup }),
	value("audit_log", `""`, restart|rootOnly, pathOf(pathResolve, `a file path such as /var/log/tlntsvr/audit.json, or "" for stderr only`),
		func(c *Config) *string { return &c.AuditLog }),
}

// crossCheck applies the rules that involve two keys. It blames the key the
// file (or Set) changed, and skips keys whose own value was refused.
func (d *decoder) crossCheck(c *Config) {
	d.crossCheckTLS(c)
	d.crossCheckListen(c)
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

func readRecordBytes(d *decoder, key string, n *yaml.Node) (ByteSize, bool) {
	return d.byteSize(key, n, minRecordBytes, maxRecordBytes, false, "64MiB, 512KiB or 1GiB")
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

// readNetblock reads source_netblock: [IPv4 prefix length, IPv6 prefix
// length]. Set's comma-separated form gives the numbers as strings, which
// are taken when they are decimal.
func readNetblock(d *decoder, key string, n *yaml.Node) (Netblock, bool) {
	const want = "a list of two prefix lengths, [IPv4, IPv6], such as [32, 64] (1 to 32 and 1 to 128)"
	s := deref(n)
	if s.Kind != yaml.SequenceNode || len(s.Content) != 2 {
		d.errorf(n.Line, key, "must be %s; got %s", want, describe(n))
		return Netblock{}, false
	}
	var bits [2]int
	for i, limit := range [2]int{32, 128} {
		e := deref(s.Content[i])
		v, err := strconv.Atoi(e.Value)
		if e.Kind != yaml.ScalarNode || (e.ShortTag() != "!!int" && e.ShortTag() != "!!str") || err != nil ||
			strings.TrimLeft(e.Value, "0123456789") != "" || v < 1 || v > limit {
			d.errorf(e.Line, key, "entry %d must be a prefix length from 1 to %d; got %s (%s)", i+1, limit, describe(e), want)
			return Netblock{}, false
		}
		bits[i] = v
	}
	return Netblock{IPv4: bits[0], IPv6: bits[1]}, true
}

// cidrs reads a list of network blocks (allow, deny, penalty_exempt).
func (d *decoder) cidrs(key string, n *yaml.Node) (CIDRs, bool) {
	es, ok := d.list(key, n, `a list of network blocks, such as [10.0.0.0/8, "2001:db8::/32"], or [] for none`)
	if !ok {
		return nil, false
	}
	if len(es) > maxCIDRs {
		d.errorf(n.Line, key, "must list at most %d network blocks; got %d", maxCIDRs, len(es))
		return nil, false
	}
	out := make(CIDRs, 0, len(es))
	for i, e := range es {
		if !e.ok {
			ok = false
			continue
		}
		p, msg := checkCIDR(e.v)
		if msg != "" {
			d.errorf(e.n.Line, key, "entry %d: %s", i+1, msg)
			ok = false
			continue
		}
		out = append(out, p)
	}
	return out, ok
}

func readLoginTimeout(d *decoder, key string, n *yaml.Node) (time.Duration, bool) {
	v, ok := d.duration(key, n)
	if ok && v == 0 {
		d.errorf(n.Line, key, "must be more than 0 (the time from connect to a successful logon), e.g. 60s")
		return 0, false
	}
	return v, ok
}

// readMemory reads session_limits.memory: "" (or no value) for no limit,
// else a size from minMemory.
func readMemory(d *decoder, key string, n *yaml.Node) (ByteSize, bool) {
	return d.byteSize(key, n, minMemory, maxByteSize, true, `512MiB, 2G, or "" for no limit`)
}

func readMode(d *decoder, key string, n *yaml.Node) (Mode, bool) {
	v, ok := d.str(key, n)
	if ok && Mode(v) != ModeConsole && Mode(v) != ModeStream {
		d.errorf(n.Line, key, "must be %s or %s; got %s", ModeConsole, ModeStream, describe(n))
		return "", false
	}
	return Mode(v), ok
}

func readTLSVersion(d *decoder, key string, n *yaml.Node) (TLSVersion, bool) {
	v, ok := d.str(key, n)
	if ok && TLSVersion(v) != TLS12 && TLSVersion(v) != TLS13 {
		d.errorf(n.Line, key, `must be "1.2" or "1.3" (TLS 1.0 and 1.1 are broken and never accepted); got %s`, describe(n))
		return "", false
	}
	return TLSVersion(v), ok
}

// crossCheckListen refuses listen and listen_tls addresses that cannot
// all be bound (listenClash), blaming the later one.
func (d *decoder) crossCheckListen(c *Config) {
	if d.bad["listen"] || d.bad["listen_tls"] {
		return
	}
	type entry struct {
		key        string
		i          int
		text, addr string // as written, and in normal form
	}
	var seen []entry
	for _, k := range []struct {
		key   string
		addrs []string
	}{{"listen", c.Listen}, {"listen_tls", c.ListenTLS}} {
		for i, a := range k.addrs {
			norm, msg := checkListen(a)
			if msg != "" {
				continue
			}
			for _, e := range seen {
				if why := listenClash(e.addr, norm); why != "" {
					d.errorf(d.present[k.key], k.key, "entry %d: %q cannot be listened on beside %s entry %d (%q): %s",
						i+1, a, e.key, e.i+1, e.text, why)
					return
				}
			}
			seen = append(seen, entry{k.key, i, a, norm})
		}
	}
}

// crossCheckTLS: a certificate needs its key and the other way round, and
// what needs a certificate (listen_tls, require, client_ca_file) says so.
func (d *decoder) crossCheckTLS(c *Config) {
	if d.bad["tls.cert_file"] || d.bad["tls.key_file"] {
		return
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		d.errorf(d.present["tls.cert_file"], "tls.key_file", "must name the private key of tls.cert_file (%s)", c.TLS.CertFile)
		return
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		d.errorf(d.present["tls.key_file"], "tls.cert_file", "must name the certificate of tls.key_file (%s)", c.TLS.KeyFile)
		return
	}
	if c.TLS.CertFile != "" {
		return
	}
	for _, k := range []struct {
		key  string
		used bool
	}{{"listen_tls", len(c.ListenTLS) > 0}, {"tls.require", c.TLS.Require}, {"tls.client_ca_file", c.TLS.ClientCAFile != ""}} {
		if k.used && !d.bad[k.key] {
			d.errorf(d.present[k.key], k.key, "needs a certificate: set tls.cert_file and tls.key_file")
		}
	}
}

func readAdminSocket(d *decoder, key string, n *yaml.Node) (string, bool) {
	v, ok := d.path(key, n, pathRequired|pathAbsolute, "an absolute path such as /run/tlntsvr/admin.sock")
	if ok && len(v) > maxSocketPathBytes {
		d.errorf(n.Line, key, "must be at most %d bytes long (the limit for a Unix socket path); got %d", maxSocketPathBytes, len(v))
		return "", false
	}
	return v, ok
}

func (d *decoder) listen(key string, n *yaml.Node) ([]string, bool) {
	es, ok := d.list(key, n, `a list of host:port addresses, such as [":23"] or ["0.0.0.0:23", "[::]:23"]`)
	if !ok {
		return nil, false
	}
	if len(es) == 0 {
		d.errorf(n.Line, key, `must list at least one host:port address, such as [":23"]`)
		return nil, false
	}
	return d.addresses(key, es, ok)
}

// listenTLS is listen's reader for listen_tls, which may be empty.
func (d *decoder) listenTLS(key string, n *yaml.Node) ([]string, bool) {
	es, ok := d.list(key, n, `a list of host:port addresses, such as [":992"], or [] for none`)
	if !ok {
		return nil, false
	}
	return d.addresses(key, es, ok)
}

// addresses checks each entry of a list of listen addresses.
func (d *decoder) addresses(key string, es []entry, ok bool) ([]string, bool) {
	return uniqueEntries(d, key, es, ok, checkListen, "address")
}

// uniqueEntries checks each entry of a list with check, which returns the
// entry in a normal form or what is wrong with it, and refuses an entry
// whose normal form an earlier one has (what names it: "address").
func uniqueEntries[K comparable](d *decoder, key string, es []entry, ok bool, check func(string) (K, string), what string) ([]string, bool) {
	seen := map[K]int{}
	for i, e := range es {
		if !e.ok {
			ok = false
			continue
		}
		norm, msg := check(e.v)
		if msg != "" {
			d.errorf(e.n.Line, key, "entry %d: %s", i+1, msg)
			ok = false
			continue
		}
		if first, dup := seen[norm]; dup {
			d.errorf(e.n.Line, key, "entry %d: %q is the same %s as entry %d", i+1, e.v, what, first)
			ok = false
			continue
		}
		seen[norm] = i + 1
	}
	return values(es), ok
}

func (d *decoder) acceptEnv(key string, n *yaml.Node) ([]string, bool) {
	es, ok := d.list(key, n, `a list of variable names, such as [TERM, LANG, "LC_*"]`)
	if !ok {
		return nil, false
	}
	for i, e := range es {
		if !e.ok {
			ok = false
			continue
		}
		if !validEnvPattern(e.v) {
			d.errorf(e.n.Line, key, "entry %d must be a variable name ([A-Za-z_][A-Za-z0-9_]*), optionally ending in * to match a prefix as in LC_*; got %s", i+1, describe(e.n))
			ok = false
		}
	}
	return values(es), ok
}
