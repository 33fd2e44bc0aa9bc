// Package trustedfile writes and checks the files and directories the
// daemon trusts as root: config, users and groups files replaced whole so
// no reader sees half of one, and directories nobody else can change.
package trustedfile

import (
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
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	euid := uint32(os.Geteuid())
	for _, path := range []string{abs, real} {
		for p := path; ; p = filepath.Dir(p) {
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return fmt.Errorf("%s: no owner", p)
			}
			if st.Uid != 0 && st.Uid != euid {
				return fmt.Errorf("%s belongs to uid %d, not root", p, st.Uid)
			}
			if fi.IsDir() && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
				return fmt.Errorf("%s is writable by group or others (mode %v)", p, fi.Mode().Perm())
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return nil
}
