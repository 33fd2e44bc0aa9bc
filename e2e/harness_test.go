// Package e2e drives the real tlntsvr binary with real Telnet clients.
//
// The tests need root: they create real OS accounts (and remove them) so the
// account switch is tested for real. CI runs as root.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/pty"
	"golang.org/x/crypto/bcrypt"
)

// Test accounts. The Telnet user "alice" maps to the OS account
// osAlice (third field of the users file) so the mapping is tested;
// "bob" has a password but is in no allowed group.
const (
	osAlice   = "tlnte2ea"
	osBob     = "tlnte2eb"
	alicePass = "correct horse"
	bobPass   = "battery staple"
)

var (
	binary       string // the tlntsvr binary under test (race detector on)
	binaryNoRace string // the same without the race detector, for load
	tlntadmn     string // the tlntadmn binary under test
	// haveRoot tells whether the accounts could be created.
	haveRoot bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tlntsvr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "tlntsvr")
	binaryNoRace = filepath.Join(dir, "tlntsvr-norace")
	tlntadmn = filepath.Join(dir, "tlntadmn")
	for _, b := range []struct{ bin, pkg, race string }{
		{binary, "../cmd/tlntsvr", "-race"}, {binaryNoRace, "../cmd/tlntsvr", ""}, {tlntadmn, "../cmd/tlntadmn", "-race"},
	} {
		bin, pkg := b.bin, b.pkg
		build := exec.Command("go", "build", "-o", bin, pkg)
		if b.race != "" {
			build = exec.Command("go", "build", b.race, "-o", bin, pkg)
		}
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg+":", err)
			return 1
		}
	}
	// The binary is run by the test accounts' sessions (re-executed as the
	// session's first process), so its directory must be reachable.
	os.Chmod(dir, 0o755)

	if os.Geteuid() == 0 {
		for _, u := range []string{osAlice, osBob} {
			exec.Command("userdel", "-r", u).Run() // left over from a killed run
			if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", u).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "useradd %s: %v: %s\n", u, err, out)
				return 1
			}
		}
		haveRoot = true
		defer func() {
			for _, u := range []string{osAlice, osBob} {
				exec.Command("pkill", "-KILL", "-u", u).Run()
				exec.Command("userdel", "-r", u).Run()
			}
		}()
	}
	return m.Run()
}

// needRoot stops a test that needs real accounts when not root. In CI
// (root) it always runs; CI=true without root is a failure, not a skip.
func needRoot(t *testing.T) {
	t.Helper()
	if haveRoot {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("end-to-end tests need root (to create test OS accounts)")
	}
	t.Skip("needs root to create test OS accounts; run as root (as CI does)")
}

// needTool returns the path of the program name, which the Debian package
// pkg installs. As root (as CI and make test run, after make test-deps
// installed every package) a missing one fails the test: the install is
// broken, and a skip would hide it. Otherwise it skips.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if haveRoot || os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: Debian package %s (make test-deps and .ci/run install it)", name, pkg)
	}
	t.Skipf("%s is not installed (Debian package %s)", name, pkg)
	return ""
}

// daemon is a running tlntsvr.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	addr string // host:port it listens on
	port string
	// tlsAddr is its listen_tls address when it has one (daemonOpts.tls).
	tlsAddr string
	wantTLS bool

	mu  sync.Mutex
	log bytes.Buffer
	// exited is closed when the process has been waited for.
	exited  chan struct{}
	exitErr error

	quiet bool // keep at most 1 MiB of log (load tests)

	// expectedLogons is how many logons the current adversarial attack
	// makes on purpose (see survive).
	expectedLogons int
}

// daemonOpts adjusts a test daemon.
type daemonOpts struct {
	extraConfig string // YAML lines appended to the config
	listen      string // the listen list, ["127.0.0.1:0"] if ""
	// ignoreSignals starts the daemon with SIGINT and SIGQUIT ignored, as
	// a daemon started with '&' from a script is.
	ignoreSignals bool
	// blockSignals starts the daemon with SIGINT, SIGQUIT and SIGUSR2
	// blocked, as a supervisor may start it.
	blockSignals bool
	// noRace runs the binary built without the race detector (load tests:
	// the detector multiplies memory and CPU).
	noRace bool
	// maxFiles, when set, is the daemon's descriptor limit (RLIMIT_NOFILE).
	maxFiles int
	// tls gives the daemon a certificate (testPKI) and a listen_tls
	// address; its tls section gets tlsConfig's lines too.
	tls       bool
	tlsConfig string
	// wrap, when set, returns the command line to run in place of the
	// daemon's own (a launcher such as systemd-socket-activate that
	// execs it); env is added to the daemon's environment.
	wrap func(argv []string) []string
	env  []string
}

// startDaemon writes a config, users and groups file and starts the
// daemon on a loopback port chosen by the kernel.
func startDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	dir := t.TempDir()
	hash := func(p string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	users := fmt.Sprintf("alice:%s:%s\nbob:%s:%s\n", hash(alicePass), osAlice, hash(bobPass), osBob)
	writeFile(t, filepath.Join(dir, "users"), users)
	writeFile(t, filepath.Join(dir, "groups"), "telnet-clients: alice\nadministrators:\n")
	if o.tls {
		pki.writeServer(t, dir)
		o.extraConfig += "listen_tls: [\"127.0.0.1:0\"]\ntls:\n  cert_file: server.pem\n  key_file: server.key\n" + o.tlsConfig
	}
	if o.listen == "" {
		o.listen = `["127.0.0.1:0"]`
	}
	cfg := fmt.Sprintf(`listen: %s
users_file: users
groups_file: groups
admin_socket: %s/admin.sock
audit_log: audit.log
%s`, o.listen, dir, o.extraConfig)
	writeFile(t, filepath.Join(dir, "tlntsvr.yaml"), cfg)

	bin := binary
	if o.noRace {
		bin = binaryNoRace
	}
	args := []string{bin, "run", "--config", filepath.Join(dir, "tlntsvr.yaml"), "--log-level", "debug"}
	if o.maxFiles > 0 {
		// prlimit sets the limit and execs the daemon in its place.
		args = append([]string{"prlimit", fmt.Sprintf("--nofile=%d", o.maxFiles), "--"}, args...)
	}
	if o.wrap != nil {
		args = o.wrap(args)
	}
	var cmd *exec.Cmd
	switch {
	case o.ignoreSignals:
		// The shell's trap "" makes the signals ignored, and ignored
		// signals survive exec into the daemon.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `trap "" INT QUIT; exec "$@"`, "sh"}, args...)...)
	case o.blockSignals:
		// So does a blocked signal mask; the shell cannot block one.
		block := `import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGQUIT, signal.SIGUSR2})
os.execv(sys.argv[1], sys.argv[1:])`
		cmd = exec.Command("python3", append([]string{"-c", block}, args...)...)
	default:
		cmd = exec.Command(args[0], args[1:]...)
	}
	if len(o.env) > 0 {
		cmd.Env = append(os.Environ(), o.env...)
	}
	d := &daemon{t: t, cmd: cmd, dir: dir, exited: make(chan struct{}), wantTLS: o.tls}
	if o.noRace {
		d.quiet = true
	}
	d.launch()
	return d
}

// launch starts d.cmd, keeps its log (stderr), and returns once it
// listens, with d.addr and d.port set; it fails the test if the daemon
// exits or does not listen within 30 s. The daemon is stopped with
// SIGTERM, and must exit 0, at cleanup.
func (d *daemon) launch() {
	t, cmd := d.t, d.cmd
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc, tlsAddrc := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			if !d.quiet || d.log.Len() < 1<<20 {
				d.log.WriteString(line + "\n")
			}
			d.mu.Unlock()
			var rec struct {
				Msg, Addr string
				TLS       bool
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				c := addrc
				if rec.TLS {
					c = tlsAddrc
				}
				select {
				case c <- rec.Addr:
				default:
				}
			}
		}
	}()
	go func() {
		d.exitErr = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() && !d.quiet {
			t.Logf("daemon log:\n%s", tailLines(d.logs(), 40))
		}
	})
	select {
	case d.addr = <-addrc:
		d.port = d.addr[strings.LastIndexByte(d.addr, ':')+1:]
	case <-d.exited:
		t.Fatalf("%s exited at start: %v\n%s", cmd.Path, d.exitErr, d.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start listening\n%s", cmd.Path, d.logs())
	}
	if d.wantTLS {
		select {
		case d.tlsAddr = <-tlsAddrc:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not start listening for TLS\n%s", cmd.Path, d.logs())
		}
	}
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// stop ends the daemon with SIGTERM and checks it exits 0.
func (d *daemon) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		d.t.Errorf("daemon did not exit within 30s of SIGTERM\n%s", d.logs())
	}
	if d.exitErr != nil {
		d.t.Errorf("daemon exit: %v\n%s", d.exitErr, d.logs())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// client is a Telnet client program running on a PTY of its own, so it
// behaves as it does for a person at a terminal.
type client struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File

	mu     sync.Mutex
	out    []byte
	pos    int // how far expect has consumed out
	update chan struct{}
	closed bool // the PTY read ended (the client exited)

	exited chan struct{}
}

// startClient runs argv on a new PTY of cols x rows with TERM=term.
func startClient(t *testing.T, term string, cols, rows int, argv ...string) *client {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.SetSize(master, cols, rows); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"TERM=" + term, "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "USER=-f root"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	slave.Close()
	c := &client{t: t, cmd: cmd, master: master, update: make(chan struct{}, 1), exited: make(chan struct{})}
	go c.readLoop()
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.exited
		master.Close()
	})
	return c
}

func (c *client) readLoop() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.master.Read(buf)
		c.mu.Lock()
		c.out = append(c.out, buf[:n]...)
		if err != nil {
			c.closed = true
		}
		c.mu.Unlock()
		select {
		case c.update <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// telnet starts Debian's telnet client against the daemon.
func telnet(t *testing.T, d *daemon, cols, rows int) *client {
	t.Helper()
	return startClient(t, "xterm", cols, rows, "telnet", "127.0.0.1", d.port)
}

const expectTimeout = 20 * time.Second

// expect waits for pattern (a regexp) in the output after the previous
// match and returns the submatches.
func (c *client) expect(pattern string) []string {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(expectTimeout)
	for {
		c.mu.Lock()
		if m := re.FindSubmatchIndex(c.out[c.pos:]); m != nil {
			subs := make([]string, len(m)/2)
			for i := range subs {
				if m[2*i] >= 0 {
					subs[i] = string(c.out[c.pos+m[2*i] : c.pos+m[2*i+1]])
				}
			}
			c.pos += m[1]
			c.mu.Unlock()
			return subs
		}
		closed := c.closed
		tail := c.out[c.pos:]
		c.mu.Unlock()
		if closed {
			c.t.Fatalf("client exited before %q appeared; output since last match:\n%q", pattern, tail)
		}
		select {
		case <-c.update:
		case <-deadline:
			c.t.Fatalf("timed out waiting for %q; output since last match:\n%q", pattern, tail)
		}
	}
}

// send types s at the client's terminal.
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.master, s); err != nil {
		c.t.Fatalf("type %q: %v", s, err)
	}
}

// waitExit waits for the client program to exit (the server closed the
// connection) and returns everything it printed since the last match.
func (c *client) waitExit() string {
	c.t.Helper()
	select {
	case <-c.exited:
	case <-time.After(expectTimeout):
		c.t.Fatalf("client did not exit; output:\n%q", c.rest())
	}
	// The exit can be seen before the last output is read from the PTY.
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			break
		}
		select {
		case <-c.update:
		case <-time.After(expectTimeout):
			c.t.Fatal("client output did not end")
		}
	}
	return c.rest()
}

func (c *client) rest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out[c.pos:])
}

// login answers the login dialogue and waits for a working shell: it
// resends a computed marker until the shell answers, since a line typed
// straight after the password can arrive before the shell reads.
func (c *client) login(user, pass string) {
	c.t.Helper()
	c.expect(`login: `)
	c.send(user + "\r")
	c.expect(`password: `)
	c.send(pass + "\r")
	c.shellReady()
}

// shellReady waits until the shell runs commands.
func (c *client) shellReady() {
	c.t.Helper()
	c.send("echo READY$((40+2))\r")
	c.expect(`READY42`)
}

// run types a command and returns its output, found between two markers
// the shell computes, so neither the echoed command line nor the prompt
// can match.
func (c *client) run(cmd string) string {
	c.t.Helper()
	c.send("echo B$((0+1))B; " + cmd + "; echo E$((1+1))E\r")
	m := c.expect(`(?s)B1B\r\n(.*?)\r?\n?E2E`)
	return m[1]
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
