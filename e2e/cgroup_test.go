package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// needSessionCgroups skips a test of what only a cgroup per session does,
// on a host where the daemon tracks sessions by session ID (its log says
// which at start).
func needSessionCgroups(t *testing.T, d *daemon) {
	t.Helper()
	waitFor(t, "the daemon to say how it tracks sessions", func() bool { return strings.Contains(d.logs(), `"containment":`) })
	if !strings.Contains(d.logs(), `"containment":"cgroup"`) {
		t.Skip("the daemon has no usable cgroup v2 here and tracks sessions by session ID, which setsid escapes")
	}
}

// What a user detaches from the session (setsid, tmux new -d) ends with it
// when end_tasks_on_disconnect is on.
func TestDisconnectEndsEscapedProcesses(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	needSessionCgroups(t, d)
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	want := 1
	c.send("setsid sleep 1003 </dev/null >/dev/null 2>&1 &\r")
	if _, err := exec.LookPath("tmux"); err == nil {
		c.send("tmux -L tlntsvr-e2e-escape new-session -d 'sleep 1004'\r")
		want++
	}
	waitFor(t, "the detached sleeps to start", func() bool { return pgrepCount(osAlice, "sleep") == want })
	c.cmd.Process.Kill() // the client vanishes
	waitFor(t, "every process of the account to end", func() bool { return pgrepCount(osAlice, "") == 0 })
}

// session_limits.tasks bounds one session's processes, so a fork loop
// cannot take what other users' logons need.
func TestForkLoopDoesNotBlockOthers(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "session_limits: {tasks: 40}\n"})
	writeFile(t, filepath.Join(d.dir, "groups"), "telnet-clients: alice bob\nadministrators:\n")
	mark := d.logMark()
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, mark, "reloaded config, users and groups files")
	a := telnet(t, d, 80, 24)
	a.login("alice", alicePass)
	// Bounded: 150 forks at most, each a sleep of 60 s, ended with the
	// session. dash gives up at the first failed fork (bash would retry
	// each for seconds).
	a.send("sh -c 'i=0; while [ $i -lt 150 ]; do sleep 60 & i=$((i+1)); done' 2>/dev/null; echo LOOP$((2+3))DONE\r")
	a.expect(`LOOP5DONE`)
	if n := pgrepCount(osAlice, "sleep"); n > 40 || n < 10 {
		t.Errorf("alice's session runs %d sleeps; want at most 40 (session_limits.tasks), and some", n)
	}
	b := telnet(t, d, 80, 24)
	b.login("bob", bobPass) // gets a working shell
	b.send("exit\r")
	b.waitExit()
	a.cmd.Process.Kill()
	waitFor(t, "alice's processes to end", func() bool { return pgrepCount(osAlice, "") == 0 })
}
