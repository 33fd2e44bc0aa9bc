package config

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
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

// TestEditSplices checks the exact text Edit writes: the new values'
// text in place of the old, every other byte as it was. fallback marks
// the shapes Edit does not splice, for which it writes the file as
// yaml.v3 encodes it (settings and comments kept, layout not).
func TestEditSplices(t *testing.T) {
	type set = []Setting
	tests := []struct {
		name     string
		in       string
		changes  set
		want     string
		fallback bool
	}{{
		name: "blank lines and comments kept",
		in: "# head\n\n# the listeners\nlisten: [\":23\"]\n\n\n# most sessions\nmax_connections: 64\n\n" +
			"   # an indented comment\nbanner: hi\n\n# the end\n",
		changes: set{{"max_connections", "10"}},
		want: "# head\n\n# the listeners\nlisten: [\":23\"]\n\n\n# most sessions\nmax_connections: 10\n\n" +
			"   # an indented comment\nbanner: hi\n\n# the end\n",
	}, {
		name:    "line comment after the value kept",
		in:      "max_connections: 64    # tlntadmn maxconn\nmax_startups: 256\n",
		changes: set{{"max_connections", "100"}},
		want:    "max_connections: 100    # tlntadmn maxconn\nmax_startups: 256\n",
	}, {
		name:    "other keys' quoting and indentation kept",
		in:      "banner: 'single'\nshell:   \"\"\nlockout:\n    attempts: 3\n    window:    1m\nmode: console\n",
		changes: set{{"mode", "stream"}},
		want:    "banner: 'single'\nshell:   \"\"\nlockout:\n    attempts: 3\n    window:    1m\nmode: stream\n",
	}, {
		name:    "double-quoted scalar replaced",
		in:      "banner: \"Welcome # to \\\"here\\\"\" # greeting\nmode: console\n",
		changes: set{{"banner", "hello"}},
		want:    "banner: hello # greeting\nmode: console\n",
	}, {
		name:    "single-quoted scalar and quoted key",
		in:      "\"banner\": 'it''s'   # c\n",
		changes: set{{"banner", "hi: there"}},
		want:    "\"banner\": \"hi: there\"   # c\n",
	}, {
		name:    "quoted value given",
		in:      "banner: x\n",
		changes: set{{"banner", `"two\nlines"`}},
		want:    "banner: \"two\\nlines\"\n",
	}, {
		name:    "string that reads as a number is quoted",
		in:      "clients_group: telnet\n",
		changes: set{{"clients_group", "100"}},
		want:    "clients_group: \"100\"\n",
	}, {
		name:    "multi-line double-quoted scalar replaced",
		in:      "banner: \"line one\n  line two\"\nmode: console\n",
		changes: set{{"banner", "one"}},
		want:    "banner: one\nmode: console\n",
	}, {
		name:    "block scalar replaced, blank line after it kept",
		in:      "banner: |  # multi\n  hello\n\n  world\n\n# next\nmax_connections: 3\n",
		changes: set{{"banner", "y"}},
		want:    "banner: y\n\n# next\nmax_connections: 3\n",
	}, {
		name:    "flow list replaced",
		in:      "listen: [\":23\"] # where\n\nmax_connections: 5\n",
		changes: set{{"listen", `["[::1]:23", ":2323"]`}},
		want:    "listen: [\"[::1]:23\", \":2323\"] # where\n\nmax_connections: 5\n",
	}, {
		name:    "multi-line flow list replaced",
		in:      "listen: [\":23\",   # one\n  \":24\",\n]\nmode: console\n",
		changes: set{{"listen", ":2323"}},
		want:    "listen: [\":2323\"]\nmode: console\n",
	}, {
		name:    "block list replaced by a flow list",
		in:      "listen:   # where\n  - \":23\"\n  # between\n  - \":2323\" # second\n\nmax_connections: 5\n",
		changes: set{{"listen", ":24, :25"}},
		want:    "listen: [\":24\", \":25\"]   # where\n\nmax_connections: 5\n",
	}, {
		name:    "block list at the key's indentation",
		in:      "accept_env:\n- TERM\n- LANG\nmode: console\n",
		changes: set{{"accept_env", "TERM, LC_*"}},
		want:    "accept_env: [TERM, LC_*]\nmode: console\n",
	}, {
		name:    "empty list",
		in:      "allow: [10.0.0.0/8]\n",
		changes: set{{"allow", ""}},
		want:    "allow: []\n",
	}, {
		name:    "nested key in a block mapping",
		in:      "record:\n  dir: \"\"   # none\n  input: false\n\n# Tell the user\nshadow_notice: true\n",
		changes: set{{"record.dir", "/var/log/rec"}, {"record.input", "true"}},
		want:    "record:\n  dir: /var/log/rec   # none\n  input: true\n\n# Tell the user\nshadow_notice: true\n",
	}, {
		name:    "nested key in a flow mapping",
		in:      "lockout: {attempts: 10, window: 10m, duration: 15m}  # policy\n",
		changes: set{{"lockout.window", "1h"}},
		want:    "lockout: {attempts: 10, window: 1h, duration: 15m}  # policy\n",
	}, {
		name:    "nested list in a flow mapping",
		in:      "proxy_protocol: {from: []}\n",
		changes: set{{"proxy_protocol.from", "10.0.0.0/8, 192.168.1.1"}},
		want:    "proxy_protocol: {from: [10.0.0.0/8, 192.168.1.1]}\n",
	}, {
		name:    "nested block list in a block mapping",
		in:      "proxy_protocol:\n  from:\n    - 10.0.0.1\n    - 10.0.0.2\n\nmode: console\n",
		changes: set{{"proxy_protocol.from", "[]"}},
		want:    "proxy_protocol:\n  from: []\n\nmode: console\n",
	}, {
		name:    "whole mapping replaced",
		in:      "lockout:   # policy\n  attempts: 3\n  window: 1m\n\nbanner: x\n",
		changes: set{{"lockout", "{attempts: 5, window: 2m, duration: 3m}"}},
		want:    "lockout: {attempts: 5, window: 2m, duration: 3m}   # policy\n\nbanner: x\n",
	}, {
		name:    "new top-level key appended after the last key",
		in:      "# settings\nbanner: x\n\n# the end\n",
		changes: set{{"idle_timeout", "2h"}},
		want:    "# settings\nbanner: x\nidle_timeout: 2h\n\n# the end\n",
	}, {
		name:    "new nested key under an existing block parent",
		in:      "lockout:\n    attempts: 3 # few\n\nbanner: x\n",
		changes: set{{"lockout.window", "5m"}},
		want:    "lockout:\n    attempts: 3 # few\n    window: 5m\n\nbanner: x\n",
	}, {
		name:    "new nested key under a block parent whose last value is a block list",
		in:      "proxy_protocol:\n  from:\n  - 10.0.0.1\nmode: console\n",
		changes: set{{"session_limits.tasks", "5"}, {"record.input", "true"}},
		want:    "proxy_protocol:\n  from:\n  - 10.0.0.1\nmode: console\nsession_limits: {tasks: 5}\nrecord: {input: true}\n",
	}, {
		name:    "new nested key under an existing flow parent",
		in:      "lockout: {attempts: 10}\nlisten: [\":23\"]\n",
		changes: set{{"lockout.window", "1m"}},
		want:    "lockout: {attempts: 10, window: 1m}\nlisten: [\":23\"]\n",
	}, {
		name:    "new nested key under an empty flow parent",
		in:      "lockout: {}\n",
		changes: set{{"lockout.duration", "1m"}},
		want:    "lockout: {duration: 1m}\n",
	}, {
		name:    "new nested key under a missing parent",
		in:      "banner: x\n",
		changes: set{{"lockout.attempts", "5"}},
		want:    "banner: x\nlockout: {attempts: 5}\n",
	}, {
		name: "several changes at once",
		in:   "# c\nlisten: [\":23\"]\n\nbanner: \"hi\"\n\nlockout:\n  attempts: 3\n",
		changes: set{{"banner", "bye"}, {"lockout.attempts", "4"}, {"lockout.window", "2m"},
			{"mode", "stream"}, {"listen", ":2323"}, {"banner", "again"}},
		want: "# c\nlisten: [\":2323\"]\n\nbanner: again\n\nlockout:\n  attempts: 4\n  window: 2m\nmode: stream\n",
	}, {
		name:    "whole file a flow mapping",
		in:      "{banner: x, max_connections: 3}\n",
		changes: set{{"banner", "a, b"}, {"mode", "stream"}, {"lockout.attempts", "4"}},
		want:    "{banner: \"a, b\", max_connections: 3, mode: stream, lockout: {attempts: 4}}\n",
	}, {
		name:    "empty file",
		in:      "",
		changes: set{{"max_connections", "7"}, {"tls.min_version", "1.3"}},
		want:    "max_connections: 7\ntls: {min_version: \"1.3\"}\n",
	}, {
		name:    "comments only",
		in:      "# nothing yet",
		changes: set{{"max_connections", "7"}},
		want:    "# nothing yet\nmax_connections: 7\n",
	}, {
		name:    "no newline at the end",
		in:      "banner: x\nmode: console",
		changes: set{{"mode", "stream"}, {"max_connections", "3"}},
		want:    "banner: x\nmode: stream\nmax_connections: 3",
	}, {
		name:    "CRLF line endings",
		in:      "banner: x\r\n\r\nlockout:\r\n  attempts: 3\r\n",
		changes: set{{"banner", "y"}, {"lockout.window", "3m"}, {"mode", "stream"}},
		want:    "banner: y\r\n\r\nlockout:\r\n  attempts: 3\r\n  window: 3m\r\nmode: stream\r\n",
	}, {
		name:    "byte order mark and non-ASCII text before the value",
		in:      "\ufeffbanner: \"héllo wörld\"  # ü\nmode: console\n",
		changes: set{{"banner", "ça va"}},
		want:    "\ufeffbanner: ça va  # ü\nmode: console\n",
	}, {
		name:    "document start alone",
		in:      "# new\n---\n",
		changes: set{{"banner", "y"}},
		want:    "# new\n---\nbanner: y\n",
	}, {
		name:    "document markers kept",
		in:      "---\nbanner: x\n...\n",
		changes: set{{"banner", "y"}, {"mode", "stream"}},
		want:    "---\nbanner: y\nmode: stream\n...\n",
	}, {
		// "~" alone reads as an empty file; it is not spliced over.
		name:     "null document falls back",
		in:       "~\n",
		changes:  set{{"banner", "y"}},
		want:     "banner: y\n",
		fallback: true,
	}, {
		// An anchor may be used elsewhere: the file is re-encoded.
		name:     "anchor falls back",
		in:       "banner: &b hi\n\nmode: console\n",
		changes:  set{{"banner", "y"}},
		want:     "banner: y\nmode: console\n",
		fallback: true,
	}, {
		// A plain value over several lines is not spliced.
		name:     "multi-line plain value falls back",
		in:       "banner: one\n  two\n\nmode: console\n",
		changes:  set{{"banner", "y"}},
		want:     "banner: y\nmode: console\n",
		fallback: true,
	}, {
		// YAML breaks lines at a lone CR too; such a file is re-encoded.
		name:     "lone CR falls back",
		in:       "banner: x\rmode: console\n",
		changes:  set{{"mode", "stream"}},
		want:     "banner: x\nmode: stream\n",
		fallback: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/etc/tlntsvr/tlntsvr.yaml"
			want, err := Parse([]byte(tt.in), path)
			if err != nil {
				t.Fatalf("test input: %v", err)
			}
			for _, ch := range tt.changes {
				if err := want.Set(ch.Key, ch.Value); err != nil {
					t.Fatalf("test change: %v", err)
				}
			}
			out, cfg, err := Edit([]byte(tt.in), path, tt.changes)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("Edit wrote\n%q\nwant\n%q", out, tt.want)
			}
			if !reflect.DeepEqual(cfg.Settings(), want.Settings()) {
				t.Errorf("Edit's settings\n%v\nwant (as Set makes them)\n%v", cfg.Settings(), want.Settings())
			}
			if _, spliced := splice([]byte(tt.in), tt.changes); spliced == tt.fallback {
				t.Errorf("spliced = %v, want %v", spliced, !tt.fallback)
			}
		})
	}
}

func readShipped(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../configs/tlntsvr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// diffLines returns the lines of a and b that differ, both having as many.
func diffLines(t *testing.T, a, b []byte) (changed []string) {
	t.Helper()
	al, bl := strings.SplitAfter(string(a), "\n"), strings.SplitAfter(string(b), "\n")
	if len(al) != len(bl) {
		t.Fatalf("%d lines became %d:\n%s", len(al), len(bl), b)
	}
	for i := range al {
		if al[i] != bl[i] {
			changed = append(changed, strings.TrimSuffix(bl[i], "\n"))
		}
	}
	return changed
}

func TestEditShippedConfigChangesOneLine(t *testing.T) {
	data := readShipped(t)
	out, cfg, err := Edit(data, DefaultPath, []Setting{{Key: "max_connections", Value: "10"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := diffLines(t, data, out); len(got) != 1 || got[0] != "max_connections: 10" {
		t.Errorf("changed lines %q, want only \"max_connections: 10\"", got)
	}
	if cfg.MaxConnections != 10 {
		t.Errorf("MaxConnections = %d", cfg.MaxConnections)
	}
}

// editCandidates are values to try for every key: each key takes some.
var editCandidates = []string{"0", "1", "2", "5", "7", "100", "90s", "2h", "5m", "true", "false", "no", "", `""`,
	"stream", "console", "1.3", "/var/tmp/x", "/bin/sh", "rel/path", "grp", "a b", "hello world", `"two\nlines"`,
	"it's", "[x, y]", ":2323", `[":2323", "[::1]:23"]`, "10.0.0.0/8", "[10.0.0.0/8, 192.168.0.0/16]", "[24, 48]",
	"24, 48", "512MiB", "1GiB", "127.0.0.1:9323", "TERM, LC_*", "[]", "/run/t/a.sock", "a # b", "x: y", "{a}"}

// accepted maps each key to the candidates Set takes for it in base.
func accepted(t *testing.T, base *Config) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, k := range Keys() {
		for _, v := range editCandidates {
			if base.Clone().Set(k, v) == nil {
				m[k] = append(m[k], v)
			}
		}
		if len(m[k]) == 0 {
			t.Fatalf("no candidate value for %s", k)
		}
	}
	return m
}

// TestEditProperty applies random changes to the shipped config and to an
// empty file: the result always splices, reads back as Set makes it, and
// in the shipped file only the lines of the changed keys change.
func TestEditProperty(t *testing.T) {
	shipped := readShipped(t)
	base, err := Parse(shipped, DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	values := accepted(t, base)
	keys := Keys()

	// Every key of the shipped file, with the first, a middle and the last
	// value it takes (an edit of the whole file is slow under -race).
	for _, k := range keys {
		vs := values[k]
		for _, v := range []string{vs[0], vs[len(vs)/2], vs[len(vs)-1]} {
			checkEdit(t, shipped, []Setting{{Key: k, Value: v}})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 25 {
		var changes []Setting
		for range 1 + rng.IntN(4) {
			k := keys[rng.IntN(len(keys))]
			changes = append(changes, Setting{Key: k, Value: values[k][rng.IntN(len(values[k]))]})
		}
		checkEdit(t, shipped, changes)
		checkEdit(t, nil, changes)
	}
}

func checkEdit(t *testing.T, data []byte, changes []Setting) {
	t.Helper()
	want, err := Parse(data, DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if want.Set(ch.Key, ch.Value) != nil {
			return // a combination the checks refuse (idle_warning beyond idle_timeout)
		}
	}
	if _, ok := splice(data, changes); !ok {
		t.Fatalf("Edit(%v) did not splice", changes)
	}
	out, cfg, err := Edit(data, DefaultPath, changes)
	if err != nil {
		t.Fatalf("Edit(%v): %v", changes, err)
	}
	if !reflect.DeepEqual(cfg.Settings(), want.Settings()) {
		t.Fatalf("Edit(%v) settings\n%v\nwant\n%v", changes, cfg.Settings(), want.Settings())
	}
	again, err := Parse(out, DefaultPath)
	if err != nil || !reflect.DeepEqual(again.Settings(), want.Settings()) {
		t.Fatalf("Edit(%v) wrote a file that reads back otherwise (%v):\n%s", changes, err, out)
	}
	if len(data) == 0 {
		return
	}
	for _, line := range diffLines(t, data, out) {
		named := false
		for _, ch := range changes {
			_, sub, _ := strings.Cut(ch.Key, ".")
			if sub == "" {
				sub = ch.Key
			}
			named = named || strings.HasPrefix(strings.TrimLeft(line, " "), sub+": ")
		}
		if !named {
			t.Fatalf("Edit(%v) changed line %q", changes, line)
		}
	}
}

func TestEditRefusesBadValues(t *testing.T) {
	for _, ch := range []Setting{
		{Key: "max_connections", Value: "0"},
		{Key: "maxconn", Value: "3"},
		{Key: "mode", Value: "fancy"},
		{Key: "idle_timeout", Value: "soon"},
		{Key: "listen", Value: "[a"},
		{Key: "lockout", Value: "5"},
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

func TestEditFileKeepsTextAndRefusesOnCheck(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	in := "# mine\n\nmax_failed_logons: 3   # maxfail\n\nbanner: 'hi'\n"
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EditFile(p, []Setting{{Key: "max_failed_logons", Value: "7"}}, func(*Config) error { return os.ErrPermission }); err == nil {
		t.Fatal("EditFile ignored check's error")
	}
	if got, _ := os.ReadFile(p); string(got) != in {
		t.Errorf("a refused edit changed the file:\n%s", got)
	}
	if _, err := EditFile(p, []Setting{{Key: "max_failed_logons", Value: "7"}}, nil); err != nil {
		t.Fatal(err)
	}
	want := "# mine\n\nmax_failed_logons: 7   # maxfail\n\nbanner: 'hi'\n"
	if got, _ := os.ReadFile(p); string(got) != want {
		t.Errorf("file =\n%q\nwant\n%q", got, want)
	}
}
