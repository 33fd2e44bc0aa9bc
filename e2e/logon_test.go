package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A user logs on with Debian's telnet, works as the mapped OS account in a
// real shell with the client's terminal type and window size, follows a
// resize, and leaves with exit.
func TestTelnetLogonShell(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 100, 30)
	c.expect(`Welcome to tlntsvr Telnet Server`)
	c.login("alice", alicePass)

	if got := c.run("id -un"); got != osAlice {
		t.Errorf("id -un = %q, want the mapped account %q", got, osAlice)
	}
	if got := c.run("echo $TERM"); got != "xterm" {
		t.Errorf("TERM = %q, want the client's xterm", got)
	}
	if got := c.run("stty size"); got != "30 100" {
		t.Errorf("stty size = %q, want 30 100", got)
	}
	if got := c.run("pwd"); got != "/home/"+osAlice {
		t.Errorf("working directory = %q, want the account's home", got)
	}
	// The client environment passes only by allowlist: the client's USER
	// ("-f root", the inetutils CVE-2026-24061 payload) never arrives.
	if got := c.run(`echo "[$USER][$LOGNAME]"`); got != "["+osAlice+"]["+osAlice+"]" {
		t.Errorf("USER/LOGNAME = %q, want the account's name", got)
	}

	// Resize the client's terminal: telnet sends NAWS, the shell sees it.
	if err := setSize(c, 120, 40); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stty size 40 120", func() bool { return c.run("stty size") == "40 120" })

	c.send("echo done$((3+4)); exit\r")
	c.expect(`done7`)
	if out := c.waitExit(); !strings.Contains(out, "Connection closed by foreign host") {
		t.Errorf("after exit, telnet printed %q; want the connection closed", out)
	}
}

// Wrong passwords max_failed_logons times drop the connection.
func TestWrongPasswordDropsConnection(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "max_failed_logons: 2\n"})
	c := telnet(t, d, 80, 24)
	for i := 0; i < 2; i++ {
		c.expect(`login: `)
		c.send("alice\r")
		c.expect(`password: `)
		c.send("wrong\r")
		c.expect(`Login incorrect`)
	}
	c.expect(`Too many failed logons`)
	if out := c.waitExit(); !strings.Contains(out, "Connection closed") {
		t.Errorf("telnet printed %q; want the connection closed", out)
	}
	// An unknown user fails the same way, with the same words.
	c2 := telnet(t, d, 80, 24)
	c2.expect(`login: `)
	c2.send("nosuchuser\r")
	c2.expect(`password: `)
	c2.send("x\r")
	c2.expect(`Login incorrect`)
	if !strings.Contains(auditLog(t, d), `"event":"logon_failed"`) {
		t.Error("no logon_failed audit record")
	}
}

// A user with the right password who is in neither allowed group is
// refused with the design's message.
func TestNonMemberRefused(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.send("bob\r")
	c.expect(`password: `)
	c.send(bobPass + "\r")
	c.expect(`Access denied: user is not a member of the telnet-clients group\.`)
	c.waitExit()
	if out, _ := exec.Command("pgrep", "-u", osBob).Output(); len(out) > 0 {
		t.Errorf("processes running as %s: %s", osBob, out)
	}
}

// An OS account whose password usermod -L locked is refused after the
// password check (refuse_locked_accounts, default true), told so and
// audited; with refuse_locked_accounts: false it logs on; unlocked, it
// logs on again.
func TestLockedAccountRefused(t *testing.T) {
	needRoot(t)
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	// useradd left the account with no Unix password ("!"), which
	// usermod -L cannot lock: give it one first, and take it away after.
	run(osAlice+":a Unix password\n", "chpasswd")
	run("", "usermod", "-L", osAlice)
	t.Cleanup(func() { exec.Command("usermod", "-p", "!", osAlice).Run() })

	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.send("alice\r")
	c.expect(`password: `)
	c.send(alicePass + "\r")
	c.expect(`Access denied: a session cannot be started for this account\.`)
	c.waitExit()
	if a := auditLog(t, d); !strings.Contains(a, `"event":"logon_denied"`) || !strings.Contains(a, "is locked (usermod -L)") {
		t.Errorf("no logon_denied record saying the account is locked:\n%s", a)
	}

	d = startDaemon(t, daemonOpts{extraConfig: "refuse_locked_accounts: false\n"})
	c = telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	if got := c.run("id -un"); got != osAlice {
		t.Errorf("refuse_locked_accounts false: id -un = %q, want %q", got, osAlice)
	}

	run("", "usermod", "-U", osAlice)
	d = startDaemon(t, daemonOpts{})
	c = telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	if got := c.run("id -un"); got != osAlice {
		t.Errorf("unlocked: id -un = %q, want %q", got, osAlice)
	}
}

// Every byte the shell writes before it exits reaches the client, before
// the connection closes. A raw client reads the socket to its end: the
// Telnet clients themselves drop what they have not yet written to their
// terminal when the connection closes (inetutils telnet exits with its
// output ring unflushed when its PTY is full), which would make this a
// test of the client.
func TestOutputBeforeExitIsDelivered(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	r := dialRaw(t, d, "")
	r.logon()
	r.sendString("seq 1 30000; echo LAST$((5*5)); exit\r\n")
	r.waitClosed()
	got := string(r.received())
	var want strings.Builder
	for i := 1; i <= 30000; i++ {
		fmt.Fprintf(&want, "%d\r\n", i)
	}
	want.WriteString("LAST25\r\n")
	if !strings.Contains(got, want.String()) {
		i := strings.LastIndex(got, "\r\n2")
		t.Fatalf("the output before exit did not all arrive (%d bytes received); it ends %q", len(got), got[max(0, i-40):])
	}
}

// Ctrl-C interrupts a foreground program even when the daemon was started
// with SIGINT and SIGQUIT ignored (as by '&' in a script).
func TestCtrlCWithDaemonIgnoringSignals(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{ignoreSignals: true})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	if got := c.run("grep -E '^Sig(Ign|Blk)' /proc/self/status | tr -s '\\t' ' '"); got != "SigBlk: 0000000000000000\r\nSigIgn: 0000000000000000" {
		t.Errorf("a command in the session has signal state %q, want nothing blocked or ignored", got)
	}
	c.send("sleep 100\r")
	waitFor(t, "sleep to start", func() bool { return pgrepCount(osAlice, "sleep") == 1 })
	c.send("\x03")
	c.send("echo STATUS$?\r")
	c.expect(`STATUS130`) // 128 + SIGINT
}

// A daemon started with signals blocked (by a supervisor) runs the login
// script and the shell with none blocked or ignored: Ctrl-C works in both.
func TestLoginScriptWithDaemonBlockingSignals(t *testing.T) {
	needRoot(t)
	dir, err := os.MkdirTemp("", "tlnte2e-script-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // the script runs as the session's account
	script := filepath.Join(dir, "login.sh")
	writeFile(t, script, "#!/bin/sh\ngrep -E '^Sig(Ign|Blk)' /proc/self/status | tr -s '\\t' ' ' | sed 's/^/SCRIPT-/'\n")
	os.Chmod(script, 0o755)
	d := startDaemon(t, daemonOpts{blockSignals: true, extraConfig: "login_script: " + script + "\n"})
	c := telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.send("alice\r")
	c.expect(`password: `)
	c.send(alicePass + "\r")
	if m := c.expect(`SCRIPT-SigBlk: (\S+)\r\nSCRIPT-SigIgn: (\S+)`); m[1] != "0000000000000000" || m[2] != "0000000000000000" {
		t.Errorf("the login script runs with SigBlk %s, SigIgn %s; want nothing blocked or ignored", m[1], m[2])
	}
	c.shellReady()
	if got := c.run("grep -E '^Sig(Ign|Blk)' /proc/self/status | tr -s '\\t' ' '"); got != "SigBlk: 0000000000000000\r\nSigIgn: 0000000000000000" {
		t.Errorf("a command in the session has signal state %q, want nothing blocked or ignored", got)
	}
}

// When the connection goes, the session's processes end, background jobs
// included; nothing of the account is left running.
func TestDisconnectEndsProcesses(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("sleep 1000 & sleep 1001\r")
	waitFor(t, "both sleeps to start", func() bool { return pgrepCount(osAlice, "sleep") == 2 })
	c.cmd.Process.Kill() // the client vanishes
	waitFor(t, "the session's processes to end", func() bool {
		out, _ := exec.Command("pgrep", "-u", osAlice).Output()
		return len(out) == 0
	})
	waitFor(t, "the session to leave the registry", func() bool {
		return strings.Contains(auditLog(t, d), `"reason":"disconnect"`)
	})
}

// SIGTERM tells every session, ends their processes, and exits 0.
func TestShutdownEndsSessions(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("sleep 1000\r")
	waitFor(t, "sleep to start", func() bool { return pgrepCount(osAlice, "sleep") == 1 })
	d.stop()
	c.expect(`The Telnet server is shutting down`)
	c.waitExit()
	// The daemon has exited, so what is left can only be waited for.
	waitFor(t, "no process of the account left", func() bool { return pgrepCount(osAlice, "") == 0 })
}

// max_connections counts logged-on sessions: while they are all taken, a
// new connection gets one line and is closed; one logging on meanwhile is
// refused at its logon. Connections still logging on do not count.
func TestMaxConnections(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "max_connections: 1\n"})
	c1 := telnet(t, d, 80, 24)
	c1.expect(`Welcome`)
	c2 := telnet(t, d, 80, 24) // both at the prompt: neither is a session yet
	c2.expect(`login: `)
	c1.login("alice", alicePass)
	c3 := telnet(t, d, 80, 24)
	c3.expect(`maximum number of connections`)
	c3.waitExit()
	c2.send("alice\r")
	c2.expect(`password: `)
	c2.send(alicePass + "\r")
	c2.expect(`maximum number of connections`)
	c2.waitExit()
	c1.run("echo still here") // the first goes on
}

// A client that never logs on is dropped at login_timeout.
func TestLoginTimeout(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "login_timeout: 2s\n"})
	c := telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.expect(`Logon timed out`)
	c.waitExit()
}

func auditLog(t *testing.T, d *daemon) string {
	t.Helper()
	b, err := os.ReadFile(d.dir + "/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pgrepCount counts the processes of an account, optionally by name.
func pgrepCount(account, name string) int {
	args := []string{"-u", account}
	if name != "" {
		args = append(args, "-x", name)
	}
	out, _ := exec.Command("pgrep", args...).Output()
	return len(strings.Fields(string(out)))
}

// waitFor polls cond until it holds, for things no event announces (the
// processes of another program).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(expectTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
