package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
)

// Edit applies changes (keys and values as Set takes them) to the config
// file contents data and returns the new contents. Only the text of the
// values that change is rewritten: every other byte (comments, blank
// lines, the quoting and indentation of the other keys, line endings)
// stays as it was. A key the file lacks is added after the last key of
// its mapping (lockout.attempts inside an existing lockout mapping, or a
// new line "lockout: {attempts: 5}"). Every change is checked as Set
// checks it and the result as Parse does, so the returned bytes are a
// valid config file and cfg is what they say.
//
// The new text is spliced into the file at the places the YAML parser
// reports (see splice). Shapes it cannot splice safely (anchors and
// aliases, tagged or multi-line plain values, "~" for a document, line
// breaks other than LF and CRLF, a spliced text that does not read back
// as the re-encoded one does) make Edit write the whole file from its
// node tree instead, as yaml.v3 encodes it: the settings and comments are
// kept, the layout is not.
func Edit(data []byte, path string, changes []Setting) (out []byte, cfg *Config, err error) {
	cur, err := Parse(data, path)
	if err != nil {
		return nil, nil, fmt.Errorf("the current file is not valid; fix it first:\n%w", err)
	}
	for _, ch := range changes {
		if err := cur.Set(ch.Key, ch.Value); err != nil {
			return nil, nil, err
		}
		f, _, _ := lookupFlat(ch.Key)
		if _, err := valueNode(f, ch.Key, ch.Value); err != nil {
			return nil, nil, Errors{{Key: ch.Key, Msg: err.Error()}}
		}
	}
	encoded, err := reencode(data, changes)
	if err != nil {
		return nil, nil, err
	}
	if out, ok := splice(data, changes); ok {
		// The spliced text must say what the re-encoded text says, key
		// for key and value for value, and give the same settings; if
		// not, splice went wrong on some shape and the re-encoded file is
		// written instead.
		var got, want yaml.Node
		if yaml.Unmarshal(out, &got) == nil && yaml.Unmarshal(encoded, &want) == nil && sameTree(&got, &want) {
			cfg, err := Parse(out, path)
			ecfg, eerr := Parse(encoded, path)
			if err == nil && eerr == nil && reflect.DeepEqual(cfg.Settings(), ecfg.Settings()) {
				return out, cfg, nil
			}
		}
	}
	cfg, err = Parse(encoded, path)
	if err != nil {
		return nil, nil, err
	}
	return encoded, cfg, nil
}

// reencode applies changes to data's node tree and encodes it whole, as
// Edit always did: what the edited file must say, and the fallback for
// what splice cannot do.
func reencode(data []byte, changes []Setting) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 { // empty file
		doc = yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) { // "---" or "~" alone: as empty
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	root := doc.Content[0]
	for _, ch := range changes {
		f, _, _ := lookupFlat(ch.Key)
		n, err := valueNode(f, ch.Key, ch.Value)
		if err != nil {
			return nil, Errors{{Key: ch.Key, Msg: err.Error()}}
		}
		if parent, sub, nested := strings.Cut(ch.Key, "."); nested {
			pm := mapValue(root, parent)
			if pm == nil || pm.Kind != yaml.MappingNode {
				pm = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
				setMapValue(root, parent, pm)
			}
			setMapValue(pm, sub, n)
			continue
		}
		setMapValue(root, ch.Key, n)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	enc.Close()
	return buf.Bytes(), nil
}

// mapValue returns the value node of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if i := pairIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

// pairIndex returns the index in m.Content of key's key node, or -1.
func pairIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// setMapValue replaces key's value in mapping m, keeping the comments on
// the line, or appends the pair.
func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	if i := pairIndex(m, key); i >= 0 {
		old := m.Content[i+1]
		v.LineComment, v.HeadComment, v.FootComment = old.LineComment, old.HeadComment, old.FootComment
		m.Content[i+1] = v
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// sameTree reports whether a and b say the same: the same kinds, keys,
// tags and values, whatever their style, comments or positions.
func sameTree(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || len(a.Content) != len(b.Content) {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if a.Value == "" && b.Value == "" && emptyTag(a) && emptyTag(b) {
			// yaml.v3 writes an untagged "" as '' in a flow mapping but
			// as nothing (null) in a block one; splice writes "". Parse
			// reads them alike; Edit compares the settings too.
			return true
		}
		return a.Value == b.Value && a.ShortTag() == b.ShortTag()
	case yaml.AliasNode:
		return false
	case yaml.MappingNode, yaml.SequenceNode:
		if a.ShortTag() != b.ShortTag() {
			return false
		}
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func emptyTag(n *yaml.Node) bool {
	t := n.ShortTag()
	return t == "!!null" || t == "!!str"
}

// EditFile applies changes to the config file at path (see Edit) and
// replaces it atomically, keeping its mode. check (if not nil) sees the
// new settings first, and its error leaves the file as it was. It returns
// the new settings.
func EditFile(path string, changes []Setting, check func(*Config) error) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, cfg, err := Edit(data, path, changes)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(cfg); err != nil {
			return nil, err
		}
	}
	if err := trustedfile.WriteAtomic(path, out); err != nil {
		return nil, err
	}
	return cfg, nil
}
