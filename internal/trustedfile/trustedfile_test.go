package trustedfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A write through a symbolic link changes the file it points to and
// leaves the link in place.
func TestWriteAtomicThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "managed", "users")
	if err := os.Mkdir(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "users")
	if err := os.Symlink("managed/users", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(link, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(real); string(data) != "new\n" {
		t.Errorf("the file the link points to holds %q", data)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

// CheckFile refuses a file that anyone but root (or the daemon's user)
// could change: by its mode, its owner, a directory above it, or the
// link that names it; a sticky directory such as /tmp is fine.
func TestCheckFile(t *testing.T) {
	root := os.Geteuid() == 0
	dir := t.TempDir()
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	file := func(p string, mode os.FileMode) string {
		if err := os.WriteFile(p, []byte("x\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mkdir("good", 0o755)
	open := mkdir("open", 0o777)
	sticky := mkdir("sticky", os.ModeSticky|0o777)
	groupDir := mkdir("group", 0o775)
	link := filepath.Join(good, "link")
	if err := os.Symlink(file(filepath.Join(open, "target"), 0o600), link); err != nil {
		t.Fatal(err)
	}
	other := file(filepath.Join(good, "other"), 0o600)
	if root {
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, path string
		bad        bool   // refused
		want       string // in the error
	}{
		{"owner only", file(filepath.Join(good, "users"), 0o600), false, ""},
		{"readable by all", file(filepath.Join(good, "conf"), 0o644), false, ""},
		{"world-writable", file(filepath.Join(good, "ww"), 0o646), true, "chmod go-w " + filepath.Join(good, "ww")},
		// A non-root daemon accepts group write on its own files.
		{"group-writable", file(filepath.Join(good, "gw"), 0o660), root, "writable by group or others"},
		{"in a directory others can write", file(filepath.Join(open, "users"), 0o600), true, "chmod go-w " + open},
		{"in a group-writable directory", file(filepath.Join(groupDir, "users"), 0o600), root, groupDir},
		{"in a sticky directory", file(filepath.Join(sticky, "users"), 0o600), false, ""},
		{"through a link to a directory others can write", link, true, open},
		{"missing, in a good directory", filepath.Join(good, "absent"), false, ""},
		{"missing, in a directory others can write", filepath.Join(open, "absent"), true, open},
		{"another user's", other, root, "chown root " + other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFile(tt.path)
			if (err != nil) != tt.bad || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckFile(%s) = %v; want refused %v, naming %q", tt.path, err, tt.bad, tt.want)
			}
		})
	}
}
