package e2e

// The interop matrix: every Telnet client we can install here, driven as a
// person would drive it, against the real daemon. TLNTSVR_INTEROP_DOC names
// a file to write the matrix to (docs/interop.md is made that way).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// busyboxPath is where `make test-deps` unpacks busybox-static (it
// conflicts with Debian's busybox package, so it is not installed).
const busyboxPath = "/opt/tlntsvr-test/busybox/bin/busybox"

// ptyClient is a client program run on a terminal of its own.
type ptyClient struct {
	name    string
	argv    func(port string) []string
	term    string // TERM the session should see
	resizes bool   // the client sends NAWS again after a resize
	note    string
}

var ptyClients = []ptyClient{
	{name: "inetutils telnet", argv: func(p string) []string { return []string{"inetutils-telnet", "127.0.0.1", p} }, term: "xterm", resizes: true},
	{name: "netkit telnet (telnet-ssl)", argv: func(p string) []string { return []string{"telnet-ssl", "127.0.0.1", p} }, term: "xterm", resizes: true},
	{name: "busybox telnet", argv: func(p string) []string { return []string{busyboxPath, "telnet", "127.0.0.1", p} }, term: "xterm", resizes: false,
		note: "busybox sends its window size once, at connect: no server can follow its resizes"},
	{name: "PuTTY plink", argv: func(p string) []string { return []string{"plink", "-telnet", "-P", p, "127.0.0.1"} }, term: "xterm", resizes: true},
}

// matrix collects results for the document.
var matrix = struct {
	sync.Mutex
	rows map[string]map[string]string
}{rows: map[string]map[string]string{}}

var matrixColumns = []string{"logon", "TERM", "stty size", "resize", "Ctrl-C", "full screen", "exit", "connect → login:"}

func record(client, col, result string) {
	matrix.Lock()
	defer matrix.Unlock()
	if matrix.rows[client] == nil {
		matrix.rows[client] = map[string]string{}
	}
	matrix.rows[client][col] = result
}

// step runs one check and records it: "ok", or "FAIL" and the test fails.
func step(t *testing.T, client, col string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		record(client, col, "FAIL")
		t.Errorf("%s: %s: %v", client, col, err)
		return
	}
	if _, ok := matrix.rows[client][col]; !ok {
		record(client, col, "ok")
	}
}

func TestInteropMatrix(t *testing.T) {
	needRoot(t)
	// With a certificate, as a site that follows docs/tls.md runs it: the
	// clear-text clients are offered START_TLS and AUTH SSL first, and
	// must log on all the same.
	d := startDaemon(t, daemonOpts{tls: true})
	for _, pc := range ptyClients {
		t.Run(pc.name, func(t *testing.T) {
			argv := pc.argv(d.port)
			if _, err := exec.LookPath(argv[0]); err != nil {
				record(pc.name, "logon", "FAIL: not installed")
				t.Fatalf("%s not installed (make test-deps installs it): %v", argv[0], err)
			}
			runPTYClient(t, d, pc, argv)
		})
	}
	t.Run("Python telnetlib", func(t *testing.T) { runPythonTelnetlib(t, d) })
	t.Run("npm telnet-client", func(t *testing.T) { runNpmTelnetClient(t, d) })
	t.Run("expect + inetutils telnet", func(t *testing.T) { runExpect(t, d) })
	for _, mc := range mudClients {
		t.Run(mc.name, func(t *testing.T) { runMUDClient(t, mc) })
	}
	if p := os.Getenv("TLNTSVR_INTEROP_DOC"); p != "" {
		writeInteropDoc(t, p)
	}
}

func runPTYClient(t *testing.T, d *daemon, pc ptyClient, argv []string) {
	t0 := time.Now()
	c := startClient(t, "xterm", 80, 24, argv...)
	c.expect(`login: `)
	record(pc.name, "connect → login:", time.Since(t0).Round(time.Millisecond).String())
	step(t, pc.name, "logon", func() error {
		c.send("alice\r")
		c.expect(`password: `)
		c.send(alicePass + "\r")
		c.shellReady()
		return nil
	})
	step(t, pc.name, "TERM", func() error {
		if got := c.run("echo $TERM"); got != pc.term {
			return fmt.Errorf("TERM=%q, want %q", got, pc.term)
		}
		return nil
	})
	step(t, pc.name, "stty size", func() error {
		if got := c.run("stty size"); got != "24 80" {
			return fmt.Errorf("stty size %q, want 24 80", got)
		}
		return nil
	})
	if pc.resizes {
		step(t, pc.name, "resize", func() error {
			if err := setSize(c, 132, 43); err != nil {
				return err
			}
			deadline := time.Now().Add(expectTimeout)
			for time.Now().Before(deadline) {
				if c.run("stty size") == "43 132" {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			return fmt.Errorf("size did not follow the resize")
		})
	} else {
		record(pc.name, "resize", "n/a (client)")
	}
	step(t, pc.name, "Ctrl-C", func() error {
		c.send("sleep 101\r")
		waitFor(t, "sleep to start", func() bool { return pgrepFull("sleep 101") == 1 })
		c.send("\x03")
		c.send("echo STATUS$?\r")
		c.expect(`STATUS130`)
		return nil
	})
	step(t, pc.name, "full screen", func() error {
		c.send("less /etc/services\r")
		c.expect(`\x1b\[\?1049h`) // the alternate screen of an xterm
		c.expect(`tcpmux`)
		c.send("q")
		c.expect(`\x1b\[\?1049l`)
		c.shellReady()
		return nil
	})
	step(t, pc.name, "exit", func() error {
		c.send("exit\r")
		c.waitExit()
		return nil
	})
}

// runPythonTelnetlib drives Python's stdlib telnetlib (a client that
// refuses every option: the "dumb client" case; no terminal, so no size).
func runPythonTelnetlib(t *testing.T, d *daemon) {
	const name = "Python telnetlib"
	py := "/usr/bin/python3"
	script := `
import subprocess, sys, time, warnings
warnings.simplefilter("ignore")
import telnetlib
port, pw = int(sys.argv[1]), sys.argv[2]
t0 = time.monotonic()
tn = telnetlib.Telnet("127.0.0.1", port, timeout=20)
tn.read_until(b"login: ", 20)
print("PROMPT_MS", int((time.monotonic() - t0) * 1000))
tn.write(b"alice\r\n"); tn.read_until(b"password: ", 20)
tn.write(pw.encode() + b"\r\n")
for i in range(50):
    tn.write(b"echo READY$((40+2))\r\n")
    if b"READY42" in tn.read_until(b"READY42", 1): break
print("LOGON ok")
tn.write(b"echo T$((0+1))=$TERM=\r\n")
_, m, _ = tn.expect([rb"T1=([^=\r\n]*)="], 20)
print("TERM", m.group(1).decode() if m else "?")
tn.write(b"sleep 102\r\n")
for i in range(200):  # until sleep runs, as the PTY clients' step waits
    if subprocess.run(["pgrep", "-fx", "sleep 102"], stdout=subprocess.DEVNULL).returncode == 0: break
    time.sleep(0.1)
tn.get_socket().sendall(telnetlib.IAC + telnetlib.IP)  # write() would double the IAC
tn.write(b"echo STATUS$?\r\n"); print("CTRLC", b"STATUS130" in tn.read_until(b"STATUS130", 20))
tn.write(b"exit\r\n"); tn.read_all(); print("EXIT ok")
`
	res := runScript(t, name, exec.Command(py, "-c", script, d.port, alicePass))
	record(name, "connect → login:", res["PROMPT_MS"]+"ms")
	step(t, name, "logon", func() error { return want(res["LOGON"] == "ok", "no logon") })
	step(t, name, "TERM", func() error { return want(res["TERM"] == "dumb", "TERM=%q, want dumb (no TTYPE)", res["TERM"]) })
	record(name, "stty size", "n/a (no terminal)")
	record(name, "resize", "n/a (no terminal)")
	step(t, name, "Ctrl-C", func() error { return want(res["CTRLC"] == "True", "IAC IP did not interrupt sleep") })
	record(name, "full screen", "n/a (no terminal)")
	step(t, name, "exit", func() error { return want(res["EXIT"] == "ok", "no clean exit") })
	record(name, "Ctrl-C", "ok (IAC IP)")
}

// npmDir is where `make test-deps` and .ci/run install the npm package
// telnet-client (npm install --prefix); TLNTSVR_NPM_DIR overrides it.
func npmDir() string {
	if d := os.Getenv("TLNTSVR_NPM_DIR"); d != "" {
		return d
	}
	return "/opt/tlntsvr-test/npm"
}

// runNpmTelnetClient drives the npm package telnet-client (Node.js), a
// scripting client common in network automation. It answers every WILL
// with DO and every DO with WONT, so it accepts our WILL CHARSET and then
// answers our CHARSET REQUEST with a bare IAC SB CHARSET that never ends
// (issue 16 item 8): its login name must still be read as one.
func runNpmTelnetClient(t *testing.T, d *daemon) {
	const name = "npm telnet-client"
	pkg := filepath.Join(npmDir(), "node_modules", "telnet-client")
	if _, err := exec.LookPath("node"); err != nil {
		record(name, "logon", "FAIL: not installed")
		t.Fatalf("node not installed (make test-deps installs nodejs): %v", err)
	}
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err != nil {
		record(name, "logon", "FAIL: not installed")
		t.Fatalf("npm package telnet-client not installed in %s (make test-deps installs it): %v", npmDir(), err)
	}
	script := `
const { Telnet } = require(process.env.PKG);
(async () => {
  const c = new Telnet();
  await c.connect({
    host: '127.0.0.1', port: Number(process.env.PORT),
    username: 'alice', password: process.env.PASS,
    shellPrompt: /\$ $/, timeout: 20000, execTimeout: 20000, sendTimeout: 20000,
  });
  console.log('LOGON ok');
  const res = await c.exec('echo OK$((6*7))OK; echo T$((0+1))=$TERM=');
  console.log('EXEC', res.includes('OK42OK') ? 'ok' : JSON.stringify(res));
  const m = /T1=([^=\r\n]*)=/.exec(res);
  console.log('TERM', m ? m[1] : '?');
  await c.end();
  console.log('EXIT ok');
})().catch(e => { console.log('ERROR', (e && e.message) || e); process.exit(1); });
`
	cmd := exec.Command("node", "-e", script)
	cmd.Env = append(os.Environ(), "PKG="+pkg, "PORT="+d.port, "PASS="+alicePass)
	res := runScript(t, name, cmd)
	// The library shows nothing until it has logged on.
	record(name, "connect → login:", "n/a (script)")
	step(t, name, "logon", func() error { return want(res["LOGON"] == "ok", "no logon") })
	step(t, name, "TERM", func() error { return want(res["TERM"] == "dumb", "TERM=%q, want dumb (no TTYPE)", res["TERM"]) })
	step(t, name, "exit", func() error {
		return want(res["EXEC"] == "ok" && res["EXIT"] == "ok", "exec %s, exit %q", res["EXEC"], res["EXIT"])
	})
	record(name, "stty size", "n/a (no terminal)")
	record(name, "resize", "n/a (no terminal)")
	record(name, "Ctrl-C", "n/a (script)")
	record(name, "full screen", "n/a (no terminal)")
}

// runExpect drives inetutils telnet from an expect script, as sysadmins'
// scripts do.
func runExpect(t *testing.T, d *daemon) {
	const name = "expect + inetutils telnet"
	script := `
set timeout 20
log_user 0
set t0 [clock milliseconds]
spawn inetutils-telnet 127.0.0.1 $env(PORT)
stty rows 24 columns 80 < $spawn_out(slave,name)
expect {
  "login: " {}
  timeout {puts "FAIL prompt"; exit 1}
}
puts "PROMPT_MS [expr {[clock milliseconds] - $t0}]"
send "alice\r"
expect "password: "
send "$env(PASS)\r"
set ok 0
for {set i 0} {$i < 50} {incr i} {
  send "echo READY\$((40+2))\r"
  expect {
    "READY42" {set ok 1; break}
    timeout {}
  }
}
if {!$ok} {puts "FAIL logon"; exit 1}
puts "LOGON ok"
send "echo TERM=\$TERM=\r"
expect -re {TERM=([a-z0-9-]+)=\r}
puts "TERM $expect_out(1,string)"
send "stty size\r"
expect -re {([0-9]+ [0-9]+)\r\n}
puts "SIZE $expect_out(1,string)"
send "sleep 103\r"
for {set i 0} {$i < 200} {incr i} {
  if {![catch {exec pgrep -fx {sleep 103}}]} break
  after 100
}
send "\003"
send "echo STATUS\$?\r"
expect {
  "STATUS130" {puts "CTRLC ok"}
  timeout {puts "CTRLC fail"}
}
send "exit\r"
expect eof
puts "EXIT ok"
`
	cmd := exec.Command("expect", "-c", script)
	cmd.Env = append(os.Environ(), "PORT="+d.port, "PASS="+alicePass, "TERM=vt100")
	res := runScript(t, name, cmd)
	record(name, "connect → login:", res["PROMPT_MS"]+"ms")
	step(t, name, "logon", func() error { return want(res["LOGON"] == "ok", "no logon") })
	step(t, name, "TERM", func() error { return want(res["TERM"] == "vt100", "TERM=%q, want vt100", res["TERM"]) })
	step(t, name, "stty size", func() error { return want(res["SIZE"] == "24 80", "stty size %q", res["SIZE"]) })
	record(name, "resize", "n/a (script)")
	step(t, name, "Ctrl-C", func() error { return want(res["CTRLC"] == "ok", "Ctrl-C did not interrupt sleep") })
	record(name, "full screen", "n/a (script)")
	step(t, name, "exit", func() error { return want(res["EXIT"] == "ok", "no clean exit") })
}

// runScript runs a client script that prints its results as "KEY value"
// lines and returns them; if the script fails, the client's logon is
// recorded as failed and the test stops.
func runScript(t *testing.T, client string, cmd *exec.Cmd) map[string]string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		record(client, "logon", "FAIL")
		t.Fatalf("%s: %v\n%s", client, err, out)
	}
	res := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			res[k] = v
		}
	}
	return res
}

func want(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func writeInteropDoc(t *testing.T, path string) {
	matrix.Lock()
	defer matrix.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# Interoperability matrix\n\nGenerated by `TLNTSVR_INTEROP_DOC=docs/interop.md go test ./e2e -run TestInteropMatrix` "+
		"(as root) on %s. Each client is driven against the real daemon: PTY clients on a terminal of "+
		"their own (80x24, TERM=xterm), Python's telnetlib and expect as scripts.\n\n", time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| client | " + strings.Join(matrixColumns, " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(matrixColumns)) + "|\n")
	var names []string
	for n := range matrix.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row := []string{n}
		for _, c := range matrixColumns {
			v := matrix.rows[n][c]
			if v == "" {
				v = "-"
			}
			row = append(row, v)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\nNotes:\n")
	for _, pc := range ptyClients {
		if pc.note != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", pc.name, pc.note)
		}
	}
	for _, mc := range mudClients {
		fmt.Fprintf(&b, "- %s: %s.\n", mc.name, mc.note)
	}
	b.WriteString("- The MUD clients run on an 80x24 terminal with TERM=xterm-256color. They edit and echo a line locally and send it whole; Ctrl-C and full-screen programs are not for them. Each runs against a daemon of its own, whose session list must show the terminal type the shell got and whose audit must record the session's end with reason exit.\n")
	b.WriteString("- The npm telnet-client refuses every option we ask it to perform and accepts every one we offer, CHARSET included, whose REQUEST it answers with a bare `IAC SB CHARSET`: the daemon reads the login name typed after it as data (docs/protocol.md).\n")
	b.WriteString("- Python's telnetlib refuses every option, so the session gets TERM=dumb and no window size; Ctrl-C is sent as Telnet's IP command, which the daemon turns into the terminal's interrupt character.\n")
	b.WriteString("- \"full screen\" runs `less`, checks it switches to the alternate screen and draws, and quits.\n")
	b.WriteString("- Windows telnet.exe and PuTTY's byte sequences, which cannot be run here, are replayed byte for byte by the transcript tests in `internal/protocol/testdata/transcripts/`.\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
