package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func parseUsersString(t *testing.T, path, s string) *UsersFile {
	t.Helper()
	f, err := ParseUsers(strings.NewReader(s), path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func parseGroupsString(t *testing.T, path, s string) *GroupsFile {
	t.Helper()
	f, err := ParseGroups(strings.NewReader(s), path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// names is n names "u000".."u(n-1)", sorted.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

func TestDiffUsers(t *testing.T) {
	h1, h2 := testHash(t, "one", bcrypt.MinCost), testHash(t, "two", bcrypt.MinCost)
	many := func(hash string, n int) string {
		var b strings.Builder
		for _, name := range names("u", n) {
			b.WriteString(name + ":" + hash + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name          string
		before, after string
		want          UsersChange // File is always "users"
	}{
		{name: "same content", before: "alice:" + h1 + "\n", after: "alice:" + h1 + "\n"},
		{name: "empty to empty"},
		{
			name:   "comments, blank lines and order do not count",
			before: "alice:" + h1 + "\nbob:" + h2 + ":robert\n",
			after:  "# staff\n\nbob:" + h2 + ":robert\n\nalice:" + h1 + "\n",
		},
		{
			name:   "OS account written out as the user's own name is no change",
			before: "alice:" + h1 + "\n", after: "alice:" + h1 + ":alice\n",
		},
		{
			name:   "hash changed",
			before: "alice:" + h1 + "\nbob:" + h1 + "\n", after: "alice:" + h2 + "\nbob:" + h1 + "\n",
			want: UsersChange{PasswordChanged: []string{"alice"}},
		},
		{
			name:   "OS account changed",
			before: "alice:" + h1 + "\nbob:" + h1 + ":robert\n", after: "alice:" + h1 + ":root\nbob:" + h1 + "\n",
			want: UsersChange{OSAccountChanged: []string{"alice", "bob"}},
		},
		{
			name:   "hash and OS account changed",
			before: "alice:" + h1 + "\n", after: "alice:" + h2 + ":root\n",
			want: UsersChange{PasswordChanged: []string{"alice"}, OSAccountChanged: []string{"alice"}},
		},
		{
			name:   "added and removed, sorted",
			before: "carol:" + h1 + "\nalice:" + h1 + "\nzed:" + h1 + "\n",
			after:  "zed:" + h1 + "\nyves:" + h1 + "\nbob:" + h1 + "\n",
			want:   UsersChange{Added: []string{"bob", "yves"}, Removed: []string{"alice", "carol"}},
		},
		{
			name: "all new", after: "bob:" + h1 + "\nalice:" + h2 + "\n",
			want: UsersChange{Added: []string{"alice", "bob"}},
		},
		{
			name: "all gone", before: "bob:" + h1 + "\nalice:" + h2 + "\n",
			want: UsersChange{Removed: []string{"alice", "bob"}},
		},
		{
			name:   "many",
			before: many(h1, 150), after: many(h2, 120),
			want: UsersChange{Removed: names("u", 150)[120:], PasswordChanged: names("u", 120)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffUsers(parseUsersString(t, "users", tt.before), parseUsersString(t, "users", tt.after))
			want := tt.want
			want.File = "users"
			for _, l := range []*[]string{&want.Added, &want.Removed, &want.PasswordChanged, &want.OSAccountChanged} {
				if *l == nil {
					*l = []string{}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DiffUsers =\n%+v\nwant\n%+v", got, want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, UsersChange{}) {
				t.Errorf("Empty() = %v", got.Empty())
			}
			if s := fmt.Sprint(got.Attrs()); strings.Contains(s, "$2") {
				t.Errorf("Attrs hold a hash: %s", s)
			}
		})
	}

	// Another file, or no file before.
	a := parseUsersString(t, "/etc/a", "alice:"+h1+"\n")
	b := parseUsersString(t, "/etc/b", "alice:"+h1+"\n")
	if got := DiffUsers(a, b); got.File != "/etc/b" || got.PreviousFile != "/etc/a" || !got.Empty() {
		t.Errorf("DiffUsers(a, b) = %+v; want no change, file /etc/b, previous /etc/a", got)
	}
	if got := DiffUsers(nil, b); got.File != "/etc/b" || got.PreviousFile != "" || !slices.Equal(got.Added, []string{"alice"}) {
		t.Errorf("DiffUsers(nil, b) = %+v", got)
	}
}

func TestDiffGroups(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []GroupChange
	}{
		{name: "same content", before: "telnet-clients: alice bob\n", after: "telnet-clients: alice bob\n"},
		{
			name:   "order, comments, split lines and repeats do not count",
			before: "telnet-clients: alice bob\nadministrators: root\n",
			after:  "# admins\nadministrators: root root\n\ntelnet-clients: bob\ntelnet-clients: alice bob\n",
		},
		{
			name:   "member added",
			before: "telnet-clients: alice\nadministrators: root\n", after: "telnet-clients: alice\nadministrators: root bob\n",
			want: []GroupChange{{Group: "administrators", Change: GroupMembers, Added: []string{"bob"}, Removed: []string{}}},
		},
		{
			name:   "members added and removed in several groups",
			before: "telnet-clients: alice bob carol\nadministrators: root\n",
			after:  "telnet-clients: dave alice\nadministrators: zoe bob\n",
			want: []GroupChange{
				{Group: "administrators", Change: GroupMembers, Added: []string{"bob", "zoe"}, Removed: []string{"root"}},
				{Group: "telnet-clients", Change: GroupMembers, Added: []string{"dave"}, Removed: []string{"bob", "carol"}},
			},
		},
		{
			name:   "groups added and removed, with their members",
			before: "old: x y\nkeep: a\nempty-old:\n",
			after:  "keep: a\nnew: b a\nempty-new:\n",
			want: []GroupChange{
				{Group: "empty-new", Change: GroupAdded, Added: []string{}, Removed: []string{}},
				{Group: "empty-old", Change: GroupRemoved, Added: []string{}, Removed: []string{}},
				{Group: "new", Change: GroupAdded, Added: []string{"a", "b"}, Removed: []string{}},
				{Group: "old", Change: GroupRemoved, Added: []string{}, Removed: []string{"x", "y"}},
			},
		},
		{
			name: "group emptied stays a group", before: "g: a b\n", after: "g:\n",
			want: []GroupChange{{Group: "g", Change: GroupMembers, Added: []string{}, Removed: []string{"a", "b"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffGroups(parseGroupsString(t, "groups", tt.before), parseGroupsString(t, "groups", tt.after))
			want := GroupsChange{File: "groups", Groups: tt.want}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DiffGroups =\n%+v\nwant\n%+v", got, want)
			}
			if got.Empty() != (len(tt.want) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

// attrMap turns key-value pairs into a map, failing on a repeated key.
func attrMap(t *testing.T, args []any) map[string]any {
	t.Helper()
	if len(args)%2 != 0 {
		t.Fatalf("odd attrs %v", args)
	}
	m := map[string]any{}
	for i := 0; i < len(args); i += 2 {
		k := args[i].(string)
		if _, dup := m[k]; dup {
			t.Fatalf("key %s twice in %v", k, args)
		}
		m[k] = args[i+1]
	}
	return m
}

func TestUsersChangeAttrs(t *testing.T) {
	c := UsersChange{File: "/etc/tlntsvr/users", Added: []string{"bob"}, PasswordChanged: []string{"alice"}}
	got := attrMap(t, c.Attrs())
	want := map[string]any{"file": "/etc/tlntsvr/users", "added": []string{"bob"}, "removed": []string{},
		"password_changed": []string{"alice"}, "os_account_changed": []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Attrs = %v; want %v", got, want)
	}

	// Lists are cut at MaxChangeNames, with their length beside them.
	c = UsersChange{File: "u", PreviousFile: "v", Added: names("a", 250), Removed: names("r", MaxChangeNames),
		PasswordChanged: names("p", MaxChangeNames+1)}
	got = attrMap(t, c.Attrs())
	want = map[string]any{"file": "u", "previous_file": "v",
		"added": names("a", MaxChangeNames), "added_total": 250,
		"removed":          names("r", MaxChangeNames),
		"password_changed": names("p", MaxChangeNames), "password_changed_total": MaxChangeNames + 1,
		"os_account_changed": []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Attrs of long lists = %v; want %v", got, want)
	}
}

func TestGroupsChangeRecords(t *testing.T) {
	c := GroupsChange{File: "g", Groups: []GroupChange{
		{Group: "administrators", Change: GroupMembers, Added: []string{"bob"}, Removed: []string{}},
		{Group: "big", Change: GroupAdded, Added: names("m", 130), Removed: []string{}},
	}}
	recs := c.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %v", len(recs), recs)
	}
	want0 := map[string]any{"file": "g", "group": "administrators", "change": "members",
		"added": []string{"bob"}, "removed": []string{}}
	want1 := map[string]any{"file": "g", "group": "big", "change": "group_added",
		"added": names("m", MaxChangeNames), "added_total": 130, "removed": []string{}}
	if got := attrMap(t, recs[0]); !reflect.DeepEqual(got, want0) {
		t.Errorf("record 0 = %v; want %v", got, want0)
	}
	if got := attrMap(t, recs[1]); !reflect.DeepEqual(got, want1) {
		t.Errorf("record 1 = %v; want %v", got, want1)
	}

	// At most MaxChangeNames groups get a record; one more counts the rest.
	for _, n := range []int{MaxChangeNames, MaxChangeNames + 1, 250} {
		c := GroupsChange{File: "g", PreviousFile: "h"}
		for _, g := range names("g", n) {
			c.Groups = append(c.Groups, GroupChange{Group: g, Change: GroupRemoved, Added: []string{}, Removed: []string{"x"}})
		}
		recs := c.Records()
		wantRecs := min(n, MaxChangeNames)
		if n > MaxChangeNames {
			wantRecs++
		}
		if len(recs) != wantRecs {
			t.Fatalf("%d groups: %d records, want %d", n, len(recs), wantRecs)
		}
		for i, r := range recs[:min(n, MaxChangeNames)] {
			if m := attrMap(t, r); m["group"] != c.Groups[i].Group || m["previous_file"] != "h" {
				t.Fatalf("%d groups: record %d = %v", n, i, m)
			}
		}
		if n > MaxChangeNames {
			want := map[string]any{"file": "g", "previous_file": "h", "more_groups": n - MaxChangeNames}
			if got := attrMap(t, recs[len(recs)-1]); !reflect.DeepEqual(got, want) {
				t.Errorf("%d groups: last record %v; want %v", n, got, want)
			}
		}
	}
}

// changeLog collects what a Store tells its observer.
type changeLog struct {
	mu      sync.Mutex
	changes []Change
}

func (l *changeLog) observe(c Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *changeLog) take() []Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.changes
	l.changes = nil
	return c
}

// The Store tells its observer what each load changed, whichever way the
// file came in, and nothing when the content is the same.
func TestStoreObserveChanges(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw")+userLine(t, "bob", "pw"), "telnet-clients: alice bob\n", Options{})
	var log changeLog
	f.store.ObserveChanges(log.observe)

	// Found changed by a logon, a second later.
	f.write(f.users, userLine(t, "alice", "new")+userLine(t, "carol", "pw", "root"))
	f.advance(time.Second)
	f.auth("alice", "new")
	got := log.take()
	if len(got) != 1 || got[0].Users == nil || got[0].Groups != nil {
		t.Fatalf("changes after an edit: %+v; want one of the users file", got)
	}
	want := UsersChange{File: f.users, Added: []string{"carol"}, Removed: []string{"bob"},
		PasswordChanged: []string{"alice"}, OSAccountChanged: []string{}}
	if !reflect.DeepEqual(*got[0].Users, want) {
		t.Errorf("users change %+v; want %+v", *got[0].Users, want)
	}

	// The same content again, touched, reloaded, or rewritten with
	// comments: nothing to tell.
	if err := os.Chtimes(f.users, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second)
	f.auth("alice", "new")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.users)
	if err != nil {
		t.Fatal(err)
	}
	f.write(f.users, "# a comment\n"+string(data))
	f.write(f.groups, "telnet-clients: bob alice\n")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 0 {
		t.Errorf("changes without a change: %+v", got)
	}

	// A file with errors is not put in force: nothing to tell; its
	// fixed version is compared with the copy that stayed in force.
	f.write(f.groups, "telnet-clients alice\n")
	if err := f.store.Reload(); err == nil {
		t.Fatal("Reload of a bad groups file succeeded")
	}
	if got := log.take(); len(got) != 0 {
		t.Errorf("changes after a refused file: %+v", got)
	}
	f.write(f.groups, "telnet-clients: alice carol\nadministrators: carol\n")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	if len(got) != 1 || got[0].Groups == nil {
		t.Fatalf("changes after a groups edit: %+v; want one of the groups file", got)
	}
	wantG := GroupsChange{File: f.groups, Groups: []GroupChange{
		{Group: "administrators", Change: GroupAdded, Added: []string{"carol"}, Removed: []string{}},
		{Group: "telnet-clients", Change: GroupMembers, Added: []string{"carol"}, Removed: []string{"bob"}},
	}}
	if !reflect.DeepEqual(*got[0].Groups, wantG) {
		t.Errorf("groups change %+v; want %+v", *got[0].Groups, wantG)
	}

	// Both files at once: users first.
	f.write(f.users, userLine(t, "alice", "new"))
	f.write(f.groups, "telnet-clients: alice\n")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	if len(got) != 2 || got[0].Users == nil || got[1].Groups == nil {
		t.Fatalf("changes after both edits: %+v; want users then groups", got)
	}

	// SetOptions naming another file: the change against the copy in
	// force, with the file it replaces.
	other := filepath.Join(t.TempDir(), "users2")
	if err := os.WriteFile(other, []byte(userLine(t, "alice", "new")+userLine(t, "dave", "pw")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetOptions(Options{UsersFile: other, GroupsFile: f.groups}); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	if len(got) != 1 || got[0].Users == nil {
		t.Fatalf("changes after SetOptions: %+v; want one of the users file", got)
	}
	want = UsersChange{File: other, PreviousFile: f.users, Added: []string{"dave"}, Removed: []string{},
		PasswordChanged: []string{}, OSAccountChanged: []string{}}
	if !reflect.DeepEqual(*got[0].Users, want) {
		t.Errorf("users change after SetOptions %+v; want %+v", *got[0].Users, want)
	}
	// The same options again: nothing.
	if err := f.store.SetOptions(Options{UsersFile: other, GroupsFile: f.groups, MaxConcurrentChecks: 3}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 0 {
		t.Errorf("changes after SetOptions without a change: %+v", got)
	}
}
