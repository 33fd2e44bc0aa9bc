package session

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFindCgroup2(t *testing.T) {
	const hybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	const pure = `29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`
	const bound = `29 23 0:26 /system.slice/x.service /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw
`
	const space = `29 23 0:26 / /mnt/cg\040two rw - cgroup2 cgroup2 rw
`
	const v1 = `39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
`
	for _, c := range []struct {
		name, mountinfo, self, dir string
	}{
		{"hybrid root", hybrid, "8:pids:/\n1:name=systemd:/\n0::/\n", "/sys/fs/cgroup/unified"},
		{"hybrid service", hybrid, "0::/system.slice/tlntsvr.service\n", "/sys/fs/cgroup/unified/system.slice/tlntsvr.service"},
		{"pure", pure, "0::/system.slice/tlntsvr.service\n", "/sys/fs/cgroup/system.slice/tlntsvr.service"},
		{"bind mount", bound, "0::/system.slice/x.service/daemon\n", "/sys/fs/cgroup/daemon"},
		{"escaped", space, "0::/a\n", "/mnt/cg two/a"},
		{"v1 only", v1, "8:pids:/\n", ""},
		{"no mount", v1, "0::/\n", ""},
	} {
		dir, _, err := findCgroup2(c.mountinfo, c.self)
		if dir != c.dir || (err != nil) != (c.dir == "") {
			t.Errorf("%s: findCgroup2 = %q, %v; want %q", c.name, dir, err, c.dir)
		}
	}
	dir, rel, ok := findPidsV1(hybrid, "8:pids:/user.slice\n0::/\n")
	if !ok || dir != "/sys/fs/cgroup/pids/user.slice" || rel != "/user.slice" {
		t.Errorf("findPidsV1 = %q, %q, %v", dir, rel, ok)
	}
}

func TestLimitsKeepReserve(t *testing.T) {
	for _, c := range []struct {
		tasks, ceiling, want int64
	}{
		{512, 0, 512},
		{0, 0, 0},
		{512, 4915, 512},
		{0, 4915, 4915 - taskReserve},
		{512, 300, 300 - taskReserve},
		{512, 20, minTasks},
	} {
		if got := (Limits{Tasks: c.tasks}).tasks(c.ceiling); got != c.want {
			t.Errorf("tasks %d under %d = %d, want %d", c.tasks, c.ceiling, got, c.want)
		}
	}
}

// needCgroup skips a test of what only a cgroup per session can do.
func needCgroup(t *testing.T) *cgroupHost {
	t.Helper()
	h := hostCgroup(slog.New(slog.DiscardHandler))
	if h == nil {
		t.Skip("no delegated, writable cgroup v2 here: sessions are tracked by session ID")
	}
	return h
}

// marked lists the processes whose command line holds the word mark.
func marked(mark string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == mark {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killMarked ends, at the end of a test, the processes it started with
// mark in their command line, which may still be forking.
func killMarked(t *testing.T, mark string) {
	t.Cleanup(func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			pids := marked(mark)
			if len(pids) == 0 {
				return
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// hopper writes a script that ignores SIGHUP, starts a copy of itself in
// a Unix session of its own and exits, generation after generation (at
// most gens, about 20 a second): every scan of /proc finds a process that
// is gone by the time it is signalled, and none of them is in the
// session's Unix session.
func hopper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "hop.sh")
	script := "#!/bin/sh\ntrap '' HUP\n[ \"$1\" -gt 0 ] || exit 0\nsleep 0.05\nsetsid \"$0\" $(($1 - 1)) \"$2\" </dev/null >/dev/null 2>&1 &\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Ending a session ends everything started in it: a process that left
// the Unix session (setsid) and a chain of processes that ignore SIGHUP
// and fork anew faster than a scan of /proc can follow.
func TestEndedSessionLeavesNothing(t *testing.T) {
	needCgroup(t)
	mark := fmt.Sprintf("tlntsvr-test-%d", os.Getpid())
	killMarked(t, mark)
	hop := hopper(t)
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	done := runAsync(s, context.Background(), []byte(fmt.Sprintf(
		"setsid bash -c 'exec -a %[1]s sleep 1000' </dev/null >/dev/null 2>&1 & %[2]s 400 %[1]s; echo STARTED$((7*6))\n", mark, hop)))
	p.waitOutput(t, "STARTED42")
	waitUntil(t, "the hopper and the setsid sleep to run", func() bool { return len(marked(mark)) >= 2 })
	time.Sleep(200 * time.Millisecond) // a few hops: the chain has left the Unix session
	p.nc.Close()
	if r := waitReason(t, done); r != ReasonDisconnect {
		t.Errorf("reason = %q, want disconnect", r)
	}
	// A hop takes 50 ms: after 300 ms a chain that got away shows.
	time.Sleep(300 * time.Millisecond)
	if left := marked(mark); len(left) > 0 {
		t.Errorf("processes of the session still running: %v", left)
	}
	if _, err := os.Stat(s.cg.path); err == nil {
		t.Errorf("the session's cgroup %s is still there", s.cg.path)
	}
}

// With EndTasks off, what ignores the hangup lives on in the session's
// cgroup, which is removed once it has emptied, at a later session's end.
func TestLingeringCgroupRemovedWhenEmpty(t *testing.T) {
	needCgroup(t)
	mark := fmt.Sprintf("tlntsvr-linger-%d", os.Getpid())
	killMarked(t, mark)
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: false})
	done := runAsync(s, context.Background(), []byte(fmt.Sprintf(
		"nohup bash -c 'exec -a %s sleep 1000' </dev/null >/dev/null 2>&1 & echo STARTED$((7*7))\n", mark)))
	p.waitOutput(t, "STARTED49")
	waitUntil(t, "the sleep to run", func() bool { return len(marked(mark)) == 1 })
	p.nc.Close()
	waitReason(t, done)
	if len(marked(mark)) != 1 {
		t.Fatal("the nohup'ed sleep did not survive the disconnect with EndTasks off")
	}
	if _, err := os.Stat(s.cg.path); err != nil {
		t.Fatalf("the session's cgroup went while a process was in it: %v", err)
	}
	syscall.Kill(marked(mark)[0], syscall.SIGKILL)
	waitUntil(t, "the sleep to end", func() bool { return !s.cg.populated() })

	conn2, _ := connPair(t)
	s2 := start(t, conn2, Spec{EndTasks: true})
	waitReason(t, runAsync(s2, context.Background(), []byte("exit\n")))
	if _, err := os.Stat(s.cg.path); err == nil {
		t.Errorf("the emptied cgroup %s is still there after a later session's end", s.cg.path)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A session's task limit applies: as its cgroup's pids.max where the pids
// controller is there, else as the account's RLIMIT_NPROC.
func TestSessionTaskLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to start a session as another account")
	}
	nobody, err := LookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	conn, p := connPair(t)
	s := start(t, conn, Spec{Account: nobody, EndTasks: true, Limits: Limits{Tasks: 77}})
	done := runAsync(s, context.Background(), []byte(
		"echo NPROC=$(awk '/^Max processes/{print $3 \"-\" $4}' /proc/self/limits); echo PIDS=$(cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/pids.max 2>/dev/null || "+
			"cat /sys/fs/cgroup/unified$(sed -n 's/^0:://p' /proc/self/cgroup)/pids.max 2>/dev/null); echo END$((8*8)); exit\n"))
	p.waitOutput(t, "END64")
	waitReason(t, done)
	out := p.output()
	if s.cg != nil && s.cg.host.controllers["pids"] {
		if !strings.Contains(out, "PIDS=77\r\n") {
			t.Errorf("the session's cgroup has not pids.max 77:\n%q", out)
		}
	} else if !strings.Contains(out, "NPROC=77-77\r\n") {
		t.Errorf("the account's RLIMIT_NPROC is not 77:\n%q", out)
	}
}
