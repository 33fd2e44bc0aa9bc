package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Any local user can open the directory of the users file (0755) and
// flock it; that must not hold up an edit (issue 16 item 5).
func TestDirectoryLockDoesNotBlockEdits(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		unlock, err := lockForEdit(filepath.Join(dir, "users"), filepath.Join(dir, "groups"))
		if err == nil {
			unlock()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("an edit waited for a flock on the files' directory")
	}
}

// The lock files are 0600 and never followed through a link: only their
// owner (root, for /etc/tlntsvr) can open one to hold the lock.
func TestEditLockFilesOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	users, groups := filepath.Join(dir, "users"), filepath.Join(dir, "groups")
	// One left widened (an admin's chmod, a restored backup) is narrowed.
	if err := os.WriteFile(lockFile(groups), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(lockFile(groups), 0o644) // whatever the umask
	unlock, err := lockForEdit(users, groups)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{users, groups} {
		fi, err := os.Stat(lockFile(f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", lockFile(f), fi.Mode())
		}
	}
	// A second editor waits for the first.
	second := make(chan error, 1)
	go func() {
		u, err := lockForEdit(groups)
		if err == nil {
			u()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("a second edit got the lock while the first held it (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if os.Geteuid() == 0 {
		// As root: a process of another account can open the directory,
		// and could lock it, but not the lock file.
		for _, p := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		nobody := func(path string) (string, error) {
			cmd := exec.Command("flock", "--nonblock", "--shared", path, "true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if _, err := exec.LookPath("flock"); err != nil {
			t.Log("no flock(1): the other account's try is not run")
		} else {
			if out, err := nobody(dir); err != nil {
				t.Fatalf("the test's premise, another account can lock the directory, fails: %v %s", err, out)
			}
			if out, err := nobody(lockFile(users)); err == nil || !strings.Contains(out, "ermission denied") {
				t.Errorf("another account opened %s: %v %s", lockFile(users), err, out)
			}
		}
	}
	unlock()
	if err := <-second; err != nil {
		t.Fatal(err)
	}

	// A link at the lock file's place is not followed.
	target := filepath.Join(dir, "elsewhere")
	os.Remove(lockFile(users))
	if err := os.Symlink(target, lockFile(users)); err != nil {
		t.Fatal(err)
	}
	if unlock, err := lockForEdit(users); err == nil {
		unlock()
		t.Error("a symbolic link at the lock file's place was followed")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Error("the link's target was created")
	}
}
