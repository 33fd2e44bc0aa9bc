package trustedfile

import (
	"os"
	"path/filepath"
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
