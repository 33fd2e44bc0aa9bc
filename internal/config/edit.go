package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
)

// Edit applies changes (keys and values as Set takes them) to the config
// file contents data, keeping its comments and the order of its keys; keys
// the file lacks are appended. Every change is checked as Set checks it and
// the result as Parse does, so the returned bytes are a valid config file
// and cfg is what they say.
func Edit(data []byte, path string, changes []Setting) (out []byte, cfg *Config, err error) {
	cur, err := Parse(data, path)
	if err != nil {
		return nil, nil, fmt.Errorf("the current file is not valid; fix it first:\n%w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Kind == 0 { // empty file
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	for _, ch := range changes {
		if err := cur.Set(ch.Key, ch.Value); err != nil {
			return nil, nil, err
		}
		f, _, _ := lookupFlat(ch.Key)
		n, err := valueNode(f, ch.Key, ch.Value)
		if err != nil {
			return nil, nil, Errors{{Key: ch.Key, Msg: err.Error()}}
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
		return nil, nil, err
	}
	enc.Close()
	cfg, err = Parse(buf.Bytes(), path)
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), cfg, nil
}

// mapValue returns the value node of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setMapValue replaces key's value in mapping m, keeping the comments on
// the line, or appends the pair.
func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			v.LineComment, v.HeadComment, v.FootComment = old.LineComment, old.HeadComment, old.FootComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
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
