package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/certgen"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
	"golang.org/x/crypto/bcrypt"
)

// An admin_os_group that is not a group of the host fails check-config,
// naming the file and the key, as it would fail the daemon's start.
func TestCheckConfigAdminOSGroup(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"users": "", "groups": "telnet-clients:\nadministrators:\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write := func(group string) string {
		p := filepath.Join(dir, "tlntsvr.yaml")
		cfg := "users_file: users\ngroups_file: groups\nadmin_os_group: " + group + "\n"
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var out bytes.Buffer
	p := write("tlntsvr-no-such-group")
	err := checkConfig(&out, p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), p+":3: admin_os_group:") || !strings.Contains(err.Error(), "groupadd") {
		t.Errorf("check-config with an unknown admin_os_group: %v", err)
	}
	if err := checkConfig(&out, write("root")); err != nil {
		t.Errorf("check-config with admin_os_group root: %v", err)
	}
}

// check-config, and the daemon's start, refuse a config, users, groups
// or login_script file that others than root can change (by its mode or
// a directory's above it), naming it and the fix; a root-owned sticky
// directory above, such as /tmp, is fine.
func TestCheckConfigRefusesFilesOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	writeAuthFiles(t, dir)
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "login.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tlntsvr.yaml")
	base := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\nadmin_socket: " + filepath.Join(dir, "admin.sock") + "\n"
	tests := []struct {
		name  string
		extra string // config lines
		chmod string // file in dir made world-writable
		want  string // in the error; "" = OK
	}{
		{"all owner-only", "login_script: " + script + "\n", "", ""},
		{"config file", "", "tlntsvr.yaml", "chmod go-w " + cfgPath},
		{"users file", "", "users", "chmod go-w " + filepath.Join(dir, "users")},
		{"groups file", "", "groups", "chmod go-w " + filepath.Join(dir, "groups")},
		{"login script", "login_script: " + script + "\n", "login.sh", "login_script: " + script},
		{"login script in a directory others can write", "login_script: " + filepath.Join(open, "login.sh") + "\n", "", "chmod go-w " + open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(cfgPath, []byte(base+tt.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.chmod != "" {
				p := filepath.Join(dir, tt.chmod)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, 0o646); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(p, fi.Mode().Perm())
			}
			var out bytes.Buffer
			err := checkConfig(&out, cfgPath)
			if tt.want == "" {
				if err != nil {
					t.Errorf("check-config: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check-config: %v (%s); want a refusal naming %q", err, out.String(), tt.want)
			}
			err = run(&runOptions{configPath: cfgPath, logLevel: "info"})
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != exitConfig || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run: %v; want exit status 78 naming %q", err, tt.want)
			}
		})
	}
}

// check-config warns about each users-file line that maps a user to root
// while allow_root is false (the daemon refuses those logons), and says
// nothing of it with allow_root: true.
func TestCheckConfigWarnsOfRootUsers(t *testing.T) {
	dir := t.TempDir()
	writeAuthFiles(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := "admin:" + string(hash) + ":root\nalice:" + string(hash) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tlntsvr.yaml")
	for _, allow := range []bool{false, true} {
		cfg := fmt.Sprintf("users_file: users\ngroups_file: groups\nadmin_socket: %s\nallow_root: %v\n", filepath.Join(dir, "admin.sock"), allow)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := checkConfig(&out, cfgPath); err != nil {
			t.Fatalf("allow_root %v: %v", allow, err)
		}
		warned := strings.Contains(out.String(), `warning: users file `+filepath.Join(dir, "users")+`: user "admin" runs as OS account root (uid 0)`)
		if warned == allow || strings.Contains(out.String(), `"alice"`) {
			t.Errorf("allow_root %v: check-config said:\n%s", allow, out.String())
		}
	}
}

// writeAuthFiles writes an empty users file and the two groups into dir.
func writeAuthFiles(t *testing.T, dir string) {
	t.Helper()
	for name, data := range map[string]string{"users": "", "groups": "telnet-clients:\nadministrators:\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// What systemd must not restart into, a file or flag that cannot be used,
// exits 78 (EX_CONFIG, the unit's RestartPreventExitStatus); never 2, which
// is a crash's (a Go panic), and which systemd must restart.
func TestRunConfigErrorsExit78(t *testing.T) {
	dir := t.TempDir()
	writeAuthFiles(t, dir)
	write := func(name, cfg string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\nadmin_socket: " + filepath.Join(dir, "admin.sock") + "\n"
	socketAt := func(name, path string) string {
		return write(name, strings.Replace(base, filepath.Join(dir, "admin.sock"), path, 1))
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // whatever the umask
		t.Fatal(err)
	}
	notSocket := write("not-a-socket", "")
	tests := []struct {
		name, configPath, logLevel, want string
	}{
		{"log level", write("good.yaml", base), "loud", "--log-level"},
		{"config", write("bad.yaml", base+"max_connections: lots\n"), "info", "max_connections"},
		{"config missing", filepath.Join(dir, "absent.yaml"), "info", "absent.yaml"},
		{"users file", write("nousers.yaml", strings.Replace(base, "users_file: users", "users_file: absent-users", 1)), "info", "absent-users"},
		{"audit log", write("audit.yaml", base+"audit_log: "+filepath.Join(dir, "absent", "audit.log")+"\n"), "info", "audit log"},
		// systemd restarted these every 5 s for ever (exit status 1).
		{"admin socket in a directory others can write", socketAt("open.yaml", filepath.Join(open, "admin.sock")), "info", "open.yaml:4: admin_socket: " + filepath.Join(open, "admin.sock")},
		{"admin socket to be made in a directory others can write", socketAt("open2.yaml", filepath.Join(open, "sub", "admin.sock")), "info", "writable by group or others"},
		{"admin socket path is a file", socketAt("file.yaml", notSocket), "info", "is not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(&runOptions{configPath: tt.configPath, logLevel: tt.logLevel})
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 78 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run: %v (%#v), want exit status 78 and an error naming %q", err, ee, tt.want)
			}
		})
	}
}

// A port below 1024 refused to a daemon that is not root says why and what
// to do; other listen errors, and root's, are left as they are.
func TestListenErrorHint(t *testing.T) {
	listenErr := func(port int, errno syscall.Errno) error {
		op := &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{Port: port}, Err: os.NewSyscallError("bind", errno)}
		return fmt.Errorf("listen on :%d: %w", port, op) // as server.Listen wraps it
	}
	tests := []struct {
		name     string
		err      error
		euid     int
		wantHint bool
	}{
		{"port 23, not root", listenErr(23, syscall.EACCES), 1000, true},
		{"port 1023, not root", listenErr(1023, syscall.EACCES), 1000, true},
		{"port 23, root", listenErr(23, syscall.EACCES), 0, false},
		{"port 2323 refused", listenErr(2323, syscall.EACCES), 1000, false},
		{"port 23 in use", listenErr(23, syscall.EADDRINUSE), 1000, false},
		{"not a net error", errors.New("listen on :23: something"), 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := listenError(tt.err, tt.euid)
			if !errors.Is(got, tt.err) || !strings.HasPrefix(got.Error(), tt.err.Error()) {
				t.Errorf("%v: does not keep the error it was given, %v", got, tt.err)
			}
			hint := strings.Contains(got.Error(), "CAP_NET_BIND_SERVICE") && strings.Contains(got.Error(), "configs/dev.yaml") &&
				strings.Contains(got.Error(), "uid 1000")
			if hint != tt.wantHint {
				t.Errorf("%v: hint %v, want %v", got, hint, tt.wantHint)
			}
		})
	}
}

// A SIGHUP or SIGUSR1 that comes while the daemon starts (here: while it
// waits to read its config, from a FIFO) does not kill it; each is acted on
// once it is ready: the reload reads the config again and is audited, the
// audit log is reopened. Without signal handling set up first, the
// default action of SIGHUP kills the daemon (status 129 under systemd,
// which does not restart it).
func TestSignalsDuringStartup(t *testing.T) {
	dir := t.TempDir()
	writeAuthFiles(t, dir)
	fifo := filepath.Join(dir, "tlntsvr.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\n" +
		"admin_socket: " + filepath.Join(dir, "admin.sock") + "\naudit_log: audit.log\n"

	d := startDaemonProcess(t, "run --config "+fifo)
	feedConfig := func(what string) {
		t.Helper()
		f := openFIFOWriter(t, d, fifo, what)
		if _, err := f.WriteString(cfg); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	// The FIFO opens for writing once the daemon opens it to read its
	// config: it is starting, and is not ready until it has read it.
	f := openFIFOWriter(t, d, fifo, "the daemon to read its config")
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1} {
		if err := d.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing to wait for when the signals are caught; a default action
	// that kills would do so within microseconds.
	select {
	case <-d.exited:
		t.Fatalf("the daemon died of a signal that came while it started: %v\n%s", d.exitErr, d.stderr())
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := f.WriteString(cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.waitFor(t, `"msg":"tlntsvr started"`)
	// The pending SIGHUP, acted on now, reads the config again.
	feedConfig("the pending SIGHUP's reload to read the config")
	d.waitFor(t, `"action":"reload","via":"SIGHUP","result":"ok"`)
	d.waitFor(t, `"msg":"audit log reopened"`)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
		if d.exitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", d.exitErr, d.stderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30 s of SIGTERM\n%s", d.stderr())
	}
}

// daemonProcess is tlntsvr run as a process of its own (see TestMain).
type daemonProcess struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error

	out   testutil.LockedBuffer // stderr so far
	lines chan struct{}         // a line was added to out
}

func startDaemonProcess(t *testing.T, args string) *daemonProcess {
	t.Helper()
	d := &daemonProcess{exited: make(chan struct{}), lines: make(chan struct{}, 1)}
	d.cmd = exec.Command(os.Args[0], "-test.run=^$")
	d.cmd.Env = append(os.Environ(), "TLNTSVR_TEST_MAIN="+args)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.out.Write([]byte(sc.Text() + "\n"))
			select {
			case d.lines <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		<-copied
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
	})
	return d
}

func (d *daemonProcess) stderr() string { return d.out.String() }

// waitFor waits until the daemon's stderr holds s.
func (d *daemonProcess) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !strings.Contains(d.stderr(), s) {
		select {
		case <-d.lines:
		case <-d.exited:
			if !strings.Contains(d.stderr(), s) {
				t.Fatalf("the daemon exited (%v) before logging %s\n%s", d.exitErr, s, d.stderr())
			}
		case <-timeout:
			t.Fatalf("no %s in the daemon's log within 30 s\n%s", s, d.stderr())
		}
	}
}

// openFIFOWriter opens the FIFO for writing as soon as the daemon has it
// open for reading (before, the open fails with ENXIO).
func openFIFOWriter(t *testing.T, d *daemonProcess, path, what string) *os.File {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f
		}
		if !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		}
		select {
		case <-d.exited:
			t.Fatalf("the daemon exited (%v) waiting for %s\n%s", d.exitErr, what, d.stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s\n%s", what, d.stderr())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// check-config reads the TLS certificate as the daemon would: a good pair
// is OK (with a warning when it expires soon), an expired one is an error
// that names the file.
func TestCheckConfigTLS(t *testing.T) {
	dir := t.TempDir()
	writeAuthFiles(t, dir)
	cfgPath := filepath.Join(dir, "tlntsvr.yaml")
	check := func(p *certgen.Pair) (string, error) {
		t.Helper()
		if _, _, err := p.Write(dir, "server"); err != nil {
			t.Fatal(err)
		}
		cfg := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\nadmin_socket: " + filepath.Join(dir, "admin.sock") +
			"\ntls: {cert_file: server.pem, key_file: server.key}\n"
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := checkConfig(&out, cfgPath)
		return out.String(), err
	}
	good, err := certgen.Server(nil, "localhost", []string{"localhost"}, certgen.For(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := check(good); err != nil || !strings.Contains(out, "configuration OK") {
		t.Errorf("good certificate: %v\n%s", err, out)
	}
	soon, _ := certgen.Server(nil, "localhost", nil, certgen.For(3*24*time.Hour))
	if out, err := check(soon); err != nil || !strings.Contains(out, "warning: tls.cert_file") {
		t.Errorf("certificate expiring soon: %v\n%s", err, out)
	}
	old, _ := certgen.Server(nil, "localhost", nil, certgen.Validity{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if _, err := check(old); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "server.pem")+": the certificate expired") {
		t.Errorf("expired certificate: %v", err)
	}
}
