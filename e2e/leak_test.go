package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A daemon runs for months: every way a connection or session can end
// gives back what it took. After rounds of sessions that exit, are
// killed, lose their client, are watched, recorded and run over TLS, and
// of connections that fail their logon, hang up before it or fail their
// handshake, the daemon is back to the descriptors and goroutines it had
// before them, and no process of a session is left.
func TestNothingLeftBehind(t *testing.T) {
	needRoot(t)
	rec := filepath.Join(t.TempDir(), "sessions")
	d := startDaemon(t, daemonOpts{tls: true,
		extraConfig: "metrics_listen: \"127.0.0.1:0\"\nrecord: {dir: " + rec + "}\nshadow_notice: false\n"})
	pid := d.cmd.Process.Pid

	// What the first session and the first scrape set up once (the
	// reaper, the metrics connection kept alive) is not a leak.
	warm := telnet(t, d, 80, 24)
	warm.login("alice", alicePass)
	warm.send("exit\r")
	warm.waitExit()
	idle := func() (fds, goroutines int) {
		m := d.scrape(t)
		if m[`tlntsvr_sessions{mode="console",tls="none"}`]+m[`tlntsvr_sessions{mode="console",tls="telnets"}`] != 0 ||
			m[`tlntsvr_prelogon_connections`] != 0 {
			return -1, -1
		}
		return openFiles(t, pid), int(m["go_goroutines"])
	}
	var fds0, gs0 int
	waitFor(t, "the warm-up session to end", func() bool { fds0, gs0 = idle(); return fds0 >= 0 })

	const rounds = 3
	for round := range rounds {
		endEveryWay(t, d, round)
	}

	var fds, gs int
	deadline := time.Now().Add(15 * time.Second)
	for {
		fds, gs = idle()
		if fds >= 0 && fds <= fds0 && gs <= gs0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("before: %d descriptors, %d goroutines; after %d rounds: %d, %d", fds0, gs0, rounds, fds, gs)
	if fds < 0 {
		t.Fatalf("sessions or connections still open after %d rounds:\n%s", rounds, d.mustAdmin(t, "sessions"))
	}
	if fds > fds0 {
		t.Errorf("%d descriptors open after %d rounds, %d before: %s", fds, rounds, fds0, fdTargets(pid))
	}
	if gs > gs0 {
		t.Errorf("%d goroutines after %d rounds, %d before", gs, rounds, gs0)
	}
	if kids := childrenOf(pid); len(kids) > 0 {
		t.Errorf("processes left under the daemon: %v", kids)
	}
	if n := pgrepFull("sleep 4242"); n != 0 {
		t.Errorf("%d of the sessions' background sleeps still run", n)
	}
}

// endEveryWay opens and ends sessions and connections in each way the
// daemon knows, and waits until each has ended.
func endEveryWay(t *testing.T, d *daemon, round int) {
	t.Helper()
	// A shell that exits, leaving a job in the background.
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("sleep 4242 &\r")
	c.shellReady()
	c.send("exit\r")
	c.waitExit()

	// A session killed from tlntadmn, with an administrator watching.
	c = telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	list := d.sessions(t)
	if len(list) != 1 {
		t.Fatalf("round %d: sessions = %+v, want 1", round, list)
	}
	id := strconv.Itoa(list[0].ID)
	w := startClient(t, "xterm", 80, 24, tlntadmn, "--config", filepath.Join(d.dir, "tlntsvr.yaml"), "shadow", id)
	w.expect(`Watching session ` + id)
	d.mustAdmin(t, "kill", id)
	c.waitExit()
	w.waitExit()

	// A client that goes away without a word.
	c = telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("sleep 4242 &\r")
	c.shellReady()
	c.cmd.Process.Kill()
	<-c.exited

	// A session over telnets that exits.
	r := newRawConn(t, dialTLS(t, d.tlsAddr, nil))
	r.logon()
	r.sendString("exit\r\n")
	r.waitClosed()

	// A wrong password, then the client hangs up.
	c = telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.send("alice\r")
	c.expect(`password: `)
	c.send("wrong\r")
	c.expect(`Login incorrect`)
	c.cmd.Process.Kill()
	<-c.exited

	// A connection that hangs up before the login prompt, and a TLS
	// handshake that is not one.
	for _, addr := range []string{d.addr, d.tlsAddr} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if addr == d.tlsAddr {
			nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		}
		nc.Close()
	}
}

// openFiles counts the descriptors process pid has open.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// fdTargets lists what pid's descriptors point at, to say what leaked.
func fdTargets(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+"→"+target)
	}
	return strings.Join(out, " ")
}

// childrenOf lists the processes whose parent is pid, as "PID (comm)".
func childrenOf(pid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if comm, f := procStat(e.Name()); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+comm)
		}
	}
	return out
}
