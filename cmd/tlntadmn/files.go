package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
	"golang.org/x/sys/unix"
)

// The users and groups files are edited here, not through the daemon, so
// users can be added before the daemon first starts. The daemon is then
// asked to re-read them (it would notice the change within a second
// anyway): the reload is an admin record in its audit trail, and what
// the new file changed, by name, users_changed or groups_changed records,
// written by the daemon however the file was edited.

func loadUsers(path string) (*auth.UsersFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	return auth.ParseUsers(bytes.NewReader(data), path)
}

func loadGroups(path string) (*auth.GroupsFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read groups file: %w", err)
	}
	return auth.ParseGroups(bytes.NewReader(data), path)
}

// accountFiles is what a user or group command works on: the settings,
// and the users and groups files they name (read while this process holds
// the edit lock, when it is to change them).
type accountFiles struct {
	cfg    *config.Config
	users  *auth.UsersFile // nil unless asked for
	groups *auth.GroupsFile
	unlock func()
}

// openAccountFiles reads the groups file, and the users file when
// withUsers; forEdit first takes the edit lock. The caller must call
// unlock when it has saved. Reading alone needs no lock: the files are
// only ever replaced whole.
func openAccountFiles(f *Factory, withUsers, forEdit bool) (*accountFiles, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	unlock := func() {}
	if forEdit {
		if unlock, err = lockForEdit(cfg.UsersFile, cfg.GroupsFile); err != nil {
			return nil, err
		}
	}
	a := &accountFiles{cfg: cfg, unlock: unlock}
	if withUsers {
		if a.users, err = loadUsers(cfg.UsersFile); err != nil {
			unlock()
			return nil, err
		}
	}
	if a.groups, err = loadGroups(cfg.GroupsFile); err != nil {
		unlock()
		return nil, err
	}
	return a, nil
}

// lockWait bounds how long an edit waits for another one to finish.
const lockWait = 30 * time.Second

// lockForEdit takes an exclusive flock on each file's lock file
// (lockFile), in a fixed order, so that two tlntadmn edits at once run one
// after the other instead of one silently undoing the other (each reads,
// changes and atomically replaces the whole file). A lock file, not the
// file itself: the replace gives the file a new inode, and a lock held on
// the old one would not keep the next editor out. Not the directory
// either: any local user can open /etc/tlntsvr and hold its lock for as
// long as they like, while a 0600 lock file only its owner can open.
func lockForEdit(files ...string) (unlock func(), err error) {
	var locks []string
	for _, f := range files {
		locks = append(locks, lockFile(f))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	var held []*os.File
	unlock = func() {
		for _, l := range held {
			l.Close() // closing releases the lock
		}
	}
	for _, path := range locks {
		l, err := openLockFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no directory: nothing there to edit; reading or saving says so
		}
		if err != nil {
			unlock()
			return nil, fmt.Errorf("lock for editing: %w", err)
		}
		held = append(held, l)
		deadline := time.Now().Add(lockWait)
		for {
			err := unix.Flock(int(l.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				break
			}
			if err != unix.EWOULDBLOCK || time.Now().After(deadline) {
				unlock()
				if err == unix.EWOULDBLOCK {
					return nil, fmt.Errorf("another tlntadmn has held %s for %v; try again when it has finished", path, lockWait)
				}
				return nil, fmt.Errorf("lock %s for editing: %w", path, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return unlock, nil
}

// lockFile is the file whose flock guards edits of path.
func lockFile(path string) string { return path + ".lock" }

// openLockFile opens (creating it) a lock file that only its owner may
// open: mode 0600, never through a symbolic link, and made 0600 again if
// someone widened it, since whoever can open it can hold the lock.
func openLockFile(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	l := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		l.Close()
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		l.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode&0o077 != 0 {
		if err := unix.Fchmod(fd, 0o600); err != nil {
			l.Close()
			return nil, &fs.PathError{Op: "chmod", Path: path, Err: err}
		}
	}
	return l, nil
}

// save replaces path atomically with what write produces, keeping the
// file's mode and owner; a new file gets newMode.
func save(path string, newMode fs.FileMode, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, newMode)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		f.Close()
	}
	if err := trustedfile.WriteAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// notifyDaemon asks a running daemon to re-read the files now.
func notifyDaemon(f *Factory, reason string) {
	err := f.callDaemon(func(ctx context.Context, c *admin.Client) error { return c.Reload(ctx, reason) })
	if err != nil {
		fmt.Fprintf(f.ErrOut, "note: %v; the change takes effect when tlntsvr next reads its files\n", err)
	}
}

// readPassword gets a new password: one line of stdin with
// --password-stdin, else asked twice on the terminal without echo.
func readPassword(f *Factory, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(f.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("the password read from stdin is empty")
		}
		return pw, nil
	}
	pw, err := f.ReadPassword("New password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("empty password refused")
	}
	again, err := f.ReadPassword("Retype new password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match; nothing changed")
	}
	return pw, nil
}
