package auth

import (
	"maps"
	"slices"
)

// MaxChangeNames bounds each list of names in a change record, and the
// number of group records of one load: the files are the admins', but an
// audit line must stay readable whatever they hold. A longer list is cut
// to its first (sorted) MaxChangeNames names and its length given beside it.
const MaxChangeNames = 100

// Change is what one load of a users or groups file changed, by name,
// against the copy that was in force. Exactly one of Users and Groups is
// set. It never holds a password hash.
type Change struct {
	Users  *UsersChange
	Groups *GroupsChange
}

// UsersChange is what differs between two users files. Every list is
// sorted and non-nil.
type UsersChange struct {
	File         string // the file loaded
	PreviousFile string // the file in force before, when another (a config change)
	Added        []string
	Removed      []string
	// PasswordChanged lists the users whose hash differs (a new password,
	// or the same one hashed again); OSAccountChanged those whose line now
	// names another OS account. A user can be in both.
	PasswordChanged  []string
	OSAccountChanged []string
}

// Empty reports whether nothing changed.
func (c UsersChange) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.PasswordChanged)+len(c.OSAccountChanged) == 0
}

// GroupsChange is what differs between two groups files: one GroupChange
// per group that appeared, disappeared, or gained or lost members, sorted
// by group name.
type GroupsChange struct {
	File         string
	PreviousFile string // as in UsersChange
	Groups       []GroupChange
}

// Empty reports whether nothing changed.
func (c GroupsChange) Empty() bool { return len(c.Groups) == 0 }

// How a group changed.
const (
	GroupAdded   = "group_added"   // a new group; Added lists its members
	GroupRemoved = "group_removed" // a group gone; Removed lists its members
	GroupMembers = "members"       // a group in both files whose members differ
)

// GroupChange is one group's change. Added and Removed (members) are
// sorted and non-nil.
type GroupChange struct {
	Group   string
	Change  string // GroupAdded, GroupRemoved or GroupMembers
	Added   []string
	Removed []string
}

// DiffUsers compares the users of two files by name: comments, blank
// lines and the order of lines do not count. A nil file has no users.
func DiffUsers(prev, next *UsersFile) UsersChange {
	c := UsersChange{Added: []string{}, Removed: []string{}, PasswordChanged: []string{}, OSAccountChanged: []string{}}
	var prevPath, nextPath string
	if prev != nil {
		prevPath = prev.path
	}
	if next != nil {
		nextPath = next.path
	}
	c.File, c.PreviousFile = paths(prevPath, nextPath)
	was, now := usersByName(prev), usersByName(next)
	for name, u := range now {
		w, ok := was[name]
		if !ok {
			c.Added = append(c.Added, name)
			continue
		}
		if w.Hash != u.Hash {
			c.PasswordChanged = append(c.PasswordChanged, name)
		}
		if w.OSAccount != u.OSAccount {
			c.OSAccountChanged = append(c.OSAccountChanged, name)
		}
	}
	for name := range was {
		if _, ok := now[name]; !ok {
			c.Removed = append(c.Removed, name)
		}
	}
	slices.Sort(c.Added)
	slices.Sort(c.Removed)
	slices.Sort(c.PasswordChanged)
	slices.Sort(c.OSAccountChanged)
	return c
}

// paths is the file of a load and, when another, the file before it.
func paths(prev, next string) (file, previous string) {
	if prev == next {
		prev = ""
	}
	return next, prev
}

// usersByName is f's users by name (nil for a nil file).
func usersByName(f *UsersFile) map[string]User {
	if f == nil {
		return nil
	}
	m := make(map[string]User, len(f.index))
	for name, i := range f.index {
		m[name] = f.lines[i].user
	}
	return m
}

// DiffGroups compares two groups files group by group, by members:
// comments, the order of lines and members, a group split over several
// lines and repeated members do not count. A nil file has no groups.
func DiffGroups(prev, next *GroupsFile) GroupsChange {
	var c GroupsChange
	var prevPath, nextPath string
	var was, now map[string]map[string]struct{}
	if prev != nil {
		prevPath, was = prev.path, prev.sets
	}
	if next != nil {
		nextPath, now = next.path, next.sets
	}
	c.File, c.PreviousFile = paths(prevPath, nextPath)
	names := slices.Sorted(maps.Keys(now))
	for g := range was {
		if _, ok := now[g]; !ok {
			names = append(names, g)
		}
	}
	slices.Sort(names)
	for _, g := range names {
		before, inOld := was[g]
		after, inNew := now[g]
		gc := GroupChange{Group: g, Change: GroupMembers, Added: missingFrom(after, before), Removed: missingFrom(before, after)}
		switch {
		case !inOld:
			gc.Change = GroupAdded
		case !inNew:
			gc.Change = GroupRemoved
		case len(gc.Added)+len(gc.Removed) == 0:
			continue
		}
		c.Groups = append(c.Groups, gc)
	}
	return c
}

// missingFrom lists, sorted, the names in a that are not in b.
func missingFrom(a, b map[string]struct{}) []string {
	out := []string{}
	for name := range a {
		if _, ok := b[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Attrs are the fields of the audit record of c, after its event: file
// (and previous_file when the file in force was another), then added,
// removed, password_changed and os_account_changed, each followed by
// its length as NAME_total when cut to MaxChangeNames names.
func (c UsersChange) Attrs() []any {
	args := fileAttrs(c.File, c.PreviousFile)
	args = appendNames(args, "added", c.Added)
	args = appendNames(args, "removed", c.Removed)
	args = appendNames(args, "password_changed", c.PasswordChanged)
	return appendNames(args, "os_account_changed", c.OSAccountChanged)
}

// Records are the fields of the audit records of c, one per changed
// group (after their event): file (and previous_file), group, change,
// and the members added and removed, cut as UsersChange.Attrs cuts. At
// most MaxChangeNames groups get a record; when more changed, one last
// record has file and more_groups, the number of groups left out.
func (c GroupsChange) Records() [][]any {
	var recs [][]any
	for i, g := range c.Groups {
		if i == MaxChangeNames {
			recs = append(recs, append(fileAttrs(c.File, c.PreviousFile), "more_groups", len(c.Groups)-i))
			break
		}
		args := append(fileAttrs(c.File, c.PreviousFile), "group", g.Group, "change", g.Change)
		args = appendNames(args, "added", g.Added)
		recs = append(recs, appendNames(args, "removed", g.Removed))
	}
	return recs
}

func fileAttrs(file, previous string) []any {
	args := []any{"file", file}
	if previous != "" {
		args = append(args, "previous_file", previous)
	}
	return args
}

// appendNames appends key and names (never nil, so JSON has [] rather
// than null), cut to MaxChangeNames with key_total after them when longer.
func appendNames(args []any, key string, names []string) []any {
	if names == nil {
		names = []string{}
	}
	if len(names) <= MaxChangeNames {
		return append(args, key, names)
	}
	return append(args, key, names[:MaxChangeNames:MaxChangeNames], key+"_total", len(names))
}
