package config

// Settings as text, both ways: Settings writes each value as the file
// would hold it, and Set reads such text (from tlntadmn config) back
// through the file's own checks.

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Setting is one key of the configuration and its current value, written as
// it would be after "key: " in the YAML file (strings quoted only when YAML
// needs it, lists in flow style, durations such as 1h or 90s).
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Settings lists every key in file order with its current value; a
// mapping is flattened to its keys (lockout.attempts, lockout.window,
// lockout.duration). Each value is accepted back by Set.
func (c *Config) Settings() []Setting {
	var out []Setting
	eachField(func(key string, f *field) { out = append(out, Setting{Key: key, Value: f.show(c)}) })
	return out
}

// Keys lists every key Set accepts, in file order (the keys of Settings).
func Keys() []string {
	var out []string
	eachField(func(key string, _ *field) { out = append(out, key) })
	return out
}

// Set changes one setting, checked by the same rules as the file: key is a
// key of Settings (lockout.attempts etc.; "lockout" takes a flow mapping such
// as {attempts: 5}), value its new value:
//   - strings are taken literally, unless the value starts with a quote, in
//     which case it is read as a YAML quoted string (so "a\nb" is two lines
//     and Settings' quoted values round-trip);
//   - lists are a YAML flow list ([":23", "[::1]:23"]) or comma-separated
//     (":23, [::1]:23");
//   - numbers, durations (90s, 1h) and booleans (true, false, yes, no) as in
//     the file.
//
// Relative paths are resolved against the directory of c.Path. On any problem
// c is left unchanged and Errors is returned (without file or line). Set
// does not write the file.
func (c *Config) Set(key, value string) error {
	f, name, ok := lookupFlat(key)
	if !ok {
		return Errors{{Key: key, Msg: unknownKeyMsg(key, fields, "")}}
	}
	n, err := valueNode(f, key, value)
	if err != nil {
		return Errors{{Key: key, Msg: err.Error()}}
	}
	nc := c.Clone()
	d := newDecoder("", resolveDir(c.Path))
	d.present[name] = 0
	f.parse(d, nc, name, n)
	d.crossCheck(nc)
	if len(d.errs) > 0 {
		es := d.sorted()
		for i := range es {
			es[i].Line = 0 // lines of value, not of any file
		}
		return es
	}
	*c = *nc
	return nil
}

// showValue writes a value as it would be after "key: " in the file.
func showValue(v any) string {
	switch v := v.(type) {
	case []string:
		return showList(v)
	case listValue:
		return showList(v.listItems())
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Duration:
		return showDuration(v)
	case ByteSize:
		if v == 0 {
			return `""` // no size: session_limits.memory's "no limit"; no other ByteSize may be 0
		}
		return v.String()
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return showString(rv.String())
	}
	panic(fmt.Sprintf("config: no way to write a %T in the file; add it to showValue", v))
}

// showString writes s as YAML: plain when that reads back as the same string,
// double-quoted otherwise (Go's escapes are all valid YAML escapes).
func showString(s string) string {
	if plainOK(s, false) {
		return s
	}
	return strconv.Quote(s)
}

func showList(items []string) string {
	parts := make([]string, len(items))
	for i, s := range items {
		if plainOK(s, true) {
			parts[i] = s
		} else {
			parts[i] = strconv.Quote(s)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// plainOK reports whether s, written unquoted after "key: " (or inside a flow
// list), reads back as the string s.
func plainOK(s string, inFlow bool) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\"\\") || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return false
	}
	src := "k: " + s
	if inFlow {
		src = "k: [" + s + "]"
	}
	return readsBackPlain(src, s, "!!str", inFlow)
}

// readsBackPlain reports whether src, a mapping of one key whose value
// holds s written unquoted (in a one-item list if inList), reads back as
// the plain scalar s with tag.
func readsBackPlain(src, s, tag string, inList bool) bool {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(src), &doc) != nil || len(doc.Content) != 1 {
		return false
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return false
	}
	v := m.Content[1]
	if inList {
		if v.Kind != yaml.SequenceNode || len(v.Content) != 1 {
			return false
		}
		v = v.Content[0]
	}
	return v.Kind == yaml.ScalarNode && v.Style == 0 && v.ShortTag() == tag && v.Value == s
}

// showDuration writes d as Go syntax without zero tails: 1h, 10m, 1m30s.
func showDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// valueNode turns Set's text for the setting key, of field f, into the
// node the file would hold.
func valueNode(f field, key, value string) (*yaml.Node, error) {
	switch f.kind {
	case kindString:
		if strings.HasPrefix(value, `"`) || strings.HasPrefix(value, `'`) {
			return quotedNode(value)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}, nil
	case kindList:
		v := strings.TrimSpace(value)
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			n, err := yamlFragment(v)
			if err != nil {
				return nil, fmt.Errorf("must be a YAML flow list such as [a, b], or a comma-separated list: %w", err)
			}
			return n, nil
		}
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v != "" {
			for _, e := range strings.Split(v, ",") {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.TrimSpace(e)})
			}
		}
		return n, nil
	case kindMap:
		v := strings.TrimSpace(value)
		if !strings.HasPrefix(v, "{") {
			keys := make([]string, len(f.sub))
			for i, s := range f.sub {
				keys[i] = key + "." + s.key
			}
			last := len(keys) - 1
			return nil, fmt.Errorf("must be a flow mapping such as %s; or set %s and %s one at a time", f.def, strings.Join(keys[:last], ", "), keys[last])
		}
		n, err := yamlFragment(v)
		if err != nil {
			return nil, fmt.Errorf("must be a flow mapping such as %s: %w", f.def, err)
		}
		return n, nil
	default:
		// A plain scalar with no tag: ShortTag resolves it as YAML would;
		// quoted, a string (session_limits.memory's "").
		v := strings.TrimSpace(value)
		if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, `'`) {
			return quotedNode(v)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v}, nil
	}
}

// quotedNode reads Set's text that starts with a quote: one YAML quoted
// string.
func quotedNode(value string) (*yaml.Node, error) {
	n, err := yamlFragment(value)
	if err != nil || n.Kind != yaml.ScalarNode || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return nil, fmt.Errorf("a value starting with a quote must be one YAML quoted string, such as \"line 1\\nline 2\"")
	}
	return n, nil
}

// yamlFragment parses one YAML value written on one line.
func yamlFragment(s string) (*yaml.Node, error) {
	if strings.ContainsAny(s, "\n\r") {
		return nil, errors.New("must be on one line")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("no value")
	}
	n := doc.Content[0]
	if n.Kind == yaml.AliasNode {
		return nil, errors.New("aliases are not supported here")
	}
	return n, nil
}
