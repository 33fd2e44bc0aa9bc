package config

import (
	"os"
	"os/user"
	"path/filepath"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
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
	if err := cfg.checkAdminSocket(); err != nil {
		return err
	}
	return cfg.CheckFiles()
}

// CheckFiles refuses a config file or login_script that others than root
// (or the daemon's own user) can change, by their modes or those of the
// directories above them (trustedfile.CheckFile): whoever can write
// either chooses what runs as every user, or as root. The users and
// groups files are the store's to check, each time it loads them. The
// daemon runs it at start (in CheckHost) and before a reload puts a
// file in force.
func (cfg *Config) CheckFiles() error {
	if cfg.Path != "" {
		if err := trustedfile.CheckFile(cfg.Path); err != nil {
			return FieldError{File: cfg.Path, Msg: "config file others can change, refused: " + err.Error()}
		}
	}
	if cfg.LoginScript != "" {
		if err := trustedfile.CheckFile(cfg.LoginScript); err != nil {
			return cfg.KeyError("login_script", "%s: others can change it, refused: %v", cfg.LoginScript, err)
		}
	}
	return nil
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
	if err := trustedfile.CheckDir(dir); err != nil {
		return cfg.KeyError("admin_socket", "%s: directory %s: %v; put admin_socket in a directory only root can write, such as /run/tlntsvr",
			path, dir, err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return cfg.KeyError("admin_socket", "%s exists and is not a socket; remove it or choose another path", path)
	}
	return nil
}
