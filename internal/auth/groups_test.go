package auth

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseGroupsGood(t *testing.T) {
	input := "# who may log on\n" +
		"telnet-clients: alice bob\n" +
		"\n" +
		"administrators:root\r\n" +
		"  telnet-clients :\tcarol  alice \n" + // merged, alice not twice
		"empty:\n" +
		"josé-group: josé"
	f, err := ParseGroups(strings.NewReader(input), "groups")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Groups(), []string{"telnet-clients", "administrators", "empty", "josé-group"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Groups() = %q, want %q", got, want)
	}
	for _, c := range []struct {
		group string
		want  []string
	}{
		{"telnet-clients", []string{"alice", "bob", "carol"}},
		{"administrators", []string{"root"}},
		{"empty", []string{}},
		{"josé-group", []string{"josé"}},
		{"nosuch", nil},
	} {
		if got := f.Members(c.group); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Members(%q) = %#v, want %#v", c.group, got, c.want)
		}
	}
	for _, c := range []struct {
		group, user string
		want        bool
	}{
		{"telnet-clients", "alice", true},
		{"telnet-clients", "carol", true},
		{"telnet-clients", "root", false},
		{"administrators", "root", true},
		{"Administrators", "root", false},
		{"administrators", "Root", false},
		{"empty", "", false},
		{"nosuch", "alice", false},
		{"", "", false},
	} {
		if got := f.IsMember(c.group, c.user); got != c.want {
			t.Errorf("IsMember(%q, %q) = %v, want %v", c.group, c.user, got, c.want)
		}
	}
	// Members hands out a copy.
	f.Members("telnet-clients")[0] = "mallory"
	if f.IsMember("telnet-clients", "mallory") || f.Members("telnet-clients")[0] != "alice" {
		t.Fatal("Members returned the internal slice")
	}

	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		t.Fatal(err)
	}
	want := "# who may log on\n" +
		"telnet-clients: alice bob\n" +
		"\n" +
		"administrators: root\n" +
		"telnet-clients: carol alice\n" +
		"empty:\n" +
		"josé-group: josé\n"
	if out.String() != want {
		t.Fatalf("Write:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestParseGroupsErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"no colon", "telnet-clients alice\n", "groups:1: missing ':' after group name"},
		{"empty name", ": alice\n", `groups:1: group name is empty: ""`},
		{"dash group", "-g: alice\n", `groups:1: group name starts with '-': "-g"`},
		{"space in group", "telnet clients: alice\n", `groups:1: group name contains whitespace: "telnet clients"`},
		{"dash member", "# x\ntelnet-clients: alice -f\n", `groups:2: group "telnet-clients": member user name starts with '-': "-f"`},
		{"colon member", "g: a b:c\n", `groups:1: group "g": member user name contains ':': "b:c"`},
		{"slash member", "g: ../root\n", `groups:1: group "g": member user name contains '/': "../root"`},
		{"NUL member", "g: a\x00b\n", `groups:1: group "g": member user name contains control byte 0x00: "a\x00b"`},
		{"control group", "g\x01: a\n", `groups:1: group name contains control byte 0x01: "g\x01"`},
		{"bad UTF-8 member", "g: \xfe\n", `groups:1: group "g": member user name is not valid UTF-8: "\xfe"`},
		{"long member", "g: " + strings.Repeat("m", 65) + "\n", `groups:1: group "g": member user name is longer than 64 bytes: "` + strings.Repeat("m", 65) + `"`},
		{"line too long", "g: a\n\ng:" + strings.Repeat(" abc", 300000) + "\n", "groups:3: line is longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGroups(strings.NewReader(tt.input), "groups")
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestGroupsEdit(t *testing.T) {
	f, err := ParseGroups(strings.NewReader("# c\nclients: alice bob\nadmins: root\nclients: carol\n"), "groups")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return f.AddMember("clients", "dave") }, "# c\nclients: alice bob\nadmins: root\nclients: carol dave\n"},
		{func() error { return f.AddMember("clients", "alice") }, "# c\nclients: alice bob\nadmins: root\nclients: carol dave\n"},
		{func() error { return f.AddMember("new", "erin") }, "# c\nclients: alice bob\nadmins: root\nclients: carol dave\nnew: erin\n"},
		{func() error { return f.AddGroup("empty") }, "# c\nclients: alice bob\nadmins: root\nclients: carol dave\nnew: erin\nempty:\n"},
		{func() error { return f.AddGroup("clients") }, "# c\nclients: alice bob\nadmins: root\nclients: carol dave\nnew: erin\nempty:\n"},
		{func() error { f.RemoveMember("clients", "carol"); return nil }, "# c\nclients: alice bob\nadmins: root\nclients: dave\nnew: erin\nempty:\n"},
		{func() error { f.RemoveMember("clients", "dave"); return nil }, "# c\nclients: alice bob\nadmins: root\nnew: erin\nempty:\n"},
		{func() error { f.RemoveMember("clients", "alice"); f.RemoveMember("clients", "bob"); return nil }, "# c\nclients:\nadmins: root\nnew: erin\nempty:\n"},
		{func() error { f.DeleteGroup("new"); return nil }, "# c\nclients:\nadmins: root\nempty:\n"},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var out bytes.Buffer
		if err := f.Write(&out); err != nil {
			t.Fatal(err)
		}
		if out.String() != s.want {
			t.Fatalf("step %d:\n%s\nwant:\n%s", i, out.String(), s.want)
		}
		// What is written parses back to the same groups.
		g, err := ParseGroups(&out, "groups")
		if err != nil {
			t.Fatalf("step %d: reparse: %v", i, err)
		}
		for _, name := range f.Groups() {
			if !reflect.DeepEqual(g.Members(name), f.Members(name)) {
				t.Fatalf("step %d: %s: reparsed %q, have %q", i, name, g.Members(name), f.Members(name))
			}
		}
	}
	if !f.HasGroup("clients") || f.IsMember("clients", "alice") {
		t.Fatal("clients should be left, empty")
	}
	if f.RemoveMember("clients", "alice") || f.DeleteGroup("nosuch") {
		t.Fatal("removing what is not there reported true")
	}
	if err := f.AddMember("clients", "-f"); err == nil {
		t.Fatal("AddMember accepted -f")
	}
	if err := f.AddGroup("a b"); err == nil {
		t.Fatal("AddGroup accepted a b")
	}
}

func TestGroupsAddMemberSplitsLongLines(t *testing.T) {
	f := &GroupsFile{}
	name := strings.Repeat("u", 56)
	n := maxGroupsLine/57 + 10
	for i := range n {
		if err := f.AddMember("big", name+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 2 {
		t.Fatalf("%d lines, want 2", lines)
	}
	g, err := ParseGroups(&out, "groups")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members("big")) != n {
		t.Fatalf("%d members after reparse, want %d", len(g.Members("big")), n)
	}
}
