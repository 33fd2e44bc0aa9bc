package session

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// signalAll sends sig to each of pids still in session sid: checked again
// just before, since a process may have ended, and its PID been reused,
// since the scan that found it. It returns how many it signalled.
func signalAll(sid int, pids []int, sig syscall.Signal) int {
	n := 0
	for _, pid := range pids {
		if psid, state, ok := procSession(pid); ok && psid == sid && state != 'Z' {
			if syscall.Kill(pid, sig) == nil {
				n++
			}
		}
	}
	return n
}

// KillSessions sends SIGKILL to every live process whose session ID is
// one of sids (the PIDs of sessions' shells), found with one scan of /proc,
// and returns how many it signalled. It is for the end of a shutdown, so
// that nothing of the sessions outlives the daemon.
func KillSessions(sids []int) int {
	bySID := scanSessions()
	n := 0
	for _, sid := range sids {
		if sid > 1 {
			n += signalAll(sid, bySID[sid], syscall.SIGKILL)
		}
	}
	return n
}

// procSession reads a process's session ID and state from /proc/PID/stat.
func procSession(pid int) (sid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain anything; the
	// fields after the last ')' are: state ppid pgrp session ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return 0, 0, false
	}
	sid, err = strconv.Atoi(f[3])
	if err != nil {
		return 0, 0, false
	}
	return sid, f[0][0], true
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
