package config

// Walking the YAML node tree: the file's syntax, its mappings, and the
// readers of each type of value, every problem with its line and key.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// decoder walks a yaml.v3 node tree into a Config, collecting every problem.
type decoder struct {
	file    string
	dir     string // relative paths are resolved against it; "" leaves them relative
	errs    Errors
	present map[string]int  // keys set by the file (or Set) → line of the key
	bad     map[string]bool // keys whose value was refused; cross-checks skip them
	dropped int             // problems beyond maxProblems, counted but not listed
}

// maxProblems caps the problems listed for one file: enough to fix a file in
// one pass, while a wrong file (a log, a binary) does not flood the terminal.
const maxProblems = 100

func newDecoder(file, dir string) *decoder {
	return &decoder{file: file, dir: dir, present: map[string]int{}, bad: map[string]bool{}}
}

func (d *decoder) errorf(line int, key, format string, args ...any) {
	d.bad[key] = true
	if len(d.errs) >= maxProblems {
		d.dropped++
		return
	}
	d.errs = append(d.errs, FieldError{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// check records msg, if any, as the problem with n; it reports whether there
// was none.
func (d *decoder) check(key string, n *yaml.Node, msg string) bool {
	if msg != "" {
		d.errorf(n.Line, key, "%s", msg)
		return false
	}
	return true
}

// sorted returns the problems in file order; those found at the same line keep
// the order they were found in.
func (d *decoder) sorted() Errors {
	es := append(Errors(nil), d.errs...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	if d.dropped > 0 {
		es = append(es, FieldError{File: d.file, Msg: fmt.Sprintf("%d more problems not listed; is this the right file?", d.dropped)})
	}
	return es
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if line == 0 {
		// yaml.v3 leaves the line out when its mark is on the first line.
		line = 1
	}
	d.errorf(line, "", "invalid YAML: %s", msg)
}

// checkBytes refuses what yaml.v3 would refuse without saying where: bytes
// that are not UTF-8 and characters YAML does not allow in a file. It
// reports the first problem of each line, up to a few lines.
func (d *decoder) checkBytes(data []byte) bool {
	const maxReports = 10
	clean, reports, line, lastLine := true, 0, 1, 0
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		msg := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("the file must be UTF-8 text; found the byte 0x%02x", data[0])
		case !yamlPrintable(r):
			msg = fmt.Sprintf("the control character %U is not allowed in a YAML file; in a double-quoted string it can be written as the escape \\u%04X", r, r)
		}
		if msg != "" && line != lastLine {
			clean, lastLine = false, line
			if reports++; reports > maxReports {
				d.errorf(line, "", "more lines with bytes that are not allowed follow; is this the right file?")
				return false
			}
			d.errorf(line, "", "%s", msg)
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return clean
}

// yamlPrintable is YAML 1.2's c-printable.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case 0x20 <= r && r <= 0x7e, 0xa0 <= r && r <= 0xd7ff, 0xe000 <= r && r <= 0xfffd:
		return true
	default:
		return 0x10000 <= r && r <= utf8.MaxRune
	}
}

// document parses data and returns its top-level mapping, or nil if the file
// is empty or unusable (the problem is recorded).
func (d *decoder) document(data []byte) (root *yaml.Node) {
	// yaml.v3 reports errors by panicking and recovering internally; should a
	// panic escape it on some input, report it rather than crash the daemon.
	defer func() {
		if r := recover(); r != nil {
			d.errorf(0, "", "the YAML parser failed on this file: %v", r)
			root = nil
		}
	}()
	if !d.checkBytes(data) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(next.Line, "", "only one YAML document is allowed; another starts here (after ---)")
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := deref(doc.Content[0])
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil // "---" or "~" alone: as empty
	}
	if top.Kind != yaml.MappingNode {
		d.errorf(doc.Content[0].Line, "", "the file must be a YAML mapping of settings (lines of key: value, such as max_connections: 64); got %s", describe(doc.Content[0]))
		return nil
	}
	return top
}

// mapping decodes the keys of m with the schema fs; prefix is "" at the top
// level and "lockout." inside lockout.
func (d *decoder) mapping(prefix string, m *yaml.Node, fs []field, c *Config) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, v := m.Content[i], m.Content[i+1]
		k := deref(kn)
		if k.Kind != yaml.ScalarNode {
			d.errorf(kn.Line, strings.TrimSuffix(prefix, "."), "keys must be plain names such as max_connections; got %s", describe(kn))
			continue
		}
		var f *field
		for j := range fs {
			if fs[j].key == k.Value {
				f = &fs[j]
				break
			}
		}
		if f == nil {
			if len(d.errs) >= maxProblems {
				d.dropped++ // skip building the message
				continue
			}
			d.errorf(kn.Line, prefix+displayKey(k.Value), "%s", unknownKeyMsg(k.Value, fs, prefix))
			continue
		}
		key := prefix + f.key
		if first, dup := seen[f.key]; dup {
			d.errorf(kn.Line, key, "duplicate key; first set on line %d", first)
			continue
		}
		seen[f.key] = kn.Line
		d.present[key] = kn.Line
		f.parse(d, c, key, v)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// deref follows YAML aliases (*name) to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// describe names what a node is, for "got ..." in messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "no value"
		case "!!str":
			return strconv.Quote(truncate(n.Value, 60))
		default:
			return truncate(n.Value, 60)
		}
	default:
		return "an unsupported YAML node"
	}
}

// str decodes a string value. Any scalar is accepted (banner: 123 is the text
// "123"); null, as in "shell:" with nothing after it, is "".
func (d *decoder) str(key string, n *yaml.Node) (string, bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		d.errorf(n.Line, key, "must be a string; got %s", describe(n))
		return "", false
	}
	switch s.ShortTag() {
	case "!!null":
		return "", true
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return s.Value, true
	default:
		d.errorf(n.Line, key, "must be a string; got a value tagged %s", truncate(s.Tag, 40))
		return "", false
	}
}

// integer decodes a decimal integer from lo to hi. Quoted numbers, hex and
// octal are refused: 017 would otherwise mean 15.
func (d *decoder) integer(key string, n *yaml.Node, lo, hi int) (int, bool) {
	s := deref(n)
	want := fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
	if s.Kind != yaml.ScalarNode || s.ShortTag() != "!!int" {
		d.errorf(n.Line, key, "%s; got %s", want, describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(s.Value, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		d.errorf(n.Line, key, "%s, in decimal; got %s", want, describe(n))
		return 0, false
	}
	if err != nil || v < int64(lo) || v > int64(hi) {
		d.errorf(n.Line, key, "%s; got %s", want, describe(n))
		return 0, false
	}
	return int(v), true
}

const durationHelp = "a duration such as 90s, 10m or 1h30m (units ms, s, m, h)"

// duration decodes a non-negative Go duration. A bare 0 is accepted (it needs
// no unit); other bare numbers are refused, since 60 could mean seconds or
// minutes.
func (d *decoder) duration(key string, n *yaml.Node) (time.Duration, bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		d.errorf(n.Line, key, "must be %s; got %s", durationHelp, describe(n))
		return 0, false
	}
	switch s.ShortTag() {
	case "!!str", "!!int", "!!float":
	default:
		d.errorf(n.Line, key, "must be %s; got %s", durationHelp, describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(s.Value)
	if err != nil {
		if s.ShortTag() != "!!str" {
			d.errorf(n.Line, key, "must be %s; %s has no unit (write %ss for seconds)", durationHelp, truncate(s.Value, 20), truncate(s.Value, 20))
		} else {
			d.errorf(n.Line, key, "must be %s; got %s", durationHelp, describe(n))
		}
		return 0, false
	}
	if v < 0 {
		d.errorf(n.Line, key, "must not be negative; got %s", describe(n))
		return 0, false
	}
	return v, true
}

// boolean decodes true or false; yes/no and on/off are accepted as yaml.v3
// accepts them when decoding into a bool.
func (d *decoder) boolean(key string, n *yaml.Node) (bool, bool) {
	s := deref(n)
	if s.Kind == yaml.ScalarNode && (s.ShortTag() == "!!bool" || s.ShortTag() == "!!str" && s.Style == 0) {
		switch strings.ToLower(s.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	d.errorf(n.Line, key, "must be true or false; got %s", describe(n))
	return false, false
}

type pathRule int

const (
	pathRequired pathRule = 1 << iota // "" is refused
	pathAbsolute                      // a relative path is refused
	pathResolve                       // a relative path is resolved against the config's directory
)

// path decodes a file path; what says what is accepted, for messages.
func (d *decoder) path(key string, n *yaml.Node, rules pathRule, what string) (string, bool) {
	v, ok := d.str(key, n)
	if !ok {
		return "", false
	}
	switch {
	case v == "":
		if rules&pathRequired != 0 {
			d.errorf(n.Line, key, "must not be empty; write %s", what)
			return "", false
		}
		return "", true
	case strings.ContainsFunc(v, unicode.IsControl):
		d.errorf(n.Line, key, "must not contain control characters; got %s", describe(n))
		return "", false
	case len(v) > maxPathBytes:
		d.errorf(n.Line, key, "must be at most %d bytes long; got %d", maxPathBytes, len(v))
		return "", false
	case !filepath.IsAbs(v) && rules&pathAbsolute != 0:
		d.errorf(n.Line, key, "must be %s; got %s", what, describe(n))
		return "", false
	case !filepath.IsAbs(v) && rules&pathResolve != 0 && d.dir != "":
		v = filepath.Join(d.dir, v)
	}
	return v, true
}

// group decodes a group name. It must be one the auth store accepts (the
// groups file's "name: user user" lines; an OS group for admin_os_group):
// a name it would refuse must be refused here, with file, line and key,
// and not when the daemon starts.
func (d *decoder) group(key string, n *yaml.Node, required bool) (string, bool) {
	v, ok := d.str(key, n)
	if !ok {
		return "", false
	}
	switch {
	case v == "" && required:
		d.errorf(n.Line, key, "must not be empty; write a group name such as telnet-clients")
		return "", false
	case v == "":
		return v, true
	}
	if err := auth.ValidateGroupName(v); err != nil {
		d.errorf(n.Line, key, "must be a group name of at most %d bytes, not starting with '-', with no '/', and without spaces, ':' or control characters; got %s (%v)", auth.MaxNameLen, describe(n), err)
		return "", false
	}
	return v, true
}

// entry is one element of a list of strings; ok is false if it was refused.
type entry struct {
	v  string
	n  *yaml.Node
	ok bool
}

// list decodes a list of strings; want says what is accepted, for messages.
// It reports false only if n is not a list; each entry says if it was refused.
func (d *decoder) list(key string, n *yaml.Node, want string) ([]entry, bool) {
	s := deref(n)
	if s.Kind != yaml.SequenceNode {
		d.errorf(n.Line, key, "must be %s; got %s", want, describe(n))
		return nil, false
	}
	es := make([]entry, len(s.Content))
	for i, e := range s.Content {
		es[i].n = e
		if sc := deref(e); sc.Kind != yaml.ScalarNode || sc.ShortTag() == "!!null" {
			d.errorf(e.Line, key, "entry %d must be a string; got %s", i+1, describe(e))
			continue
		}
		es[i].v, es[i].ok = d.str(key, e)
	}
	return es, true
}

func values(es []entry) []string {
	vs := make([]string, len(es))
	for i, e := range es {
		vs[i] = e.v
	}
	return vs
}
