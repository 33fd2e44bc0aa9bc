package auth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func FuzzParseUsers(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "htpasswd-B.users")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"\n",
		"# comment\n\nalice:" + aliceHash + "\n",
		"alice:" + aliceHash + ":robert\r\nbob:" + bobHash + "\n",
		"  alice:" + aliceHash + "  \n#x",
		"alice:" + aliceHash + "\nalice:" + bobHash + "\n",
		"-f root:" + aliceHash + "\n",
		"bob:$apr1$Vm4jA1Xf$JdmwJW.dTTFu/5eZ7EqYF/\n",
		"bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
		"bob:$2x$04" + aliceHash[6:] + "\n",
		"bob:$2y$99" + aliceHash[6:] + "\n",
		"bob:" + aliceHash + ":\n",
		"a:b:c:d",
		"josé:" + aliceHash + "\n",
		"\xff:" + aliceHash,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		uf, err := ParseUsers(bytes.NewReader(data), "users")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "users" || pe.Msg == "" || pe.Line < 0 {
				t.Fatalf("error %v (%T) is not a proper *ParseError", err, err)
			}
			if pe.Line > bytes.Count(data, []byte{'\n'})+1 {
				t.Fatalf("error on line %d of a %d-line input", pe.Line, bytes.Count(data, []byte{'\n'})+1)
			}
			return
		}
		users := uf.Users()
		if len(users) != uf.Len() {
			t.Fatalf("Users() has %d, Len() = %d", len(users), uf.Len())
		}
		for _, u := range users {
			if msg := checkUser(u); msg != "" {
				t.Fatalf("accepted an invalid user %q: %s", u.Name, msg)
			}
			if got, ok := uf.Lookup(u.Name); !ok || got != u {
				t.Fatalf("Lookup(%q) = %v, %v", u.Name, got, ok)
			}
		}
		n := 0
		for c, k := range uf.Costs() {
			if c < 4 || c > MaxCost || k <= 0 {
				t.Fatalf("Costs() = %v", uf.Costs())
			}
			n += k
		}
		if n != uf.Len() {
			t.Fatalf("Costs() = %v for %d users", uf.Costs(), uf.Len())
		}
		// Written back, it parses to the same users.
		var out bytes.Buffer
		if err := uf.Write(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ParseUsers(&out, "users")
		if err != nil {
			t.Fatalf("reparse of Write output: %v\n%q", err, out.String())
		}
		if got := again.Users(); !reflect.DeepEqual(got, users) {
			t.Fatalf("round trip:\n got %q\nwant %q", got, users)
		}
	})
}

func FuzzParseGroups(f *testing.F) {
	for _, s := range []string{
		"",
		"telnet-clients: alice bob\nadministrators: root\n",
		"# c\n\ng: a\r\ng: b a\n",
		"  g :\ta  b \n",
		"empty:\n",
		"g a\n",
		": a\n",
		"-g: a\n",
		"g: -a\n",
		"g: a:b\n",
		"g:\x00\n",
		"josé: ユーザー\n",
		"a:b:c:d",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := ParseGroups(bytes.NewReader(data), "groups")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "groups" || pe.Msg == "" {
				t.Fatalf("error %v (%T) is not a proper *ParseError", err, err)
			}
			return
		}
		groups := gf.Groups()
		for _, g := range groups {
			if err := ValidateGroupName(g); err != nil {
				t.Fatalf("accepted group %q: %v", g, err)
			}
			seen := make(map[string]bool)
			for _, m := range gf.Members(g) {
				if err := ValidateUsername(m); err != nil {
					t.Fatalf("accepted member %q: %v", m, err)
				}
				if seen[m] {
					t.Fatalf("member %q listed twice in %q", m, g)
				}
				seen[m] = true
				if !gf.IsMember(g, m) {
					t.Fatalf("IsMember(%q, %q) = false", g, m)
				}
			}
		}
		var out bytes.Buffer
		if err := gf.Write(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ParseGroups(&out, "groups")
		if err != nil {
			t.Fatalf("reparse of Write output: %v\n%q", err, out.String())
		}
		if got := again.Groups(); !slices.Equal(got, groups) {
			t.Fatalf("round trip groups:\n got %q\nwant %q", got, groups)
		}
		for _, g := range groups {
			if got, want := again.Members(g), gf.Members(g); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip %q:\n got %q\nwant %q", g, got, want)
			}
		}
	})
}
