package server

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What one logged-on session takes from the host: the daemon holds its
// socket, its PTY's master and a pidfd of its shell; the session has a
// PTY and at least one process (its shell). Reserves leave room for the
// daemon itself (listeners, admin socket, files, logons in progress, its
// threads) and the rest of the host.
const (
	fdsPerSession   = 3
	fdReserve       = 64
	tasksReserve    = 64
	hostPIDsReserve = 1024
)

// hostLimits are the host's limits that bound the number of sessions, as
// the kernel reports them; 0 means unknown or unlimited.
type hostLimits struct {
	openFiles  uint64 // RLIMIT_NOFILE (soft) of the daemon
	ptyMax     int    // kernel.pty.max
	ptyOthers  int    // PTYs in use by others (kernel.pty.nr less our sessions')
	pidMax     int    // kernel.pid_max
	threadsMax int    // kernel.threads-max
	tasksMax   int    // pids.max of the daemon's cgroup: the unit's TasksMax
	cgroup     string // that cgroup, for the message
}

// limitWarning is one limit below max_connections: the sessions it
// allows and how to raise it.
type limitWarning struct {
	limit  string // the knob
	allows int
	raise  string
}

// sessionCeilings returns a warning for every limit that allows fewer
// sessions than maxConn.
func sessionCeilings(maxConn int, h hostLimits) []limitWarning {
	var out []limitWarning
	check := func(allows int, limit, raise string) {
		if allows < maxConn {
			out = append(out, limitWarning{limit, max(allows, 0), raise})
		}
	}
	if h.openFiles > 0 && h.openFiles < 1<<40 {
		need := uint64(maxConn)*fdsPerSession + fdReserve
		check(int((h.openFiles-min(h.openFiles, fdReserve))/fdsPerSession), "RLIMIT_NOFILE (open files) of the daemon",
			fmt.Sprintf("LimitNOFILE=%d in the unit, or ulimit -n %d", need, need))
	}
	if h.ptyMax > 0 {
		check(h.ptyMax-h.ptyOthers, "kernel.pty.max", fmt.Sprintf("sysctl -w kernel.pty.max=%d", max(maxConn+h.ptyOthers+hostPIDsReserve/8, 4096)))
	}
	if h.tasksMax > 0 {
		check(h.tasksMax-tasksReserve, "TasksMax of the unit (pids.max of "+h.cgroup+")", fmt.Sprintf("TasksMax=%d or infinity in the unit", maxConn*2+tasksReserve))
	}
	if h.pidMax > 0 {
		check(h.pidMax-hostPIDsReserve, "kernel.pid_max", fmt.Sprintf("sysctl -w kernel.pid_max=%d", maxConn*2+hostPIDsReserve))
	}
	if h.threadsMax > 0 {
		check(h.threadsMax-hostPIDsReserve, "kernel.threads-max", fmt.Sprintf("sysctl -w kernel.threads-max=%d", maxConn*2+hostPIDsReserve))
	}
	return out
}

// readHostLimits reads the limits of this host and process; ours is how
// many PTYs our own sessions hold now.
func readHostLimits(ours int) hostLimits {
	var h hostLimits
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
		h.openFiles = rl.Cur
	}
	h.ptyMax = readIntFile("/proc/sys/kernel/pty/max")
	h.ptyOthers = max(readIntFile("/proc/sys/kernel/pty/nr")-ours, 0)
	h.pidMax = readIntFile("/proc/sys/kernel/pid_max")
	h.threadsMax = readIntFile("/proc/sys/kernel/threads-max")
	if cg := ownCgroup(); cg != "" {
		h.tasksMax = readIntFile(filepath.Join("/sys/fs/cgroup", cg, "pids.max")) // "max": 0
		h.cgroup = cg
	}
	return h
}

// ownCgroup is the daemon's cgroup v2 path ("" if none).
func ownCgroup() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return ""
}

func readIntFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// warnHostLimits logs, at start and when the settings change, each host
// limit that would refuse sessions before max_connections does, naming
// the knob that raises it.
func warnHostLimits(log *slog.Logger, maxConn int, h hostLimits) {
	for _, w := range sessionCeilings(maxConn, h) {
		log.Warn("max_connections exceeds what the host allows: sessions past the limit will fail to start",
			"max_connections", maxConn, "limit", w.limit, "allows", w.allows, "raise", w.raise)
	}
}
