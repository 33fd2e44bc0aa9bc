// Package config is tlntsvr's configuration: the YAML schema, its defaults and
// its validation.
//
// A file is parsed by walking the yaml.v3 node tree rather than decoding into
// the struct, so that every problem (unknown or duplicate key, wrong type, bad
// value) is reported with the file, line and key, and all of them at once.
// Keys absent from the file keep the values of Default.
//
// Relative paths in users_file, groups_file and audit_log are resolved against
// the directory of the configuration file, not the daemon's working directory,
// so that a config and the files beside it can be moved together (the
// development config names dev/users, meaning configs/dev/users). Paths that
// are used by other programs or by the shell (admin_socket, shell,
// login_script) must be absolute.
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultPath is where the daemon and tlntadmn look for the configuration.
const DefaultPath = "/etc/tlntsvr/tlntsvr.yaml"

// MaxFileSize caps the size of a configuration file. A real one is a few KiB;
// the cap keeps a wrong path (a log file, /dev/zero) from being read whole.
const MaxFileSize = 1 << 20

// Lockout is the policy for repeated failed logons, applied per source address
// and per account: Attempts failures within Window lock out for Duration.
// Attempts 0 turns the lockout off.
type Lockout struct {
	Attempts int
	Window   time.Duration
	Duration time.Duration
}

// SessionLimits bound what each session may use (its cgroup's pids.max
// and memory.max, or RLIMIT_NPROC per account without a pids controller).
type SessionLimits struct {
	Tasks  int      // processes and threads; 0: no limit of its own
	Memory ByteSize // 0 for none ("" in the file)
}

// MemoryBytes returns the memory limit in bytes; 0 for none.
func (l SessionLimits) MemoryBytes() int64 { return int64(l.Memory) }

// Config is the daemon's configuration. Its keys, defaults and rules are
// the schema's (fields, in schema.go); configs/tlntsvr.yaml documents each
// one.
type Config struct {
	Listen               []string
	ListenTLS            []string // telnets: TLS from the first byte
	TLS                  TLS
	Banner               string
	MaxConnections       int // logged-on sessions
	MaxStartups          int // connections not yet logged on, in all
	PerSourceMaxStartups int // the same, per source (SourceNetblock)
	SourceNetblock       Netblock
	PenaltyExempt        CIDRs
	Allow                CIDRs // empty = everyone not denied
	Deny                 CIDRs
	MaxFailedLogons      int
	LoginTimeout         time.Duration
	IdleTimeout          time.Duration // 0 = never
	IdleWarning          time.Duration
	Mode                 Mode
	UsersFile            string
	GroupsFile           string
	ClientsGroup         string
	AdminsGroup          string
	Shell                string   // "" = the account's login shell
	LoginScript          string   // "" = none
	AcceptEnv            []string // names; a trailing "*" is a prefix pattern (LC_*)
	AllowRoot            bool     // a users-file line may map a user to uid 0
	RefuseLockedAccounts bool     // refuse OS accounts whose password usermod -L locked
	EndTasksOnDisconnect bool
	SessionLimits        SessionLimits
	Record               Record
	ShadowNotice         bool // tell the user when an admin watches the session
	Lockout              Lockout
	ProxyProtocol        ProxyProtocol
	MetricsListen        string // host:port for Prometheus metrics; "" = off
	AdminSocket          string
	AdminOSGroup         string // "" = root only
	AuditLog             string // "" = stderr only

	Path  string         // file it was loaded from ("" for Default())
	lines map[string]int // key → line on which the file at Path sets it
}

// ProxyProtocol names the load balancers that put a PROXY protocol header
// (v1 or v2) in front of each connection they pass on. From is a list of
// CIDR prefixes (a bare address is one host); a connection from one of them
// must start with a header, and one from anywhere else must not.
type ProxyProtocol struct {
	From []string
}

// Record is the session recording settings: each session is written to
// Dir as an asciicast v2 file; Dir "" turns recording off.
type Record struct {
	Dir      string
	Input    bool     // record typed input too, never while the terminal does not echo
	MaxBytes ByteSize // per session; past it the recording stops, the session goes on
}

// TLS is the encryption settings. A certificate (CertFile and KeyFile)
// turns on listen_tls and offers START_TLS and AUTH SSL on listen.
type TLS struct {
	CertFile     string
	KeyFile      string
	MinVersion   TLSVersion
	Require      bool   // no logon over a connection that is not encrypted
	ClientCAFile string // "" = no certificate logon
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// TLSVersion is the lowest TLS version the daemon accepts.
type TLSVersion string

// The values of TLS.MinVersion.
const (
	TLS12 TLSVersion = "1.2"
	TLS13 TLSVersion = "1.3"
)

// Mode is what a session's client gets: a terminal, or a program's bytes.
type Mode string

// The values of Config.Mode.
const (
	ModeConsole Mode = "console" // a terminal session
	ModeStream  Mode = "stream"  // for scripts: TERM=dumb, nothing but the program's own bytes
)

// KeyError reports a problem with key's value that is found after the
// file is parsed (a group this host does not have, a directory others can
// write), in the parser's form, FILE:LINE: KEY: MSG, with the line on
// which the file sets key. No line when the file does not set key (a
// default).
func (c *Config) KeyError(key, format string, args ...any) error {
	return FieldError{File: c.Path, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Default returns the built-in configuration, used for every key a file
// leaves out: the defaults of the schema's entries.
func Default() Config {
	return *defaults().Clone()
}

// defaults reads each entry's default as the file would hold it, once.
var defaults = sync.OnceValue(func() *Config {
	c := &Config{}
	d := newDecoder("", "")
	eachField(func(key string, f *field) {
		n, err := valueNode(*f, key, f.def)
		if err != nil {
			panic(fmt.Sprintf("config: the default of %s, %s: %v", key, f.def, err))
		}
		f.parse(d, c, key, n)
	})
	d.crossCheck(c)
	if len(d.errs) > 0 {
		panic("config: the schema's defaults are refused: " + d.errs.Error())
	}
	return c
})

// Load reads and parses the configuration file at path. Problems with the
// contents are returned as Errors; a file that cannot be read gives the
// wrapped os error (errors.Is(err, fs.ErrNotExist) works).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses a configuration file's contents. path is used in error
// messages and to resolve relative paths (see the package comment); it may be
// "", in which case relative paths are left as they are. Keys absent from
// data keep their defaults; an empty file is valid. On any problem Parse
// returns nil and Errors listing every problem found.
func Parse(data []byte, path string) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is larger than %d bytes; is this the right file?", MaxFileSize)}}
	}
	c, d := decode(data, path)
	d.crossCheck(&c)
	c.lines = d.present
	if len(d.errs) > 0 {
		return nil, d.sorted()
	}
	return &c, nil
}

// decode reads the settings of a file's contents over the defaults; the
// decoder holds the problems found and the line of each key set.
func decode(data []byte, path string) (Config, *decoder) {
	c := Default()
	c.Path = path
	d := newDecoder(path, resolveDir(path))
	if root := d.document(data); root != nil {
		d.mapping("", root, fields, &c)
	}
	return c, d
}

func resolveDir(path string) string {
	if path == "" {
		return ""
	}
	return filepath.Dir(path)
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	n := *c
	eachField(func(_ string, f *field) { f.copy(&n, c) })
	return &n
}

// EnvAllowed reports whether a client may set the environment variable name:
// it must equal an accept_env entry, or start with the part before the "*"
// of an entry ending in "*". A name that is not a valid variable name
// ([A-Za-z_][A-Za-z0-9_]*) is never allowed, whatever the patterns, so that
// "LC_X=1" or a name with a NUL cannot slip through a prefix pattern.
func (c *Config) EnvAllowed(name string) bool {
	if !validEnvName(name) {
		return false
	}
	for _, p := range c.AcceptEnv {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}
