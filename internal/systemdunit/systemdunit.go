// Package systemdunit knows tlntsvr's systemd unit: where it can be
// installed and by what, and what systemd says of it. tlntsvr's service
// commands and tlntadmn start and stop both use it.
package systemdunit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Name is the unit tlntsvr is installed as.
const Name = "tlntsvr.service"

// SocketName is the socket unit installed beside Name, disabled: the admin
// enables it for socket activation.
const SocketName = "tlntsvr.socket"

// ManagerDir exists when systemd is the running service manager.
const ManagerDir = "/run/systemd/system"

// Dir is a directory a tlntsvr.service can be in, and what puts it there.
type Dir struct {
	Path string
	By   string // what installed a unit there, and how it goes
}

// Dirs are where a tlntsvr.service can be: "tlntsvr install" writes the
// first (kardianos/service's place for system units); the package and
// "make install" the others.
var Dirs = []Dir{
	{"/etc/systemd/system", "tlntsvr install"},
	{"/usr/local/lib/systemd/system", "make install; remove it with make uninstall"},
	{"/lib/systemd/system", "the tlntsvr package; remove it with apt remove tlntsvr"},
	{"/usr/lib/systemd/system", "a package or make install PREFIX=/usr"},
}

// ManagerRunning reports whether systemd is the running service manager.
func ManagerRunning() bool {
	_, err := os.Stat(ManagerDir)
	return err == nil
}

// Installed returns the path of an installed tlntsvr.service and what
// installed it, or "" when there is none.
func Installed() (path, by string) {
	for _, d := range Dirs {
		p := filepath.Join(d.Path, Name)
		if _, err := os.Lstat(p); err == nil {
			return p, d.By
		}
	}
	return "", ""
}

// Systemctl runs systemctl with args, its output to this process's.
func Systemctl(args ...string) error {
	cmd := exec.Command("systemctl", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// State is a unit's LoadState, ActiveState and SubState.
type State struct{ Load, Active, Sub string }

// Show asks systemd for tlntsvr.service's state. Not kardianos' Status:
// it calls activating running, and a service that systemd keeps
// restarting after a failure (a port taken, say) is activating between
// the attempts.
func Show() (State, error) {
	out, err := exec.Command("systemctl", "show", "-p", "LoadState", "-p", "ActiveState", "-p", "SubState", Name).Output()
	if err != nil {
		return State{}, fmt.Errorf("systemctl show %s: %w", Name, err)
	}
	return ParseState(string(out))
}

// ParseState reads systemctl show's Key=value lines.
func ParseState(out string) (State, error) {
	var st State
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "LoadState":
			st.Load = v
		case "ActiveState":
			st.Active = v
		case "SubState":
			st.Sub = v
		}
	}
	if st.Active == "" {
		return st, fmt.Errorf("systemctl show %s gave no ActiveState: %q", Name, out)
	}
	return st, nil
}
