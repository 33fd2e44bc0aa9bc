package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
)

// peer is the process on the other end of an admin socket connection, as
// the kernel reports it (SO_PEERCRED): it cannot lie about it.
type peer struct {
	PID  int32
	UID  uint32
	GID  uint32
	Name string // user name of UID, or the number
}

type peerKey struct{}

// peerCred reads the peer's credentials of a Unix socket connection.
func peerCred(c net.Conn) (peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, errors.New("not a Unix socket connection")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := rc.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, err
	}
	if credErr != nil {
		return peer{}, credErr
	}
	p := peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid, Name: strconv.Itoa(int(cred.Uid))}
	if u, err := user.LookupId(strconv.Itoa(int(cred.Uid))); err == nil {
		p.Name = u.Username
	}
	return p, nil
}

// authorized reports whether p may use the admin API: root, the daemon's
// own user daemonUID (who could signal or trace it anyway: a daemon run
// without root for development), or a member of adminGroup (primary or
// supplementary) when one is configured.
func authorized(p peer, adminGroup string, daemonUID int) bool {
	if p.UID == 0 || int64(p.UID) == int64(daemonUID) {
		return true
	}
	if adminGroup == "" {
		return false
	}
	g, err := user.LookupGroup(adminGroup)
	if err != nil {
		return false
	}
	if strconv.Itoa(int(p.GID)) == g.Gid {
		return true
	}
	u, err := user.LookupId(strconv.Itoa(int(p.UID)))
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, g.Gid)
}

// listenAdmin opens the admin socket: its directory is created 0750 when
// missing, a stale socket left by a dead daemon is replaced, and a socket a
// live daemon answers on is never taken over. The socket is 0660, group
// adminGroup when set, so only root and that group can connect at all; the
// peer check on every request is the second wall.
//
// The directory, and every directory above it, must be one that only root
// or the daemon's own user can change (see trustedfile.CheckDir): whoever can write
// there could put their own socket where tlntadmn connects, and be told
// the passwords `tlntadmn user passwd` sends.
func listenAdmin(path, adminGroup string) (net.Listener, error) {
	dir := filepath.Dir(path)
	created, err := makeDir(dir)
	if err != nil {
		return nil, fmt.Errorf("admin socket directory %s: %w", dir, err)
	}
	if err := trustedfile.CheckDir(dir); err != nil {
		return nil, fmt.Errorf("admin socket directory %s: %w; put admin_socket in a directory only root can write, such as /run/tlntsvr", dir, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: exists and is not a socket; remove it or change admin_socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another tlntsvr is running and answers on it", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("admin socket %s: checking for a running daemon: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: remove stale socket: %w", path, err)
		}
	}
	// Created 0660 (no permissions for others) from the first moment.
	old := unix.Umask(0o117)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if adminGroup == "" {
		return ln, nil
	}
	g, err := user.LookupGroup(adminGroup)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin_os_group %q: %w", adminGroup, err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	if err := os.Lchown(path, -1, gid); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: chown to group %s: %w", path, adminGroup, err)
	}
	// The group must be able to reach the socket: the directory is given
	// to it when it is the daemon's own (made just now, or holding nothing
	// but the socket, as systemd's RuntimeDirectory does), never a shared
	// one.
	if created || onlyEntry(dir, filepath.Base(path)) {
		os.Lchown(dir, -1, gid)
	}
	return ln, nil
}

// makeDir creates dir 0750 (and its parents as need be), reporting
// whether it made dir itself.
func makeDir(dir string) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, err
	}
	err = os.Mkdir(dir, 0o750)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// onlyEntry reports whether name is all that dir holds.
func onlyEntry(dir, name string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 1 && entries[0].Name() == name
}

// connContext puts the peer's credentials into each request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	p, err := peerCred(c)
	if err != nil {
		p = peer{UID: ^uint32(0), GID: ^uint32(0), Name: "unknown"}
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(ctx context.Context) peer {
	p, _ := ctx.Value(peerKey{}).(peer)
	return p
}
