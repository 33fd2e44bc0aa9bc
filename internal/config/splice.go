package config

// Splicing a change into the config file's text: the yaml.v3 node tree
// only says where each key and value is (Node.Line and Node.Column, a
// column counting characters), and the new value's text replaces the old
// value's text, every other byte of the file staying as it was.

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// splice applies changes to data one at a time, each on the text the one
// before left. It reports false when some change meets a shape it does
// not handle (the caller then re-encodes the file); Edit checks what it
// returns against the re-encoded tree.
func splice(data []byte, changes []Setting) ([]byte, bool) {
	// YAML also breaks lines at a lone CR, NEL, LS and PS; the line
	// numbers the parser gives would not be those counted here.
	if bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) ||
		bytes.Contains(data, []byte("\u2029")) || bytes.Count(data, []byte("\r")) != bytes.Count(data, []byte("\r\n")) {
		return nil, false
	}
	out := data
	for _, ch := range changes {
		var ok bool
		if out, ok = spliceOne(out, ch); !ok {
			return nil, false
		}
	}
	return out, true
}

// text is a file's contents with its line starts.
type text struct {
	b     []byte
	lines []int // offset of the start of each line, lines[0] for line 1
	eol   string
}

func newText(b []byte) *text {
	t := &text{b: b, lines: []int{0}, eol: "\n"}
	if bytes.HasPrefix(b, []byte("\ufeff")) {
		t.lines[0] = 3 // the parser does not count the byte order mark
	}
	for i, c := range b {
		if c == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	if i := bytes.IndexByte(b, '\n'); i > 0 && b[i-1] == '\r' {
		t.eol = "\r\n"
	}
	return t
}

// offset returns the offset of line and column (1-based, a column
// counting characters), or -1.
func (t *text) offset(line, col int) int {
	if line < 1 || line > len(t.lines) || col < 1 {
		return -1
	}
	i := t.lines[line-1]
	for ; col > 1; col-- {
		if i >= len(t.b) || t.b[i] == '\n' || t.b[i] == '\r' {
			return -1
		}
		_, size := utf8.DecodeRune(t.b[i:])
		i += size
	}
	return i
}

// lineEnd returns the offset of the line break ending the line i is on,
// or the end of the text.
func (t *text) lineEnd(i int) int {
	j := bytes.IndexByte(t.b[i:], '\n')
	if j < 0 {
		return len(t.b)
	}
	j += i
	if j > i && t.b[j-1] == '\r' {
		j--
	}
	return j
}

// replace returns the text with b[start:end] replaced by s.
func (t *text) replace(start, end int, s string) []byte {
	out := make([]byte, 0, len(t.b)-(end-start)+len(s))
	out = append(out, t.b[:start]...)
	out = append(out, s...)
	return append(out, t.b[end:]...)
}

// spliceOne applies one change to b.
func spliceOne(b []byte, ch Setting) ([]byte, bool) {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || hasAnchors(&doc) {
		return nil, false
	}
	f, _, _ := lookupFlat(ch.Key)
	v, err := valueNode(f, ch.Key, ch.Value)
	if err != nil {
		return nil, false
	}
	key, sub, nested := strings.Cut(ch.Key, ".")
	if nested {
		// What the top-level mapping gets when it lacks the parent.
		v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: sub}, v}}
	}
	t := newText(b)
	if len(doc.Content) == 0 || isEmptyNull(doc.Content[0]) {
		// Nothing but comments and blank lines (or "---"): the pair goes
		// at the end.
		s, ok := pairText(key, v, false)
		if !ok {
			return nil, false
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			s = t.eol + s
		}
		return t.replace(len(b), len(b), s+t.eol), true
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, false
	}
	i := pairIndex(m, key)
	if i < 0 {
		return insertPair(t, m, key, v)
	}
	if nested {
		m, v = m.Content[i+1], v.Content[1]
		if m.Kind != yaml.MappingNode {
			return nil, false
		}
		if i = pairIndex(m, sub); i < 0 {
			return insertPair(t, m, sub, v)
		}
	}
	return replaceValue(t, m, i, v)
}

func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style == 0 && n.Value == "" && n.ShortTag() == "!!null"
}

func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

func isFlow(n *yaml.Node) bool { return n.Style&yaml.FlowStyle != 0 }

// replaceValue replaces the value of the pair at i in mapping m by v.
func replaceValue(t *text, m *yaml.Node, i int, v *yaml.Node) ([]byte, bool) {
	k, old := m.Content[i], m.Content[i+1]
	flow := isFlow(m)
	s, ok := valueText(v, flow)
	if !ok {
		return nil, false
	}
	if flow || (old.Kind != yaml.SequenceNode && old.Kind != yaml.MappingNode) || isFlow(old) {
		start, end, ok := span(t, old, flow, k.Column-1)
		if !ok {
			return nil, false
		}
		return t.replace(start, end, s), true
	}
	// A block collection: from after the key's colon to the end of the
	// collection's last line becomes one line, "key: value", keeping a
	// comment after the colon.
	colon, ok := keyColon(t, k)
	if !ok || old.Line <= k.Line {
		return nil, false
	}
	rest := string(t.b[colon+1 : t.lineEnd(colon)])
	comment := strings.TrimLeft(rest, " \t")
	if comment != "" && comment[0] != '#' {
		return nil, false
	}
	last, ok := nodeEnd(t, old, false, k.Column-1)
	if !ok {
		return nil, false
	}
	s = " " + s
	if comment != "" {
		s += rest[:len(rest)-len(comment)] // the blanks before the comment, as they were
		s += strings.TrimRight(comment, " \t")
	}
	return t.replace(colon+1, t.lineEnd(last), s), true
}

// keyColon returns the offset of the ':' after key node k.
func keyColon(t *text, k *yaml.Node) (int, bool) {
	var end int
	if k.Kind != yaml.ScalarNode {
		return 0, false
	} else if k.Style == 0 {
		start := t.offset(k.Line, k.Column)
		if end = start + len(k.Value); start < 0 || end > len(t.b) || string(t.b[start:end]) != k.Value {
			return 0, false
		}
	} else {
		var ok bool
		if _, end, ok = span(t, k, false, 0); !ok {
			return 0, false
		}
	}
	for end < len(t.b) && (t.b[end] == ' ' || t.b[end] == '\t') {
		end++
	}
	return end, end < len(t.b) && t.b[end] == ':'
}

// insertPair adds key: v to mapping m, after its last pair.
func insertPair(t *text, m *yaml.Node, key string, v *yaml.Node) ([]byte, bool) {
	flow := isFlow(m)
	s, ok := pairText(key, v, flow)
	if !ok || len(m.Content) == 0 && !flow {
		return nil, false
	}
	if flow {
		if len(m.Content) == 0 {
			start := t.offset(m.Line, m.Column)
			if start < 0 || t.b[start] != '{' {
				return nil, false
			}
			return t.replace(start+1, start+1, s), true
		}
		end, ok := nodeEnd(t, m.Content[len(m.Content)-1], true, 0)
		if !ok {
			return nil, false
		}
		return t.replace(end, end, ", "+s), true
	}
	// A new line under the last one of the mapping, indented as its keys.
	first := m.Content[0]
	at := t.offset(first.Line, first.Column)
	indent := first.Column - 1
	if at < 0 || at-t.lines[first.Line-1] != indent || strings.Trim(string(t.b[t.lines[first.Line-1]:at]), " ") != "" {
		return nil, false
	}
	lastKey := m.Content[len(m.Content)-2]
	end, ok := nodeEnd(t, m.Content[len(m.Content)-1], false, lastKey.Column-1)
	if !ok {
		return nil, false
	}
	end = t.lineEnd(end)
	return t.replace(end, end, t.eol+strings.Repeat(" ", indent)+s), true
}

// pairText writes "key: value" for a mapping in flow or block style.
func pairText(key string, v *yaml.Node, flow bool) (string, bool) {
	k, ok := scalarText(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, flow)
	if !ok {
		return "", false
	}
	s, ok := valueText(v, flow)
	return k + ": " + s, ok
}

// valueText writes v on one line, collections in flow style: plain where
// that reads back as the same value, double-quoted otherwise.
func valueText(v *yaml.Node, flow bool) (string, bool) {
	switch v.Kind {
	case yaml.ScalarNode:
		return scalarText(v, flow)
	case yaml.SequenceNode, yaml.MappingNode:
		if v.Tag != "" && v.Tag != "!!seq" && v.Tag != "!!map" {
			return "", false
		}
		parts := make([]string, 0, len(v.Content))
		step := 1
		if v.Kind == yaml.MappingNode {
			step = 2
		}
		for i := 0; i+step <= len(v.Content); i += step {
			s, ok := valueText(v.Content[i], true)
			if !ok {
				return "", false
			}
			if step == 2 {
				if v.Content[i].Kind != yaml.ScalarNode {
					return "", false
				}
				val, ok := valueText(v.Content[i+1], true)
				if !ok {
					return "", false
				}
				s += ": " + val
			}
			parts = append(parts, s)
		}
		if step == 2 {
			return "{" + strings.Join(parts, ", ") + "}", true
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	}
	return "", false
}

func scalarText(v *yaml.Node, flow bool) (string, bool) {
	tag := v.ShortTag()
	if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && readsPlain(v.Value, flow, tag) {
		return v.Value, true
	}
	if tag != "!!str" && v.Tag != "" {
		return "", false
	}
	// A string, or an untagged value that is none of YAML's plain types
	// (session_limits.memory's "" for none): double-quoted, as yaml.v3
	// quotes it. Go's escapes are all valid in YAML.
	return strconv.Quote(v.Value), true
}

// readsPlain reports whether s written plain after "key: " (in a flow
// mapping if flow) reads back as s with tag.
func readsPlain(s string, flow bool, tag string) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\t") {
		return false
	}
	src := "k: " + s
	if flow {
		src = "{k: " + s + "}"
	}
	return readsBackPlain(src, s, tag, false)
}

// nodeEnd returns the offset just after n's text; for a block collection,
// after the text of its last value. indent is that of the key or "- " n
// belongs to.
func nodeEnd(t *text, n *yaml.Node, flow bool, indent int) (int, bool) {
	if (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) && !isFlow(n) {
		if flow || len(n.Content) == 0 {
			return 0, false
		}
		ind := n.Column - 1 // the "- " of a sequence
		if n.Kind == yaml.MappingNode {
			ind = n.Content[len(n.Content)-2].Column - 1
		}
		return nodeEnd(t, n.Content[len(n.Content)-1], false, ind)
	}
	_, end, ok := span(t, n, flow, indent)
	return end, ok
}

// span returns where scalar or flow collection n's text starts and ends;
// flow says whether it is inside a flow collection, and indent is that of
// the key or "- " n belongs to (for a block scalar's lines).
func span(t *text, n *yaml.Node, flow bool, indent int) (start, end int, ok bool) {
	start = t.offset(n.Line, n.Column)
	if start < 0 || start >= len(t.b) {
		return 0, 0, false
	}
	b := t.b
	switch {
	case n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode:
		if !isFlow(n) {
			return 0, 0, false
		}
		open, closer := byte('['), byte(']')
		if n.Kind == yaml.MappingNode {
			open, closer = '{', '}'
		}
		if b[start] != open {
			return 0, 0, false
		}
		i := start + 1
		if len(n.Content) > 0 {
			if i, ok = nodeEnd(t, n.Content[len(n.Content)-1], true, 0); !ok {
				return 0, 0, false
			}
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' && len(n.Content) > 0 {
			i = skipSpace(b, i+1)
		}
		if i >= len(b) || b[i] != closer {
			return 0, 0, false
		}
		return start, i + 1, true
	case n.Kind != yaml.ScalarNode:
		return 0, 0, false
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if b[start] != '"' {
			return 0, 0, false
		}
		for i := start + 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1, true
			}
		}
		return 0, 0, false
	case n.Style&yaml.SingleQuotedStyle != 0:
		if b[start] != '\'' {
			return 0, 0, false
		}
		for i := start + 1; i < len(b); i++ {
			if b[i] == '\'' {
				if i+1 < len(b) && b[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, true
			}
		}
		return 0, 0, false
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		if flow || (b[start] != '|' && b[start] != '>') {
			return 0, 0, false
		}
		// The header, then every line more indented than indent; blank
		// lines after the last of them are not part of it.
		end = start + 1
		for end < len(b) && strings.IndexByte("+-0123456789", b[end]) >= 0 {
			end++
		}
		for ls := t.lineEnd(start); ls < len(b); {
			ls++ // past '\n' ('\r' was lineEnd's)
			if b[ls-1] == '\r' {
				ls++
			}
			le := t.lineEnd(ls)
			line := string(b[ls:le])
			if strings.TrimLeft(line, " \t") == "" {
				ls = le
				continue
			}
			if len(line)-len(strings.TrimLeft(line, " ")) <= indent {
				break
			}
			end, ls = le, le
		}
		return start, end, true
	case n.Style&^yaml.FlowStyle == 0:
		// Plain: to a comment or the end of the line, in a flow
		// collection to the next indicator; it must be the whole value
		// (a plain value running over several lines is not handled).
		end = start
		for end < len(b) && b[end] != '\n' && b[end] != '\r' {
			c := b[end]
			if (c == ' ' || c == '\t') && end+1 < len(b) && b[end+1] == '#' {
				break
			}
			if flow && strings.IndexByte(",[]{}", c) >= 0 {
				break
			}
			if flow && c == ':' && (end+1 == len(b) || strings.IndexByte(" \t\r\n,[]{}", b[end+1]) >= 0) {
				break
			}
			end++
		}
		for end > start && (b[end-1] == ' ' || b[end-1] == '\t') {
			end--
		}
		if string(b[start:end]) != n.Value || end == start {
			return 0, 0, false
		}
		return start, end, true
	}
	return 0, 0, false
}

// skipSpace skips blanks, line breaks and comments.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}
