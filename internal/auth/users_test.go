package auth

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/bcrypt"
)

// From testdata/htpasswd-B.users: htpasswd -B -C 4 -b -c FILE alice secret,
// then htpasswd -B -b FILE bob 'pa:ss wörd' (cost 5, htpasswd's default).
const (
	aliceHash = "$2y$04$wNJsGy3B1.3k6tKVqSG3SOzv3EA0lZIZZbjBrhE/cpSE85EkVNZF."
	bobHash   = "$2y$05$rQKvKOBcBwRiFUpHzqiK2OGdpMBL7RC7uktDyGUXJ6Gt8ClN8f82m"
)

func TestParseUsersGood(t *testing.T) {
	input := "# users\n" +
		"\n" +
		"alice:" + aliceHash + "\n" +
		"  bob:" + bobHash + ":robert  \r\n" + // blanks around, CR LF
		"\t# indented comment\n" +
		"carol:" + strings.Replace(aliceHash, "$2y$", "$2a$", 1) + ":carol\n" +
		"dave:" + strings.Replace(aliceHash, "$2y$", "$2b$", 1) // no final newline
	f, err := ParseUsers(strings.NewReader(input), "users")
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{"alice", aliceHash, "alice"},
		{"bob", bobHash, "robert"},
		{"carol", strings.Replace(aliceHash, "$2y$", "$2a$", 1), "carol"},
		{"dave", strings.Replace(aliceHash, "$2y$", "$2b$", 1), "dave"},
	}
	if got := f.Users(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Users() = %#v\nwant %#v", got, want)
	}
	if u, ok := f.Lookup("bob"); !ok || u.OSAccount != "robert" {
		t.Fatalf("Lookup(bob) = %v, %v", u, ok)
	}
	for _, name := range []string{"Alice", "", "eve", "alice "} {
		if _, ok := f.Lookup(name); ok {
			t.Errorf("Lookup(%q) found a user", name)
		}
	}
	if f.Len() != 4 || f.Path() != "users" {
		t.Fatalf("Len() = %d, Path() = %q", f.Len(), f.Path())
	}

	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		t.Fatal(err)
	}
	wantOut := "# users\n" +
		"\n" +
		"alice:" + aliceHash + "\n" +
		"bob:" + bobHash + ":robert\n" +
		"\t# indented comment\n" +
		"carol:" + strings.Replace(aliceHash, "$2y$", "$2a$", 1) + "\n" +
		"dave:" + strings.Replace(aliceHash, "$2y$", "$2b$", 1) + "\n"
	if out.String() != wantOut {
		t.Fatalf("Write:\n%s\nwant:\n%s", out.String(), wantOut)
	}
}

func TestParseUsersEmpty(t *testing.T) {
	for _, input := range []string{"", "\n", "# nobody\n\n   \n"} {
		f, err := ParseUsers(strings.NewReader(input), "users")
		if err != nil {
			t.Fatalf("%q: %v", input, err)
		}
		if f.Len() != 0 || len(f.Costs()) != 0 {
			t.Fatalf("%q: Len() = %d, Costs() = %v", input, f.Len(), f.Costs())
		}
	}
}

func TestParseUsersErrors(t *testing.T) {
	h := aliceHash
	tests := []struct {
		name, input, want string
	}{
		{"no colon", "alice\n", "users:1: missing ':' between user name and password hash"},
		{"too many fields", "alice:" + h + ":alice:x\n", "users:1: too many ':'-separated fields (want name:hash or name:hash:osaccount)"},
		{"empty name", ":" + h + "\n", `users:1: user name is empty: ""`},
		{"leading dash", "-f root:" + h + "\n", `users:1: user name starts with '-': "-f root"`},
		{"dash", "-froot:" + h + "\n", `users:1: user name starts with '-': "-froot"`},
		{"slash", "../x:" + h + "\n", `users:1: user name contains '/': "../x"`},
		{"NUL", "al\x00ice:" + h + "\n", `users:1: user name contains control byte 0x00: "al\x00ice"`},
		{"escape", "\x1b]0;x\a:" + h + "\n", `users:1: user name contains control byte 0x1b: "\x1b]0;x\a"`},
		{"space inside", "al ice:" + h + "\n", `users:1: user name contains whitespace: "al ice"`},
		{"long name", strings.Repeat("a", 65) + ":" + h + "\n", `users:1: user name is longer than 64 bytes: "` + strings.Repeat("a", 65) + `"`},
		{"bad UTF-8", "\xff:" + h + "\n", `users:1: user name is not valid UTF-8: "\xff"`},
		{"empty hash", "bob:\n", `users:1: user "bob": password hash is empty`},
		{"apr1", "bob:$apr1$Vm4jA1Xf$JdmwJW.dTTFu/5eZ7EqYF/\n", `users:1: user "bob": MD5 ($apr1$) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"sha", "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", `users:1: user "bob": SHA-1 ({SHA}) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"crypt", "bob:rqXexS6ZhobKA\n", `users:1: user "bob": DES crypt hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"md5crypt", "bob:$1$abc$def\n", `users:1: user "bob": MD5-crypt ($1$) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"sha512crypt", "bob:$6$abc$def\n", `users:1: user "bob": SHA-512-crypt ($6$) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		// The text of a hash never reaches the message: it may be a password.
		{"plain", "bob:secret\n", `users:1: user "bob": unrecognised (plain-text?) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"2x", "bob:" + strings.Replace(h, "$2y$", "$2x$", 1) + "\n", `users:1: user "bob": bcrypt variant $2x$ is not accepted: only bcrypt hashes are accepted; create the line with htpasswd -B`},
		{"short bcrypt", "bob:" + h[:59] + "\n", `users:1: user "bob": malformed bcrypt hash: 59 characters, want 60`},
		{"long bcrypt", "bob:" + h + "x\n", `users:1: user "bob": malformed bcrypt hash: 61 characters, want 60`},
		{"cost letters", "bob:$2y$ab" + h[6:] + "\n", `users:1: user "bob": malformed bcrypt hash: bad cost field`},
		{"cost 3", "bob:$2y$03" + h[6:] + "\n", `users:1: user "bob": bcrypt cost 3 is out of range 4..17 (the range of htpasswd -B -C)`},
		{"cost 18", "bob:$2y$18" + h[6:] + "\n", `users:1: user "bob": bcrypt cost 18 is out of range 4..17 (the range of htpasswd -B -C)`},
		{"cost 31", "bob:$2y$31" + h[6:] + "\n", `users:1: user "bob": bcrypt cost 31 is out of range 4..17 (the range of htpasswd -B -C)`},
		{"bad char", "bob:" + h[:20] + "!" + h[21:] + "\n", `users:1: user "bob": malformed bcrypt hash: invalid character`},
		{"empty account", "bob:" + h + ":\n", `users:1: user "bob": OS account name is empty: ""`},
		{"dash account", "bob:" + h + ":-x\n", `users:1: user "bob": OS account name starts with '-': "-x"`},
		{"slash account", "bob:" + h + ":../root\n", `users:1: user "bob": OS account name contains '/': "../root"`},
		{
			"duplicate",
			"# c\nalice:" + h + "\n\nbob:" + h + "\nalice:" + h + ":other\n",
			`users:5: duplicate user "alice" (first on line 2)`,
		},
		{"line number after comments", "# a\n\n# b\nalice:" + h + "\nbroken\n", "users:5: missing ':' between user name and password hash"},
		{"line too long", "alice:" + h + "\n# " + strings.Repeat("x", 5000) + "\n", "users:2: line is longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseUsers(strings.NewReader(tt.input), "users")
			if err == nil {
				t.Fatalf("no error, %d users", f.Len())
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "users" {
				t.Fatalf("error %T is not a *ParseError for users", err)
			}
		})
	}
}

func TestParseUsersLimits(t *testing.T) {
	big := bytes.Repeat([]byte("#"+strings.Repeat("x", 1000)+"\n"), MaxFileSize/1002+1)
	_, err := ParseUsers(bytes.NewReader(big), "/etc/tlntsvr/users")
	if err == nil || err.Error() != "/etc/tlntsvr/users: file is larger than 16 MiB" {
		t.Fatalf("big file: %v", err)
	}
	_, err = ParseUsers(iotest.ErrReader(os.ErrPermission), "/etc/tlntsvr/users")
	if err == nil || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "/etc/tlntsvr/users") {
		t.Fatalf("read error: %v", err)
	}
}

func TestUsersCosts(t *testing.T) {
	h4, h5 := aliceHash, bobHash
	tests := []struct {
		hashes []string
		want   map[int]int
	}{
		{nil, map[int]int{}},
		{[]string{h4}, map[int]int{4: 1}},
		{[]string{h4, h5, h5}, map[int]int{4: 1, 5: 2}},
	}
	for _, tt := range tests {
		f := &UsersFile{}
		for i, h := range tt.hashes {
			if err := f.Set(User{Name: string(rune('a' + i)), Hash: h}); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.Costs(); !maps.Equal(got, tt.want) {
			t.Errorf("Costs() of %d hashes = %v, want %v", len(tt.hashes), got, tt.want)
		}
	}
}

func TestUsersSetDelete(t *testing.T) {
	f, err := ParseUsers(strings.NewReader("# top\nalice:"+aliceHash+"\nbob:"+bobHash+"\n# end\n"), "users")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set(User{Name: "alice", Hash: bobHash, OSAccount: "al"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(User{Name: "carol", Hash: aliceHash}); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(User{Name: "-x", Hash: aliceHash}); err == nil {
		t.Fatal("Set accepted -x")
	}
	if err := f.Set(User{Name: "eve", Hash: "$apr1$x$y"}); err == nil || !strings.Contains(err.Error(), "htpasswd -B") {
		t.Fatalf("Set with an MD5 hash: %v", err)
	}
	if !f.Delete("bob") || f.Delete("bob") {
		t.Fatal("Delete(bob) twice did not report true then false")
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil {
		t.Fatal(err)
	}
	want := "# top\nalice:" + bobHash + ":al\n# end\ncarol:" + aliceHash + "\n"
	if out.String() != want {
		t.Fatalf("after edits:\n%s\nwant:\n%s", out.String(), want)
	}
	if u, ok := f.Lookup("carol"); !ok || u.OSAccount != "carol" {
		t.Fatalf("Lookup(carol) after Delete = %v, %v", u, ok)
	}
}

// usersFromHtpasswd returns users files made by the real htpasswd -B: the
// committed one always, and a fresh one when htpasswd is installed.
func usersFromHtpasswd(t *testing.T) map[string]string {
	files := map[string]string{"testdata": filepath.Join("testdata", "htpasswd-B.users")}
	path, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Logf("htpasswd not installed; using the committed testdata file only")
		return files
	}
	fresh := filepath.Join(t.TempDir(), "users")
	for _, args := range [][]string{
		{"-B", "-b", "-c", fresh, "alice", "secret"},
		{"-B", "-b", fresh, "bob", "pa:ss wörd"},
	} {
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd %v: %v\n%s", args, err, out)
		}
	}
	files["htpasswd -B"] = fresh
	return files
}

func TestHtpasswdB(t *testing.T) {
	for name, path := range usersFromHtpasswd(t) {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseUsers(bytes.NewReader(data), path)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			for _, c := range []struct{ user, password string }{{"alice", "secret"}, {"bob", "pa:ss wörd"}} {
				u, ok := f.Lookup(c.user)
				if !ok {
					t.Fatalf("no %s in\n%s", c.user, data)
				}
				if err := bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(c.password)); err != nil {
					t.Errorf("%s: %v", c.user, err)
				}
				if err := bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte("wrong")); err == nil {
					t.Errorf("%s: wrong password accepted", c.user)
				}
			}
		})
	}
}

// TestHtpasswdInterop checks the other way and the refusals on real
// output: htpasswd -v accepts what Write and HashPassword produce, and
// the non-bcrypt hashes htpasswd makes are refused.
func TestHtpasswdInterop(t *testing.T) {
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd not installed; TestHtpasswdB covers its committed output")
	}
	dir := t.TempDir()
	f := &UsersFile{}
	if err := f.Set(User{Name: "alice", Hash: testHash(t, "s3cret", bcrypt.MinCost)}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(dir, "ours")
	if err := os.WriteFile(ours, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(htpasswd, "-v", "-b", ours, "alice", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd -v rejects our line %q: %v\n%s", buf.String(), err, out)
	}
	if out, err := exec.Command(htpasswd, "-v", "-b", ours, "alice", "wrong").CombinedOutput(); err == nil {
		t.Fatalf("htpasswd -v accepts a wrong password:\n%s", out)
	}

	for _, c := range []struct{ flag, kind string }{{"-m", "MD5 ($apr1$)"}, {"-s", "SHA-1 ({SHA})"}, {"-p", "unrecognised (plain-text?)"}} {
		path := filepath.Join(dir, "other"+c.flag)
		if out, err := exec.Command(htpasswd, c.flag, "-b", "-c", path, "bob", "secret").CombinedOutput(); err != nil {
			t.Fatalf("htpasswd %s: %v\n%s", c.flag, err, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseUsers(bytes.NewReader(data), "users")
		want := `users:1: user "bob": ` + c.kind + " hash: only bcrypt hashes are accepted; create the line with htpasswd -B"
		if err == nil || err.Error() != want {
			t.Errorf("htpasswd %s line: got %v, want %s", c.flag, err, want)
		}
	}
}
