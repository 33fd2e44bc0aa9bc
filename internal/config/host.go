package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
)

// CheckHost checks what of the settings depends on this host and would
// stop the daemon at start: that admin_os_group is a group here, and the
// admin socket's place (checkAdminSocket). The daemon runs it before it
// starts (a failure is a configuration error, which systemd does not
// restart into); check-config runs it, and so does every change to the
// file, by tlntadmn or over the socket, before it is written.
func (cfg *Config) CheckHost() error {
	if err := cfg.checkOSGroup(); err != nil {
		return err
	}
	return cfg.checkAdminSocket()
}

// checkOSGroup checks that admin_os_group names a group of this host: the
// admin socket is given to it at start, and without it the daemon could
// not start. The error names the file, the line and the key.
func (cfg *Config) checkOSGroup() error {
	if cfg.AdminOSGroup == "" {
		return nil
	}
	if _, err := user.LookupGroup(cfg.AdminOSGroup); err != nil {
		return cfg.KeyError("admin_os_group", "%q is not a group of this host (%v); create it (groupadd %s) or set \"\" to let only root use tlntadmn",
			cfg.AdminOSGroup, err, cfg.AdminOSGroup)
	}
	return nil
}

// checkAdminSocket checks, creating nothing, what the daemon will refuse
// of admin_socket's place when it opens the socket: a directory (or,
// where it is missing, the directory it will be made in) that others than
// root can change, and something other than a socket at the path. The
// error names the file, the line and the key.
func (cfg *Config) checkAdminSocket() error {
	path := cfg.AdminSocket
	dir := filepath.Dir(path)
	for {
		if _, err := os.Lstat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir) // the daemon makes it, in the one above
	}
	if err := TrustedDir(dir); err != nil {
		return cfg.KeyError("admin_socket", "%s: directory %s: %v; put admin_socket in a directory only root can write, such as /run/tlntsvr",
			path, dir, err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return cfg.KeyError("admin_socket", "%s exists and is not a socket; remove it or choose another path", path)
	}
	return nil
}

// TrustedDir checks that nobody but root and the daemon's user can change
// what dir holds: dir and each directory above it, as written and with
// symlinks resolved, belongs to one of them and is not writable by group
// or others (unless sticky, like /tmp: others cannot rename or remove
// what is not theirs there); a symlink on the way belongs to one of them
// too, since its owner could point it elsewhere.
func TrustedDir(dir string) error {
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
