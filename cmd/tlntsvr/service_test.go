package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"
	"github.com/tlntsvr/tlntsvr/deploy"
	"github.com/tlntsvr/tlntsvr/internal/systemdunit"
)

// The unit tlntsvr install writes is deploy/systemd/tlntsvr.service with
// only the two paths changed, and systemd-analyze verify accepts it.
func TestRenderUnit(t *testing.T) {
	exe, err := os.Executable() // an executable file, as the real one is
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlntsvr.yaml")
	unit, err := renderUnit(exe, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=" + exe + " run --config " + cfg + "\n",
		"ExecReload=" + exe + " check-config --config " + cfg + "\n",
		"ExecReload=/bin/kill -HUP $MAINPID\n",
		"KillMode=mixed\n", "Restart=on-failure\n", "TimeoutStopSec=30s\n", "RuntimeDirectory=tlntsvr\n",
		// Sessions get cgroups of their own below the unit's.
		"Delegate=yes\n",
		// A config error exits 78; 2 is a Go panic's, which must restart.
		"RestartPreventExitStatus=78\n",
		// One user's program killed by the OOM killer must not stop the
		// service and every session with it.
		"OOMPolicy=continue\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	// Nothing else changed: mapping the paths back gives the file.
	back := strings.ReplaceAll(strings.ReplaceAll(unit, exe+" ", deploy.UnitBinary+" "), cfg, deploy.UnitConfig)
	if back != deploy.Unit {
		t.Errorf("rendered unit differs from deploy/systemd/tlntsvr.service beyond the paths:\n%s", unit)
	}
	for _, bad := range []string{"NoNewPrivileges=", "ProtectHome=", "ProtectSystem=", "PrivateTmp=", "PrivateDevices="} {
		if strings.Contains(unit, "\n"+bad) {
			t.Errorf("unit sets %s, which breaks user shells", bad)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is missing: .ci/run installs Debian's systemd package for it")
		}
		t.Skip("systemd-analyze missing: apt-get install systemd")
	}
	path := filepath.Join(dir, "tlntsvr.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", path)
	// Documentation=man:tlntsvr(8) is checked against our pages.
	abs, _ := filepath.Abs("../../docs/man")
	cmd.Env = append(os.Environ(), "MANPATH="+abs)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The socket unit hands tlntsvr.service a socket named telnet, and
// systemd-analyze verify accepts it beside the service it starts.
func TestSocketUnit(t *testing.T) {
	socket, err := os.ReadFile("../../deploy/systemd/tlntsvr.socket")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nListenStream=23\n", "\nFileDescriptorName=" + fdTelnet + "\n", "\nService=tlntsvr.service\n", "\nAccept=no\n"} {
		if !strings.Contains(string(socket), want) {
			t.Errorf("tlntsvr.socket lacks %q", strings.TrimSpace(want))
		}
	}
	// The service is notify: READY=1 is what the daemon sends.
	for _, want := range []string{"\nType=notify\n", "\nNotifyAccess=main\n"} {
		if !strings.Contains(deploy.Unit, want) {
			t.Errorf("tlntsvr.service lacks %q", strings.TrimSpace(want))
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is missing: .ci/run installs Debian's systemd package for it")
		}
		t.Skip("systemd-analyze missing: apt-get install systemd")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit, err := renderUnit(exe, filepath.Join(dir, "tlntsvr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeUnit := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmd := exec.Command(analyze, "verify", writeUnit("tlntsvr.socket", string(socket)), writeUnit("tlntsvr.service", unit))
	abs, _ := filepath.Abs("../../docs/man")
	cmd.Env = append(os.Environ(), "MANPATH="+abs)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestRenderUnitRefusesOddPaths(t *testing.T) {
	for _, p := range []string{"relative/tlntsvr", "/opt/my tlntsvr", `/opt/a"b`, "/opt/50%"} {
		if _, err := renderUnit(p, "/etc/tlntsvr/tlntsvr.yaml"); err == nil {
			t.Errorf("renderUnit accepted binary path %q", p)
		}
		if _, err := renderUnit("/usr/sbin/tlntsvr", p); err == nil {
			t.Errorf("renderUnit accepted config path %q", p)
		}
	}
}

// fakeService records what serviceRun asks of kardianos/service and of
// systemctl, and writes and removes tlntsvr.service in dir as kardianos
// does in /etc/systemd/system.
type fakeService struct {
	service.Service
	calls      []string
	status     service.Status // returned by Status (uninstall asks)
	installErr error
	unit       string
	dir        string // the unit directory
}

func (f *fakeService) Install() error {
	f.calls = append(f.calls, "install")
	if f.installErr != nil {
		return f.installErr
	}
	return os.WriteFile(filepath.Join(f.dir, systemdunit.Name), []byte(f.unit), 0o644)
}

func (f *fakeService) Uninstall() error {
	f.calls = append(f.calls, "uninstall")
	return os.Remove(filepath.Join(f.dir, systemdunit.Name))
}
func (f *fakeService) Start() error   { f.calls = append(f.calls, "start"); return nil }
func (f *fakeService) Stop() error    { f.calls = append(f.calls, "stop"); return nil }
func (f *fakeService) Restart() error { f.calls = append(f.calls, "restart"); return nil }
func (f *fakeService) Status() (service.Status, error) {
	return f.status, nil
}

type serviceCase struct {
	euid      int
	noSystemd bool
	installed string // path of an installed unit
	by        string
	status    service.Status    // what kardianos says (uninstall)
	state     systemdunit.State // what systemctl show says (status)
	stateErr  error
	logrotate string // logrotate's config directory; "" = no logrotate
	// socket is a tlntsvr.socket in the unit directory before the run;
	// "" = none, or deploy.Socket when the case's unit is tlntsvr install's.
	socket string
	// noSocket: tlntsvr install's service unit alone, as an install from
	// before install wrote tlntsvr.socket left it.
	noSocket bool
	// What systemctl is-enabled and is-active say of tlntsvr.socket.
	socketEnabled, socketActive bool
	installErr                  error // returned by kardianos' Install
}

// unitState is what systemctl show says of a unit.
func unitState(load, active, sub string) systemdunit.State {
	return systemdunit.State{Load: load, Active: active, Sub: sub}
}

func runService(t *testing.T, c serviceCase, action, configPath string) (*fakeService, string, error) {
	t.Helper()
	fake := &fakeService{status: c.status, installErr: c.installErr, dir: t.TempDir()}
	if c.by == systemdunit.Dirs[0].By {
		if err := os.WriteFile(filepath.Join(fake.dir, systemdunit.Name), []byte(deploy.Unit), 0o644); err != nil {
			t.Fatal(err)
		}
		if c.socket == "" && !c.noSocket {
			c.socket = deploy.Socket
		}
	}
	if c.socket != "" {
		if err := os.WriteFile(filepath.Join(fake.dir, systemdunit.SocketName), []byte(c.socket), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Queries answer; the rest is recorded among the kardianos calls.
	systemctl := func(args ...string) error {
		cmd := strings.Join(args, " ")
		switch cmd {
		case "is-enabled -q " + systemdunit.SocketName:
			if c.socketEnabled {
				return nil
			}
		case "is-active -q " + systemdunit.SocketName:
			if c.socketActive {
				return nil
			}
		default:
			fake.calls = append(fake.calls, "systemctl "+cmd)
			return nil
		}
		return errors.New("exit status 1")
	}
	var out bytes.Buffer
	env := serviceEnv{
		euid:         func() int { return c.euid },
		systemdDir:   t.TempDir(),
		executable:   func() (string, error) { return "/usr/local/sbin/tlntsvr", nil },
		newService:   func(unit string) (service.Service, error) { fake.unit = unit; return fake, nil },
		installed:    func() (string, string) { return c.installed, c.by },
		unitState:    func() (systemdunit.State, error) { return c.state, c.stateErr },
		out:          &out,
		logrotateDir: c.logrotate,
		unitDir:      fake.dir,
		systemctl:    systemctl,
	}
	if c.noSystemd {
		env.systemdDir = filepath.Join(env.systemdDir, "absent")
	}
	err := serviceRun(env, action, configPath)
	return fake, out.String(), err
}

func TestServiceRun(t *testing.T) {
	byInstall := systemdunit.Dirs[0].By
	running := unitState("loaded", "active", "running")
	etcUnit := "/etc/systemd/system/tlntsvr.service"
	cfg := filepath.Join(t.TempDir(), "etc", "tlntsvr.yaml")
	adminSocket := "[Socket]\nListenStream=2323\nService=tlntsvr.service\n"
	tests := []struct {
		name      string
		c         serviceCase
		action    string
		wantCalls string
		wantErr   string // substring; "" = no error
		wantOut   string
		wantCode  int
	}{
		{"install needs root", serviceCase{euid: 1000}, "install", "", "tlntsvr install needs root", "", 4},
		{"status needs no root", serviceCase{euid: 1000, installed: etcUnit, by: byInstall, state: running}, "status", "", "", "tlntsvr: running", 0},
		{"no systemd", serviceCase{noSystemd: true}, "start", "", "no service manager", "", 1},
		{"install", serviceCase{}, "install", "install", "", "tlntadmn user add NAME", 0},
		{"install twice", serviceCase{installed: etcUnit, by: byInstall}, "install", "", "already installed", "", 0},
		{"install over the package's", serviceCase{installed: "/lib/systemd/system/tlntsvr.service", by: systemdunit.Dirs[2].By}, "install", "", "systemctl enable --now tlntsvr", "", 0},
		// The stop comes last: run from a session, it ends that session.
		{"uninstall, then stop", serviceCase{installed: etcUnit, by: byInstall, status: service.StatusRunning}, "uninstall", "uninstall stop", "", "Removed", 0},
		{"uninstall stopped", serviceCase{installed: etcUnit, by: byInstall, status: service.StatusStopped}, "uninstall", "uninstall", "", "Removed", 0},
		{"uninstall the package's", serviceCase{installed: "/lib/systemd/system/tlntsvr.service", by: systemdunit.Dirs[2].By}, "uninstall", "", "apt remove tlntsvr", "", 0},
		// The admin turned socket activation on: the socket goes first, so
		// that no connection starts the service again.
		{"uninstall, socket enabled", serviceCase{installed: etcUnit, by: byInstall, status: service.StatusRunning, socketEnabled: true, socketActive: true},
			"uninstall", "systemctl disable --now tlntsvr.socket uninstall stop", "", "Stopped and disabled tlntsvr.socket", 0},
		{"uninstall, socket enabled, not active", serviceCase{installed: etcUnit, by: byInstall, status: service.StatusStopped, socketEnabled: true},
			"uninstall", "systemctl disable --now tlntsvr.socket uninstall", "", "Stopped and disabled tlntsvr.socket", 0},
		{"uninstall, socket started, not enabled", serviceCase{installed: etcUnit, by: byInstall, status: service.StatusStopped, socketActive: true},
			"uninstall", "systemctl disable --now tlntsvr.socket uninstall", "", "Stopped and disabled tlntsvr.socket", 0},
		// The package's units are the package's, socket included.
		{"uninstall the package's, socket enabled", serviceCase{installed: "/lib/systemd/system/tlntsvr.service", by: systemdunit.Dirs[2].By, socketEnabled: true, socketActive: true},
			"uninstall", "", "apt remove tlntsvr", "", 0},
		// An install from before tlntsvr install wrote the socket unit.
		{"uninstall without a socket unit", serviceCase{installed: etcUnit, by: byInstall, noSocket: true, socketEnabled: true},
			"uninstall", "uninstall", "", "Removed", 0},
		{"uninstall keeps a changed socket", serviceCase{installed: etcUnit, by: byInstall, socket: adminSocket},
			"uninstall", "uninstall", "", "it is not the one tlntsvr install wrote", 0},
		{"install keeps the admin's socket", serviceCase{socket: adminSocket}, "install", "install", "", "Kept ", 0},
		{"install fails", serviceCase{installErr: errors.New("Init already exists")}, "install", "install", "install tlntsvr.service: Init already exists", "", 0},
		{"uninstall nothing", serviceCase{}, "uninstall", "", "not installed", "", 0},
		{"start", serviceCase{installed: etcUnit, by: byInstall}, "start", "start", "", "", 0},
		{"stop", serviceCase{installed: etcUnit, by: byInstall}, "stop", "stop", "", "", 0},
		{"restart", serviceCase{installed: etcUnit, by: byInstall}, "restart", "restart", "", "", 0},
		{"start not installed", serviceCase{}, "start", "", "install it with tlntsvr install", "", 0},
		{"status running", serviceCase{installed: etcUnit, by: byInstall, state: running}, "status", "", "", "tlntsvr: running\n", 0},
		{"status reloading", serviceCase{installed: etcUnit, by: byInstall, state: unitState("loaded", "reloading", "reload")}, "status", "", "", "tlntsvr: running\n", 0},
		{"status stopped", serviceCase{installed: etcUnit, by: byInstall, state: unitState("loaded", "inactive", "dead")}, "status", "", "", "tlntsvr: stopped", 3},
		{"status not installed", serviceCase{}, "status", "", "", "tlntsvr: not installed", 3},
		{"status unit not found", serviceCase{installed: etcUnit, by: byInstall, state: unitState("not-found", "inactive", "dead")}, "status", "", "", "tlntsvr: not installed", 3},
		{"status failed", serviceCase{installed: etcUnit, by: byInstall, state: unitState("loaded", "failed", "failed")}, "status", "", "", "tlntsvr: failed; see: systemctl status tlntsvr", 3},
		// Between the attempts of systemd's restart loop (port 23 taken,
		// say): not running, as systemctl is-active says.
		{"status auto-restart", serviceCase{installed: etcUnit, by: byInstall, state: unitState("loaded", "activating", "auto-restart")}, "status", "", "",
			"tlntsvr: not running: activating (auto-restart), systemd starts it again after a failure; see: systemctl status tlntsvr", 3},
		{"status deactivating", serviceCase{installed: etcUnit, by: byInstall, state: unitState("loaded", "deactivating", "stop-sigterm")}, "status", "", "",
			"tlntsvr: not running: deactivating (stop-sigterm); see:", 3},
		{"status unknown", serviceCase{installed: etcUnit, by: byInstall, stateErr: errors.New("systemctl show tlntsvr.service: exit status 1")}, "status", "", "",
			"tlntsvr: state unknown (systemctl show tlntsvr.service: exit status 1)", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, out, err := runService(t, tt.c, tt.action, cfg)
			if got := strings.Join(fake.calls, " "); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
			var ee *exitError
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %v, want it to say %q", err, tt.wantErr)
				}
			case tt.wantCode != 0:
				if !errors.As(err, &ee) || ee.code != tt.wantCode || err.Error() != "" {
					t.Errorf("err %v, want a silent exit status %d", err, tt.wantCode)
				}
			case err != nil:
				t.Errorf("err %v", err)
			}
			if tt.wantErr != "" && tt.wantCode != 0 && (!errors.As(err, &ee) || ee.code != tt.wantCode) {
				t.Errorf("err %v, want exit status %d", err, tt.wantCode)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output %q, want %q", out, tt.wantOut)
			}
			checkUnitDir(t, fake, tt.c, tt.action, err)
		})
	}
}

// checkUnitDir checks what a run left in the unit directory: install writes
// the service and the socket unit, uninstall removes both, the admin's
// socket unit stays, and a refused or failed run leaves what it found.
func checkUnitDir(t *testing.T, fake *fakeService, c serviceCase, action string, err error) {
	t.Helper()
	read := func(name string) string {
		b, rerr := os.ReadFile(filepath.Join(fake.dir, name))
		if errors.Is(rerr, os.ErrNotExist) {
			return "(none)"
		} else if rerr != nil {
			t.Fatal(rerr)
		}
		return string(b)
	}
	none := "(none)"
	wantService, wantSocket := none, none
	if c.by == systemdunit.Dirs[0].By {
		wantService = deploy.Unit
		wantSocket = deploy.Socket
	}
	if c.noSocket {
		wantSocket = none
	} else if c.socket != "" {
		wantSocket = c.socket
	}
	if err == nil {
		switch action {
		case "install":
			wantService = fake.unit
			if c.socket == "" {
				wantSocket = deploy.Socket
			}
		case "uninstall":
			wantService = none
			if wantSocket == deploy.Socket {
				wantSocket = none
			}
		}
	}
	if got := read(systemdunit.Name); got != wantService {
		t.Errorf("%s afterwards:\n%s\nwant:\n%s", systemdunit.Name, got, wantService)
	}
	if got := read(systemdunit.SocketName); got != wantSocket {
		t.Errorf("%s afterwards:\n%s\nwant:\n%s", systemdunit.SocketName, got, wantSocket)
	}
	if fi, serr := os.Stat(filepath.Join(fake.dir, systemdunit.SocketName)); serr == nil && wantSocket == deploy.Socket && fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %04o, want 0644", systemdunit.SocketName, fi.Mode().Perm())
	}
}

// install hands kardianos our unit, with this binary's path and the
// absolute config path, and creates the files the service needs.
func TestServiceInstallUnitAndFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "etc", "tlntsvr.yaml")
	fake, out, err := runService(t, serviceCase{}, "install", cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := renderUnit("/usr/local/sbin/tlntsvr", cfg)
	if fake.unit != want {
		t.Errorf("kardianos got unit:\n%s\nwant:\n%s", fake.unit, want)
	}
	if !strings.Contains(out, "Created "+cfg) {
		t.Errorf("output: %s", out)
	}
	// Written, not enabled: socket activation is the admin's choice.
	socket := filepath.Join(fake.dir, systemdunit.SocketName)
	if !strings.Contains(out, "Installed "+socket+" (not enabled; for socket activation: systemctl enable --now tlntsvr.socket).\n") {
		t.Errorf("output: %s", out)
	}
	if b, err := os.ReadFile(socket); err != nil || string(b) != deploy.Socket {
		t.Errorf("%s: %v, content %q; want deploy/systemd/tlntsvr.socket", socket, err, b)
	}
	if got := strings.Join(fake.calls, " "); got != "install" {
		t.Errorf("calls %q, want install alone (no systemctl enable of the socket)", got)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Error(err)
	}
}

// install writes the logrotate file for the audit log its config names
// (where logrotate is installed), never over the admin's; uninstall
// removes it unless the admin changed it.
func TestInstallWritesLogrotate(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "etc", "tlntsvr.yaml")
	lr := filepath.Join(dir, "logrotate.d")
	if err := os.Mkdir(lr, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(lr, "tlntsvr")
	etcUnit, byInstall := "/etc/systemd/system/tlntsvr.service", systemdunit.Dirs[0].By
	if _, out, err := runService(t, serviceCase{logrotate: lr}, "install", cfg); err != nil || !strings.Contains(out, "Created "+file) {
		t.Fatalf("install: %v\n%s", err, out)
	}
	fi, err := os.Stat(file)
	if b, _ := os.ReadFile(file); err != nil || string(b) != deploy.Logrotate || fi.Mode().Perm() != 0o644 {
		t.Fatalf("logrotate file: %v, mode %v, content %q", err, fi.Mode().Perm(), b)
	}
	if _, out, err := runService(t, serviceCase{installed: etcUnit, by: byInstall, logrotate: lr}, "uninstall", cfg); err != nil || !strings.Contains(out, "Removed "+file) {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("uninstall left %s: %v", file, err)
	}
	// The admin's own stays, on install and on uninstall.
	mine := "/var/log/tlntsvr/*.log { daily }\n"
	if err := os.WriteFile(file, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	runService(t, serviceCase{logrotate: lr}, "install", cfg)
	runService(t, serviceCase{installed: etcUnit, by: byInstall, logrotate: lr}, "uninstall", cfg)
	if b, _ := os.ReadFile(file); string(b) != mine {
		t.Errorf("the admin's logrotate file became %q", b)
	}
}
