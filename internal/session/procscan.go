package session

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Finding a session's processes means reading the stat file of every
// process on the host: the kernel has no index by session ID. When many
// sessions end at once (a shutdown, a network outage, a thousand clients
// closing) one scan serves every session waiting for one, instead of a
// scan each. A caller always gets a scan that began after it asked, so
// no process forked before the call is missed.

// procScanner coalesces the callers of sessionMembers.
type procScanner struct {
	mu      sync.Mutex
	next    *procScan // the scan the next callers wait for; not begun
	running bool      // a goroutine is scanning (and will take next)
}

type procScan struct {
	done  chan struct{}
	bySID map[int][]int // live (not zombie) processes by session ID
}

var scanner procScanner

// scans counts the scans made (the tests check that callers share them).
var scans atomic.Int64

// sessionMembers lists the live processes whose session ID is sid.
func sessionMembers(sid int) []int {
	return scanner.members(sid)
}

func (p *procScanner) members(sid int) []int {
	p.mu.Lock()
	if p.next == nil {
		p.next = &procScan{done: make(chan struct{})}
	}
	sc := p.next
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	<-sc.done
	return sc.bySID[sid]
}

// run scans for the callers waiting, until none is.
func (p *procScanner) run() {
	for {
		p.mu.Lock()
		sc := p.next
		p.next = nil
		if sc == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		sc.bySID = scanSessions()
		scans.Add(1)
		close(sc.done)
	}
}

// scanSessions reads every process's session ID and state from /proc.
func scanSessions() map[int][]int {
	bySID := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return bySID
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if sid, state, ok := procSession(pid); ok && state != 'Z' {
			bySID[sid] = append(bySID[sid], pid)
		}
	}
	return bySID
}

// Leader names a session's Unix session: its ID, the PID of the shell
// that leads it, and when that shell started (clock ticks after boot, as
// /proc/PID/stat has it). Once the shell is reaped its PID is free, and
// the number can come to lead another session (an sshd login, a
// service): the start time tells that one from ours, so root never
// signals it in our session's name.
type Leader struct {
	SID   int
	Start uint64
	// cgroup is the session's cgroup, if it has one: then its processes
	// are those in it, whatever their session ID.
	cgroup *sessionCgroup
}

// reused reports whether l's session ID now belongs to another session:
// a live process with that PID leads a session of that ID but is not
// our shell. (While our shell lives, or once it is gone and the number is
// free or taken by a process outside any such session, the processes with
// that session ID are ours.)
func (l Leader) reused() bool {
	if l.Start == 0 {
		return false // start time unknown: judged by session ID alone
	}
	st, ok := readStat(l.SID)
	return ok && st.state != 'Z' && st.sid == l.SID && st.start != l.Start
}

// signalAll sends sig to each of pids still in l's session: checked
// again just before, since a process may have ended, and its PID been
// reused, since the scan that found it; and nothing at all once l's
// session ID leads another session. It returns how many it signalled.
func signalAll(l Leader, pids []int, sig syscall.Signal) int {
	if l.reused() {
		return 0
	}
	n := 0
	for _, pid := range pids {
		if psid, state, ok := procSession(pid); ok && psid == l.SID && state != 'Z' {
			if syscall.Kill(pid, sig) == nil {
				n++
			}
		}
	}
	return n
}

// KillSessions sends SIGKILL to every live process of the sessions
// leaders, found with one scan of /proc, and returns how many it
// signalled. It is for the end of a shutdown, so that nothing of the
// sessions outlives the daemon.
func KillSessions(leaders []Leader) int {
	bySID := scanSessions()
	n := 0
	var cgs []*sessionCgroup
	for _, l := range leaders {
		if l.cgroup != nil {
			if k := len(l.cgroup.members()); k > 0 {
				n += k
				cgs = append(cgs, l.cgroup)
			}
		} else if l.SID > 1 {
			n += signalAll(l, bySID[l.SID], syscall.SIGKILL)
		}
	}
	// All at once, then one wait for them all.
	for _, cg := range cgs {
		writeCgroupFile(cg.path, "cgroup.kill", "1")
	}
	for _, cg := range cgs {
		cg.kill(time.Second)
		cg.remove()
	}
	if len(cgs) > 0 {
		cgs[0].host.sweep()
	}
	return n
}

// procStat is what the daemon reads of /proc/PID/stat.
type procStat struct {
	state byte
	sid   int
	start uint64 // clock ticks after boot
}

// readStat reads a process's state, session ID and start time.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name is in parentheses and may contain anything; the
	// fields after the last ')' are: state ppid pgrp session tty_nr tpgid
	// flags minflt cminflt majflt cmajflt utime stime cutime cstime
	// priority nice num_threads itrealvalue starttime ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, false
	}
	sid, err := strconv.Atoi(f[3])
	if err != nil {
		return procStat{}, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, false
	}
	return procStat{state: f[0][0], sid: sid, start: start}, true
}

// procSession reads a process's session ID and state from /proc/PID/stat.
func procSession(pid int) (sid int, state byte, ok bool) {
	st, ok := readStat(pid)
	return st.sid, st.state, ok
}

// heedsHangup reports whether a process does not ignore SIGHUP: it is
// running its handler for it, or dying of it. (False once it has gone.)
func heedsHangup(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if mask, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			ign, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
			return err == nil && ign&(1<<(syscall.SIGHUP-1)) == 0
		}
	}
	return false
}
