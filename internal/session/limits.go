package session

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Limits bound what one session may use (session_limits). They apply
// through the session's cgroup (pids.max, memory.max) where those
// controllers are there; without a pids controller the task limit
// applies as RLIMIT_NPROC to the account, which counts all of the
// account's processes, in every session and outside them.
type Limits struct {
	Tasks  int64 // processes and threads; 0: no limit of its own
	Memory int64 // bytes; 0: no limit
}

// taskReserve is how many tasks below the limit the daemon's cgroup is
// under (the unit's TasksMax) no one session may take, so that the daemon
// can still start a session for someone else (an incubator is a process
// and a few threads) and run its own threads.
const taskReserve = 64

// minTasks is the least a session is allowed whatever the ceiling: a
// shell, a pipeline, an editor.
const minTasks = 16

// tasks returns the task limit to apply: Tasks, lowered to keep
// taskReserve free below ceiling (0: none known). 0 means no limit.
func (l Limits) tasks(ceiling int64) int64 {
	n := l.Tasks
	if ceiling > 0 {
		most := max(ceiling-taskReserve, minTasks)
		if n <= 0 || n > most {
			n = most
		}
	}
	return max(n, 0)
}

// taskCeiling returns the smallest pids.max of the daemon's cgroup and
// those above it (the unit's TasksMax, a slice's), from cgroup v2 or,
// where the pids controller is a v1 one (a hybrid host), from v1; 0 when
// there is none.
func taskCeiling() int64 {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	if dir, rel, err := findCgroup2(string(mountinfo), string(self)); err == nil {
		if n := smallestPidsMax(dir, rel); n > 0 {
			return n
		}
	}
	if dir, rel, ok := findPidsV1(string(mountinfo), string(self)); ok {
		return smallestPidsMax(dir, rel)
	}
	return 0
}

// smallestPidsMax walks from dir (rel in its hierarchy) up to the
// hierarchy's root, and returns the smallest pids.max on the way; 0 if
// all are "max" or absent.
func smallestPidsMax(dir, rel string) int64 {
	var least int64
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "pids.max")); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && (least == 0 || n < least) {
				least = n
			}
		}
		if rel == "/" || rel == "" || rel == "." {
			return least
		}
		dir, rel = filepath.Dir(dir), filepath.Dir(rel)
	}
}

// findPidsV1 returns the directory of the process's cgroup in a v1 pids
// hierarchy, and its path there.
func findPidsV1(mountinfo, procCgroup string) (dir, rel string, ok bool) {
	for line := range strings.Lines(procCgroup) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) == 3 && hasWord(f[1], "pids") {
			rel = f[2]
		}
	}
	if rel == "" {
		return "", "", false
	}
	for line := range strings.Lines(mountinfo) {
		pre, post, found := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !found || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" || !hasWord(g[2], "pids") {
			continue
		}
		root, mnt := unescapeMount(f[3]), unescapeMount(f[4])
		sub, cut := strings.CutPrefix(rel, strings.TrimSuffix(root, "/"))
		if !cut {
			continue
		}
		return filepath.Join(mnt, sub), rel, true
	}
	return "", "", false
}

// hasWord reports whether the comma-separated list s holds w.
func hasWord(s, w string) bool {
	for x := range strings.SplitSeq(s, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// accountProcesses counts the processes the account uid runs now: the
// entries of /proc it owns (a process's directory belongs to its
// effective uid). One stat per process; threads are not counted.
func accountProcesses(uid uint32) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if name := e.Name(); name[0] < '1' || name[0] > '9' {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == uid {
			n++
		}
	}
	return n
}
