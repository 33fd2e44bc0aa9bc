package server

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SessionLeaders returns the session IDs of the logged-on sessions: each
// session's shell leads a Unix session of its own, and every process it
// starts keeps that session ID, whatever its process group.
func (s *Server) SessionLeaders() []int {
	var out []int
	for _, si := range s.sessions.List() {
		if si.PID > 1 {
			out = append(out, si.PID)
		}
	}
	return out
}

// KillSessionProcesses sends SIGKILL to every live process whose session
// ID is one of sids, found with one scan of /proc, and returns how many it
// signalled. It is for the end of a shutdown, so that nothing of the
// sessions outlives the daemon: everything, when the wait for their own
// teardown was cut short; the programs that ignored the hangup, when
// end_tasks_on_disconnect is off.
func KillSessionProcesses(sids []int) int {
	want := map[int]bool{}
	for _, sid := range sids {
		if sid > 1 {
			want[sid] = true
		}
	}
	if len(want) == 0 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		if sid, ok := sessionOf(pid); ok && want[sid] {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// sessionOf reads a live process's session ID from /proc/PID/stat.
func sessionOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold anything; after the
	// last ')' come: state ppid pgrp session ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || f[0] == "Z" {
		return 0, false
	}
	sid, err := strconv.Atoi(f[3])
	return sid, err == nil
}
