package auth

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// GroupsFile is a parsed groups file in Apache AuthGroupFile format:
// "group: user1 user2" lines, '#' comments and blank lines. A group may
// appear on several lines; its members are merged.
//
// A GroupsFile is not safe for concurrent mutation; Store never shares the
// one it reads.
type GroupsFile struct {
	path  string
	lines []groupsLine
	// Derived from lines by reindex.
	order   []string                       // groups in order of first appearance
	members map[string][]string            // merged, deduplicated, in order of appearance
	sets    map[string]map[string]struct{} // the same, for IsMember
}

type groupsLine struct {
	raw     string // comment or blank line, written back as is
	group   string
	members []string
	isGroup bool
	size    int // of the line as Write writes it, set by reindex and AddMember
}

// ParseGroups parses a groups file read from r; path is used in errors
// only. Errors are *ParseError naming the file and line.
func ParseGroups(r io.Reader, path string) (*GroupsFile, error) {
	lines, err := readLines(r, path, maxGroupsLine)
	if err != nil {
		return nil, err
	}
	f := &GroupsFile{path: path}
	for i, raw := range lines {
		line := trimLine(raw)
		if isIgnored(line) {
			f.lines = append(f.lines, groupsLine{raw: raw})
			continue
		}
		gl, msg := parseGroupLine(line)
		if msg != "" {
			return nil, &ParseError{File: path, Line: i + 1, Msg: msg}
		}
		f.lines = append(f.lines, gl)
	}
	f.reindex()
	return f, nil
}

func parseGroupLine(line string) (gl groupsLine, msg string) {
	name, rest, ok := strings.Cut(line, ":")
	if !ok {
		return gl, "missing ':' after group name"
	}
	name = trimLine(name)
	if err := ValidateGroupName(name); err != nil {
		return gl, fmt.Sprintf("%v: %q", err, name)
	}
	gl = groupsLine{group: name, isGroup: true}
	for _, m := range strings.Fields(rest) {
		if err := ValidateUsername(m); err != nil {
			return groupsLine{}, fmt.Sprintf("group %q: member %v: %q", name, err, m)
		}
		gl.members = append(gl.members, m)
	}
	return gl, ""
}

func (f *GroupsFile) reindex() {
	f.order = nil
	f.members = make(map[string][]string)
	f.sets = make(map[string]map[string]struct{})
	for i := range f.lines {
		l := &f.lines[i]
		if !l.isGroup {
			continue
		}
		l.size = lineLen(*l)
		set, ok := f.sets[l.group]
		if !ok {
			set = make(map[string]struct{})
			f.sets[l.group] = set
			f.order = append(f.order, l.group)
			f.members[l.group] = []string{}
		}
		for _, m := range l.members {
			if _, dup := set[m]; !dup {
				set[m] = struct{}{}
				f.members[l.group] = append(f.members[l.group], m)
			}
		}
	}
}

// Path is the path given to ParseGroups.
func (f *GroupsFile) Path() string { return f.path }

// Groups lists the group names in order of first appearance.
func (f *GroupsFile) Groups() []string { return slices.Clone(f.order) }

// Members lists a group's members, merged over all its lines, without
// duplicates; nil when the group does not exist.
func (f *GroupsFile) Members(group string) []string {
	return slices.Clone(f.members[group])
}

// IsMember reports whether user is listed in group.
func (f *GroupsFile) IsMember(group, user string) bool {
	_, ok := f.sets[group][user]
	return ok
}

// HasGroup reports whether the group appears in the file, even with no members.
func (f *GroupsFile) HasGroup(group string) bool {
	_, ok := f.sets[group]
	return ok
}

// AddGroup adds an empty group line unless the group exists.
func (f *GroupsFile) AddGroup(group string) error {
	if err := ValidateGroupName(group); err != nil {
		return err
	}
	if !f.HasGroup(group) {
		f.lines = append(f.lines, groupsLine{group: group, isGroup: true})
		f.reindex()
	}
	return nil
}

// DeleteGroup removes every line of the group and reports whether there was one.
func (f *GroupsFile) DeleteGroup(group string) bool {
	if !f.HasGroup(group) {
		return false
	}
	f.lines = slices.DeleteFunc(f.lines, func(l groupsLine) bool { return l.isGroup && l.group == group })
	f.reindex()
	return true
}

// AddMember adds user to group, creating the group if needed. The user
// goes on the group's last line, or on a new line after it when that line
// would grow past what ParseGroups accepts.
func (f *GroupsFile) AddMember(group, user string) error {
	if err := ValidateGroupName(group); err != nil {
		return err
	}
	if err := ValidateUsername(user); err != nil {
		return err
	}
	if f.IsMember(group, user) {
		return nil
	}
	last := -1
	for i, l := range f.lines {
		if l.isGroup && l.group == group {
			last = i
		}
	}
	switch {
	case last < 0:
		l := groupsLine{group: group, members: []string{user}, isGroup: true}
		l.size = lineLen(l)
		f.lines = append(f.lines, l)
	case f.lines[last].size+1+len(user) > maxGroupsLine:
		l := groupsLine{group: group, members: []string{user}, isGroup: true}
		l.size = lineLen(l)
		f.lines = slices.Insert(f.lines, last+1, l)
	default:
		f.lines[last].members = append(f.lines[last].members, user)
		f.lines[last].size += 1 + len(user)
	}
	// Index by hand: reindex would make adding n members O(n²).
	if f.sets == nil {
		f.reindex()
	}
	if _, ok := f.sets[group]; !ok {
		f.sets[group] = make(map[string]struct{})
		f.order = append(f.order, group)
	}
	f.sets[group][user] = struct{}{}
	f.members[group] = append(f.members[group], user)
	return nil
}

// RemoveMember removes user from every line of group and reports whether
// it was there. The group itself stays, even if left empty.
func (f *GroupsFile) RemoveMember(group, user string) bool {
	if !f.IsMember(group, user) {
		return false
	}
	first := true // the group's first line stays, even if emptied
	f.lines = slices.DeleteFunc(f.lines, func(l groupsLine) bool {
		if !l.isGroup || l.group != group {
			return false
		}
		l.members = slices.DeleteFunc(slices.Clone(l.members), func(m string) bool { return m == user })
		keep := first || len(l.members) > 0
		first = false
		return !keep
	})
	for i := range f.lines {
		if l := &f.lines[i]; l.isGroup && l.group == group {
			l.members = slices.DeleteFunc(l.members, func(m string) bool { return m == user })
		}
	}
	f.reindex()
	return true
}

func lineLen(l groupsLine) int {
	n := len(l.group) + 1
	for _, m := range l.members {
		n += 1 + len(m)
	}
	return n
}

// Write writes the file back out: comments and blank lines as they were,
// each group line as "group: user1 user2".
func (f *GroupsFile) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, l := range f.lines {
		if !l.isGroup {
			bw.WriteString(l.raw)
		} else {
			bw.WriteString(l.group)
			bw.WriteByte(':')
			for _, m := range l.members {
				bw.WriteByte(' ')
				bw.WriteString(m)
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
