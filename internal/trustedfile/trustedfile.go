// Package trustedfile writes and checks the files and directories the
// daemon trusts as root: config, users and groups files replaced whole so
// no reader sees half of one, and directories nobody else can change.
package trustedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteAtomic replaces the file at path with data: written to a
// temporary file beside it, synced, given the old file's mode and owner,
// and renamed over it (the directory synced after), so a reader sees the
// old file or the new, never a half-written one, and a crash after it
// returns keeps the new. A symbolic link is written through, as an editor
// or htpasswd would: the file it points to is replaced and the link stays
// (config management often keeps the real file elsewhere).
func WriteAtomic(path string, data []byte) error {
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if st, ok := statOwner(fi); ok {
		tmp.Chown(st.uid, st.gid) // keeps root:group files as they were; fails harmlessly when not root
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is in the directory: until that is on disk, a power
	// failure can bring the old file back after the change was reported.
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

type owner struct{ uid, gid int }

func statOwner(fi fs.FileInfo) (owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{int(st.Uid), int(st.Gid)}, true
}

// CheckDir checks that nobody but root and the daemon's user can change
// what dir holds: dir and each directory above it, as written and with
// symlinks resolved, belongs to one of them and is not writable by group
// or others (unless sticky, like /tmp: others cannot rename or remove
// what is not theirs there); a symlink on the way belongs to one of them
// too, since its owner could point it elsewhere.
func CheckDir(dir string) error {
	return checkDirs(dir, strict)
}

// CheckFile checks a file the daemon trusts with who logs on as whom or
// what runs in a session (the config, users, groups and login script
// files): whoever can change it is root. The file, the symlink that names
// it if any, and every directory above both must belong to root or the
// daemon's user and be writable by no one else (StrictModes, as sshd
// has): a sticky directory such as /tmp is fine, since others cannot
// replace what is not theirs there. A daemon that is not root (a
// developer's make run) starts sessions only as its own account, so
// group write on what that account owns (a umask of 002) gives nothing
// the account's group could not take from its home already: it is
// accepted there. A file that does not exist is judged by its
// directory: whoever can write there could create it. The error names
// the file or directory and the command that fixes it.
func CheckFile(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rule := strict
	if os.Geteuid() != 0 {
		rule = ownGroupWritable
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(abs); errors.Is(lerr, fs.ErrNotExist) {
			return checkDirs(filepath.Dir(abs), rule)
		}
	}
	if err != nil {
		return err
	}
	for _, p := range []string{abs, real} {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := check(p, fi, rule); err != nil {
			return err
		}
		if err := checkDirs(filepath.Dir(p), rule); err != nil {
			return err
		}
	}
	return nil
}

// rule says what CheckFile and CheckDir accept.
type rule int

const (
	strict           rule = iota // owned by root or the daemon's user, writable by the owner only
	ownGroupWritable             // and group-writable when owned by the daemon's user, not root
)

func checkDirs(dir string, r rule) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	for _, path := range []string{abs, real} {
		for p := path; ; p = filepath.Dir(p) {
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if err := check(p, fi, r); err != nil {
				return err
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return nil
}

// check judges one path on the way: its owner, and who else may write it.
func check(p string, fi fs.FileInfo, r rule) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner", p)
	}
	euid := uint32(os.Geteuid())
	if st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("%s belongs to uid %d, not root; chown root %s", p, st.Uid, p)
	}
	perm := fi.Mode().Perm()
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil // its mode means nothing; its owner is checked above
	case fi.IsDir() && fi.Mode()&fs.ModeSticky != 0:
		return nil
	case perm&0o002 != 0, perm&0o020 != 0 && !(r == ownGroupWritable && st.Uid == euid && euid != 0):
		return fmt.Errorf("%s is writable by group or others (mode %v); chmod go-w %s", p, perm, p)
	}
	return nil
}
