package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/deploy"
	"github.com/tlntsvr/tlntsvr/internal/systemdunit"
)

// serviceEnv is what service control depends on. Tests replace it.
type serviceEnv struct {
	euid       func() int
	systemdDir string // present when systemd is the running service manager
	executable func() (string, error)
	// newService returns the kardianos service for a unit's text.
	newService func(unit string) (service.Service, error)
	// installed returns the path of an installed tlntsvr.service and what
	// installed it, or "" when there is none.
	installed func() (path, by string)
	// unitState returns the unit's state as systemctl show gives it.
	unitState func() (systemdunit.State, error)
	// unitDir is where install writes units beside kardianos' service
	// unit (systemdunit.Dirs[0]): tlntsvr.socket goes there.
	unitDir string
	// systemctl runs systemctl with args; an error is a non-zero exit.
	systemctl func(args ...string) error
	// logrotateDir is where logrotate's configs go (/etc/logrotate.d), or
	// "" when logrotate is not installed.
	logrotateDir string
	out          io.Writer
}

// statusLine says what status prints for st, and whether that is running.
// Running is what systemctl is-active calls active: active, reloading,
// and refreshing (newer systemd's state while it refreshes a unit's mount
// namespace); everything else exits 3 there as here.
func statusLine(st systemdunit.State) (string, bool) {
	const see = "; see: systemctl status tlntsvr, journalctl -u tlntsvr"
	switch st.Active {
	case "active", "reloading", "refreshing":
		return "running", true
	case "inactive":
		return "stopped", false
	case "failed":
		return "failed" + see, false
	}
	state := st.Active
	if st.Sub != "" {
		state += " (" + st.Sub + ")"
	}
	if strings.HasPrefix(st.Sub, "auto-restart") {
		return "not running: " + state + ", systemd starts it again after a failure" + see, false
	}
	return "not running: " + state + see, false
}

func defaultServiceEnv(out io.Writer) serviceEnv {
	return serviceEnv{
		euid:         os.Geteuid,
		systemdDir:   systemdunit.ManagerDir,
		executable:   os.Executable,
		newService:   newKardianos,
		unitState:    systemdunit.Show,
		installed:    systemdunit.Installed,
		unitDir:      systemdunit.Dirs[0].Path,
		systemctl:    systemdunit.Systemctl,
		logrotateDir: existingDir("/etc/logrotate.d"),
		out:          out,
	}
}

// existingDir returns dir if it is a directory, else "".
func existingDir(dir string) string {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir
	}
	return ""
}

// program is the kardianos service.Interface. It is never run: systemd
// starts "tlntsvr run" itself, and kardianos only installs and controls
// the unit.
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// newKardianos returns kardianos/service's systemd service with our unit as
// its template. The unit holds no {{ }}, so the template is the unit word
// for word (renderUnit checks), not the library's own unit, which would
// restart every 120 s and kill every user's shell on a stop.
func newKardianos(unit string) (service.Service, error) {
	if s := service.ChosenSystem(); s == nil || s.String() != "linux-systemd" {
		return nil, errNoServiceManager
	}
	return service.New(program{}, &service.Config{
		Name:        strings.TrimSuffix(systemdunit.Name, ".service"),
		DisplayName: "tlntsvr Telnet server",
		Description: "tlntsvr Telnet server",
		Option:      service.KeyValue{"SystemdScript": unit},
	})
}

var errNoServiceManager = errors.New("no service manager: systemd is not running on this machine (no /run/systemd/system), " +
	"and tlntsvr installs only as a systemd service; run the daemon in the foreground with \"tlntsvr run\" " +
	"under the supervisor you use (see docs/installation.md)")

// renderUnit is deploy.Unit with the binary and config paths of this
// install in its Exec lines.
func renderUnit(exe, configPath string) (string, error) {
	for _, p := range []string{exe, configPath} {
		if !filepath.IsAbs(p) || !plainPath(p) {
			return "", fmt.Errorf("path %q: a unit file needs an absolute path of letters, digits and / . _ + @ -; "+
				"put the file under such a path (for example /usr/local/sbin/tlntsvr)", p)
		}
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(deploy.Unit, "\n") {
		if strings.HasPrefix(line, "Exec") {
			line = strings.ReplaceAll(line, deploy.UnitBinary+" ", exe+" ")
			line = strings.ReplaceAll(line, deploy.UnitConfig, configPath)
		}
		b.WriteString(line)
	}
	unit := b.String()
	if strings.Contains(unit, "{{") {
		return "", errors.New("the unit contains {{, which kardianos/service would read as a template")
	}
	return unit, nil
}

func plainPath(p string) bool {
	for _, r := range p {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("/._+@-", r):
		default:
			return false
		}
	}
	return true
}

// newServiceCmds builds install, uninstall, start, stop, restart and status.
func newServiceCmds(opts *runOptions) []*cobra.Command {
	mk := func(action, short, long string) *cobra.Command {
		return &cobra.Command{
			Use:   action,
			Short: short,
			Long:  long,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return serviceRun(defaultServiceEnv(cmd.OutOrStdout()), action, opts.configPath)
			},
		}
	}
	return []*cobra.Command{
		mk("install", "Install tlntsvr as a systemd service, enabled at boot",
			`Install writes the tlntsvr.service unit to /etc/systemd/system (with the path
of this binary and of --config in it) and enables it, through
kardianos/service and systemctl. Beside it, it writes tlntsvr.socket, not
enabled, as the package does: for socket activation, systemctl enable --now
tlntsvr.socket. It creates the config file, an empty users file (0600) and a
groups file (0640) with the telnet-clients and administrators groups, and
/etc/logrotate.d/tlntsvr for the audit log (where logrotate is installed),
when they do not exist. It does not start the service:
add a user first (tlntadmn user add NAME), then run tlntsvr start.

Needs root and a running systemd. A unit installed by the package or by
make install is left alone: enable that one with systemctl enable --now tlntsvr.`),
		mk("uninstall", "Stop the service and remove the units tlntsvr install wrote",
			`Uninstall stops and disables tlntsvr.socket when it is active or enabled,
removes the tlntsvr.socket install wrote (unless changed since), disables the
service, removes /etc/systemd/system/tlntsvr.service, and then stops the
service (every session ends): run from a Telnet session, it ends its own
session last, with the units already gone. The config, users and groups
files and the audit log stay. Needs root and a running systemd.`),
		mk("start", "Start the tlntsvr service", "Start starts the installed service (systemctl start tlntsvr). Needs root."),
		mk("stop", "Stop the tlntsvr service; every session ends",
			"Stop stops the service (systemctl stop tlntsvr): every session is told and ended. Needs root."),
		mk("restart", "Restart the tlntsvr service; every session ends",
			`Restart stops and starts the service: every session ends. To apply changed
settings without ending sessions, reload instead (systemctl reload tlntsvr,
or tlntadmn reload). Needs root.`),
		mk("status", "Tell whether the tlntsvr service is running",
			`Status prints running, stopped, failed, not installed, or not running with
systemd's state for the unit, such as "activating (auto-restart)" while
systemd restarts it after a failure (a port taken, say). Exit status 0 when
running, 3 otherwise (as systemctl is-active).`),
	}
}

// serviceRun carries out one service action.
func serviceRun(env serviceEnv, action, configPath string) error {
	if action != "status" && env.euid() != 0 {
		return &exitError{4, fmt.Errorf("tlntsvr %s needs root: it runs systemctl and writes under /etc; try: sudo tlntsvr %s", action, action)}
	}
	if _, err := os.Stat(env.systemdDir); err != nil {
		return &exitError{1, errNoServiceManager}
	}
	switch action {
	case "install":
		return serviceInstall(env, configPath)
	case "status":
		return serviceStatus(env)
	}
	svc, err := env.newService("")
	if err != nil {
		return err
	}
	path, by := env.installed()
	switch action {
	case "uninstall":
		if path == "" {
			return errors.New("tlntsvr is not installed as a service (no tlntsvr.service unit)")
		}
		if by != systemdunit.Dirs[0].By {
			return fmt.Errorf("%s was installed by %s", path, by)
		}
		// The socket first, as the package's prerm does: no connection
		// starts the service again, and closing it ends no session. Its
		// file goes before kardianos' daemon-reload.
		if err := uninstallSocket(env); err != nil {
			return err
		}
		// Remove first, stop last: the stop ends every session, and an
		// admin who runs this from one would be cut off with the unit
		// still installed, to come back at the next boot.
		st, stErr := svc.Status()
		if err := svc.Uninstall(); err != nil {
			return fmt.Errorf("uninstall tlntsvr.service: %w", err)
		}
		fmt.Fprintf(env.out, "Removed %s. The config, users and groups files and the audit log are kept.\n", path)
		removeLogrotate(env)
		if stErr == nil && st == service.StatusRunning {
			fmt.Fprintln(env.out, "Stopping the service: every session ends.")
			if err := svc.Stop(); err != nil {
				return fmt.Errorf("stop tlntsvr.service: %w; see: systemctl status tlntsvr", err)
			}
		}
		return nil
	}
	if path == "" {
		return errors.New("tlntsvr is not installed as a service (no tlntsvr.service unit); install it with tlntsvr install")
	}
	var do func() error
	switch action {
	case "start":
		do = svc.Start
	case "stop":
		do = svc.Stop
	case "restart":
		do = svc.Restart
	default:
		return fmt.Errorf("unknown service action %q", action)
	}
	if err := do(); err != nil {
		return fmt.Errorf("systemctl %s tlntsvr.service: %w; see: systemctl status tlntsvr, journalctl -u tlntsvr", action, err)
	}
	return nil
}

// serviceStatus prints the service's state; exit status 0 when it runs, 3
// otherwise.
func serviceStatus(env serviceEnv) error {
	if path, _ := env.installed(); path == "" {
		fmt.Fprintln(env.out, "tlntsvr: not installed")
		return &exitError{3, errSilent}
	}
	st, err := env.unitState()
	switch {
	case err != nil:
		fmt.Fprintf(env.out, "tlntsvr: state unknown (%v); see: systemctl status tlntsvr\n", err)
	case st.Load == "not-found":
		fmt.Fprintln(env.out, "tlntsvr: not installed")
	default:
		line, running := statusLine(st)
		fmt.Fprintln(env.out, "tlntsvr:", line)
		if running {
			return nil
		}
	}
	return &exitError{3, errSilent}
}

func serviceInstall(env serviceEnv, configPath string) error {
	if path, by := env.installed(); path != "" {
		if by == systemdunit.Dirs[0].By {
			return fmt.Errorf("tlntsvr is already installed (%s); to replace the unit, run tlntsvr uninstall first", path)
		}
		return fmt.Errorf("tlntsvr.service is already installed at %s, by %s; enable that one: systemctl enable --now tlntsvr", path, by)
	}
	exe, err := env.executable()
	if err != nil {
		return fmt.Errorf("find this binary's path: %w", err)
	}
	cfgPath, err := filepath.Abs(configPath)
	if err != nil {
		return err
	}
	unit, err := renderUnit(exe, cfgPath)
	if err != nil {
		return err
	}
	hasUsers, err := setupFiles(env.out, cfgPath)
	if err != nil {
		return err
	}
	// The config written above logs to /var/log/tlntsvr/audit.log, which
	// would grow for ever without the package's rotation.
	if env.logrotateDir != "" {
		if err := createFile(env.out, filepath.Join(env.logrotateDir, "tlntsvr"), 0o644, deploy.Logrotate); err != nil {
			return err
		}
	}
	svc, err := env.newService(unit)
	if err != nil {
		return err
	}
	// The socket before the service: kardianos' Install ends with the
	// daemon-reload that makes systemd see both.
	socket, wrote, err := installSocket(env)
	if err != nil {
		return err
	}
	if err := svc.Install(); err != nil {
		if wrote {
			os.Remove(socket)
		}
		return fmt.Errorf("install tlntsvr.service: %w", err)
	}
	fmt.Fprintf(env.out, "Installed %s/%s (runs %s, enabled at boot, not started).\n", systemdunit.Dirs[0].Path, systemdunit.Name, exe)
	if wrote {
		fmt.Fprintf(env.out, "Installed %s (not enabled; for socket activation: systemctl enable --now %s).\n", socket, systemdunit.SocketName)
	}
	if hasUsers {
		fmt.Fprintln(env.out, "Start it with: tlntsvr start")
	} else {
		fmt.Fprintln(env.out, "The users file has no users yet. Add one, then start the service:\n"+
			"  tlntadmn user add NAME\n  tlntsvr start")
	}
	return nil
}

// installSocket writes deploy.Socket to the unit directory, unless a
// tlntsvr.socket is there already (the admin's: it is kept). It returns the
// path and whether it wrote the file.
func installSocket(env serviceEnv) (string, bool, error) {
	p := filepath.Join(env.unitDir, systemdunit.SocketName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(env.out, "Kept %s, which was there already.\n", p)
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("create %s: %w", p, err)
	}
	_, err = f.WriteString(deploy.Socket)
	if err == nil {
		err = f.Chmod(0o644) // whatever the umask
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return p, false, fmt.Errorf("write %s: %w", p, err)
	}
	return p, true, nil
}

// uninstallSocket stops and disables tlntsvr.socket when it is active or
// enabled, since the service it starts is going, and removes the file
// installSocket wrote, unless the admin has changed it.
func uninstallSocket(env serviceEnv) error {
	p := filepath.Join(env.unitDir, systemdunit.SocketName)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil // an install from before tlntsvr.socket was written
	}
	// is-enabled and is-active exit non-zero for disabled and inactive.
	if env.systemctl("is-enabled", "-q", systemdunit.SocketName) == nil ||
		env.systemctl("is-active", "-q", systemdunit.SocketName) == nil {
		if err := env.systemctl("disable", "--now", systemdunit.SocketName); err != nil {
			return fmt.Errorf("systemctl disable --now %s: %w; see: systemctl status %s", systemdunit.SocketName, err, systemdunit.SocketName)
		}
		fmt.Fprintf(env.out, "Stopped and disabled %s.\n", systemdunit.SocketName)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if string(b) != deploy.Socket {
		fmt.Fprintf(env.out, "Kept %s: it is not the one tlntsvr install wrote.\n", p)
		return nil
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	fmt.Fprintf(env.out, "Removed %s.\n", p)
	return nil
}

// removeLogrotate removes the logrotate file install wrote, unless the
// admin has changed it.
func removeLogrotate(env serviceEnv) {
	if env.logrotateDir == "" {
		return
	}
	p := filepath.Join(env.logrotateDir, "tlntsvr")
	if b, err := os.ReadFile(p); err == nil && string(b) == deploy.Logrotate && os.Remove(p) == nil {
		fmt.Fprintf(env.out, "Removed %s.\n", p)
	}
}

// errSilent is an error whose message has been printed already.
var errSilent = errors.New("")
