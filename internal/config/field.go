package config

// What a schema entry is, and what follows from the entries: the Config's
// copies, the lookup of a key, and the daemon's rules.

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

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
	if reflect.TypeFor[T]().Implements(reflect.TypeFor[listValue]()) {
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

// cloneValue returns v with nothing shared with it.
func cloneValue[T any](v T) T {
	switch s := any(v).(type) {
	case []string:
		return any(slices.Clone(s)).(T)
	case CIDRs:
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

// RestartKeys lists the settings bound at start (NeedsRestart), in the
// file's order, for help texts that name them.
func RestartKeys() []string {
	var keys []string
	eachField(func(key string, f *field) {
		if f.rules&restart != 0 {
			keys = append(keys, key)
		}
	})
	return keys
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
