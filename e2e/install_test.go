package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// make install, make uninstall and the Debian package, each against a real
// tree: a temporary DESTDIR, and this machine for the package.

// repoRoot is the module's root, where the Makefile is.
const repoRoot = ".."

// runMake runs make in the repository with args and returns its output.
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", repoRoot}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fileIs checks a file's mode and, when content is not nil, its content.
func fileIs(t *testing.T, path string, mode os.FileMode, content *string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), mode)
	}
	if content != nil {
		if b, _ := os.ReadFile(path); string(b) != *content {
			t.Errorf("%s: %q, want %q", path, b, *content)
		}
	}
}

func ptr(s string) *string { return &s }

// make install puts everything in place under DESTDIR and PREFIX, creates
// the admin's files only when missing, and make uninstall takes back what
// install put, keeping the admin's files.
func TestMakeInstallUninstall(t *testing.T) {
	dest := t.TempDir()
	build := t.TempDir()
	runMake(t, "install", "DESTDIR="+dest, "BUILDDIR="+build)

	p := func(s string) string { return filepath.Join(dest, s) }
	for _, f := range []string{"usr/local/sbin/tlntsvr", "usr/local/sbin/tlntadmn"} {
		fileIs(t, p(f), 0o755, nil)
	}
	fileIs(t, p("etc/tlntsvr/users"), 0o600, ptr(""))
	fileIs(t, p("etc/tlntsvr/groups"), 0o640, ptr("telnet-clients:\nadministrators:\n"))
	fileIs(t, p("etc/tlntsvr/tlntsvr.yaml"), 0o644, nil)
	fileIs(t, p("etc/logrotate.d/tlntsvr"), 0o644, nil)
	fileIs(t, p("usr/local/lib/systemd/system/tlntsvr.socket"), 0o644, nil)
	fileIs(t, p("usr/local/share/man/man8/tlntsvr.8"), 0o644, nil)
	fileIs(t, p("usr/local/share/man/man8/tlntadmn.8"), 0o644, nil)
	fileIs(t, p("usr/local/share/doc/tlntsvr/configuration.md"), 0o644, nil)
	if fi, err := os.Stat(p("var/log/tlntsvr")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("log directory: %v %v", fi, err)
	}
	unit, err := os.ReadFile(p("usr/local/lib/systemd/system/tlntsvr.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nExecStart=/usr/local/sbin/tlntsvr run --config /etc/tlntsvr/tlntsvr.yaml\n",
		"\nExecReload=/usr/local/sbin/tlntsvr check-config --config /etc/tlntsvr/tlntsvr.yaml\n",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("installed unit lacks %q", strings.TrimSpace(want))
		}
	}
	cfgData, err := os.ReadFile(p("etc/tlntsvr/tlntsvr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(cfgData, "/etc/tlntsvr/tlntsvr.yaml")
	if err != nil {
		t.Fatalf("installed config: %v", err)
	}
	if cfg.AuditLog != "/var/log/tlntsvr/audit.log" || cfg.UsersFile != "/etc/tlntsvr/users" {
		t.Errorf("installed config: audit_log %q, users_file %q", cfg.AuditLog, cfg.UsersFile)
	}
	out, err := exec.Command(p("usr/local/sbin/tlntsvr"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tlntsvr ") {
		t.Errorf("installed tlntsvr version: %v %s", err, out)
	}

	// A reinstall keeps what the admin changed.
	edited := string(cfgData) + "# edited by the admin\n"
	writeFile(t, p("etc/tlntsvr/tlntsvr.yaml"), edited)
	os.Chmod(p("etc/tlntsvr/tlntsvr.yaml"), 0o644)
	users := "alice:$2y$10$abcdefghijklmnopqrstuv\n"
	writeFile(t, p("etc/tlntsvr/users"), users)
	if out := runMake(t, "install", "DESTDIR="+dest, "BUILDDIR="+build); !strings.Contains(out, "kept "+p("etc/tlntsvr/tlntsvr.yaml")) {
		t.Errorf("reinstall did not say it kept the config:\n%s", out)
	}
	fileIs(t, p("etc/tlntsvr/tlntsvr.yaml"), 0o644, &edited)
	fileIs(t, p("etc/tlntsvr/users"), 0o600, &users)

	runMake(t, "uninstall", "DESTDIR="+dest)
	for _, f := range []string{"usr/local/sbin/tlntsvr", "usr/local/sbin/tlntadmn", "usr/local/lib/systemd/system/tlntsvr.service",
		"usr/local/lib/systemd/system/tlntsvr.socket",
		"usr/local/share/man/man8/tlntsvr.8", "usr/local/share/man/man8/tlntadmn-user-add.8", "usr/local/share/doc/tlntsvr",
		"etc/logrotate.d/tlntsvr"} {
		if _, err := os.Stat(p(f)); err == nil {
			t.Errorf("uninstall left %s", f)
		}
	}
	fileIs(t, p("etc/tlntsvr/tlntsvr.yaml"), 0o644, &edited)
	fileIs(t, p("etc/tlntsvr/users"), 0o600, &users)
	if left, _ := filepath.Glob(p("usr/local/share/man/man8/*")); len(left) > 0 {
		t.Errorf("uninstall left man pages: %v", left)
	}
}

// PREFIX and SYSCONFDIR move the files and the paths in the unit and config.
func TestMakeInstallPrefix(t *testing.T) {
	dest := t.TempDir()
	runMake(t, "install", "DESTDIR="+dest, "BUILDDIR="+t.TempDir(), "PREFIX=/usr", "SYSCONFDIR=/opt/etc")
	unit, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/tlntsvr.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart=/usr/sbin/tlntsvr run --config /opt/etc/tlntsvr/tlntsvr.yaml\n") {
		t.Errorf("unit ExecStart for PREFIX=/usr SYSCONFDIR=/opt/etc:\n%s", unit)
	}
	data, err := os.ReadFile(filepath.Join(dest, "opt/etc/tlntsvr/tlntsvr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "/opt/etc/tlntsvr/tlntsvr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UsersFile != "/opt/etc/tlntsvr/users" || cfg.GroupsFile != "/opt/etc/tlntsvr/groups" {
		t.Errorf("users_file %q, groups_file %q", cfg.UsersFile, cfg.GroupsFile)
	}
	fileIs(t, filepath.Join(dest, "usr/sbin/tlntsvr"), 0o755, nil)
	fileIs(t, filepath.Join(dest, "opt/etc/tlntsvr/users"), 0o600, ptr(""))
}

// The .deb builds, installs on this machine with the files an admin needs
// and no service started, runs a daemon that answers on a loopback port
// once a user is added, and is removed and purged without a trace.
func TestDebianPackage(t *testing.T) {
	needRoot(t)
	if err := exec.Command("dpkg", "-s", "tlntsvr").Run(); err == nil {
		t.Fatal("a tlntsvr package is installed on this machine; this test installs and removes its own: dpkg -P tlntsvr first")
	}
	dist := t.TempDir()
	runMake(t, "deb", "DIST="+dist)
	debs, _ := filepath.Glob(filepath.Join(dist, "tlntsvr_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v", debs)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "-P", "tlntsvr").CombinedOutput(); err != nil {
			t.Errorf("dpkg -P: %v\n%s", err, out)
		}
	})
	out, err := exec.Command("dpkg", "-i", debs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "has no users yet") {
		t.Errorf("postinst did not tell the admin there are no users:\n%s", out)
	}
	fileIs(t, "/etc/tlntsvr/users", 0o600, ptr(""))
	fileIs(t, "/etc/tlntsvr/groups", 0o640, ptr("telnet-clients:\nadministrators:\n"))
	fileIs(t, "/etc/tlntsvr/tlntsvr.yaml", 0o644, nil)
	fileIs(t, "/lib/systemd/system/tlntsvr.service", 0o644, nil)
	fileIs(t, "/lib/systemd/system/tlntsvr.socket", 0o644, nil)
	fileIs(t, "/usr/share/man/man8/tlntsvr.8.gz", 0o644, nil)
	if fi, err := os.Stat("/var/log/tlntsvr"); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("/var/log/tlntsvr: %v %v", fi, err)
	}
	if out, err := exec.Command("pgrep", "-f", "^/usr/sbin/tlntsvr").Output(); err == nil {
		t.Errorf("a tlntsvr runs after installing a package with no users: %s", out)
	}
	// The unit as packaged, binary and man pages in place.
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(analyze, "verify", "/lib/systemd/system/tlntsvr.service", "/lib/systemd/system/tlntsvr.socket").CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify of the packaged unit: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("systemd-analyze is missing: .ci/run installs Debian's systemd package for it")
	}

	// The admin adds a user with the packaged tlntadmn; the daemon is
	// started by hand (systemd does not run here) on a loopback port.
	admin := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("/usr/sbin/tlntadmn", args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tlntadmn %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	admin(alicePass+"\n", "user", "add", "alice", "--os-account", osAlice, "--password-stdin")
	fileIs(t, "/etc/tlntsvr/users", 0o600, nil)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	admin("", "config", `listen=["127.0.0.1:0"]`, "admin_socket="+sock)

	d := startInstalledDaemon(t, "/usr/sbin/tlntsvr", "run", "--config", "/etc/tlntsvr/tlntsvr.yaml")
	c := telnet(t, d, 80, 24)
	c.expect(`Welcome to tlntsvr Telnet Server`)
	c.login("alice", alicePass)
	if got := c.run("id -un"); got != osAlice {
		t.Errorf("session runs as %q, want %s", got, osAlice)
	}
	c.send("exit\r")
	c.waitExit()
	d.stop() // exit 0
	fileIs(t, "/var/log/tlntsvr/audit.log", 0o600, nil)
	b, _ := os.ReadFile("/var/log/tlntsvr/audit.log")
	if !strings.Contains(string(b), `"event":"logon"`) || !strings.Contains(string(b), `"event":"session_end"`) {
		t.Errorf("packaged audit log:\n%s", b)
	}

	if out, err := exec.Command("dpkg", "-r", "tlntsvr").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	for _, f := range []string{"/usr/sbin/tlntsvr", "/usr/sbin/tlntadmn", "/lib/systemd/system/tlntsvr.service", "/usr/share/man/man8/tlntsvr.8.gz"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("dpkg -r left %s", f)
		}
	}
	if _, err := os.Stat("/etc/tlntsvr/users"); err != nil {
		t.Errorf("dpkg -r removed the users file (only a purge should): %v", err)
	}
	if out, err := exec.Command("dpkg", "-P", "tlntsvr").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -P: %v\n%s", err, out)
	}
	for _, f := range []string{"/etc/tlntsvr", "/var/log/tlntsvr", "/etc/logrotate.d/tlntsvr"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("dpkg -P left %s", f)
		}
	}
}

// startInstalledDaemon runs an installed tlntsvr with argv and waits until
// it listens; it is stopped with SIGTERM (and must exit 0) at cleanup.
func startInstalledDaemon(t *testing.T, argv ...string) *daemon {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	d := &daemon{t: t, cmd: cmd, dir: t.TempDir(), exited: make(chan struct{})}
	d.launch()
	return d
}
