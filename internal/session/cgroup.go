package session

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Each session runs in a cgroup v2 of its own, <the daemon's cgroup>/
// session-PID-N, when the daemon's cgroup is one it may manage: delegated to
// it (systemd's Delegate=yes marks it with the trusted.delegate
// attribute), or the root of the hierarchy (a host or container with no
// service manager owning it). The incubator is born in it (clone3's
// CLONE_INTO_CGROUP), so every process of the session is in it from its
// first instruction, and no setsid, double fork or daemon(3) gets out. The
// end of a session ends the cgroup: SIGHUP and SIGCONT to its members, then
// cgroup.kill after the grace, then rmdir.
//
// Where there is no such cgroup (cgroup v1 only, a service without
// Delegate=yes, a developer's run from a login session), the processes are
// found by their session ID in /proc instead (procscan.go), which a
// process that calls setsid escapes.

// cgroupHost is the daemon's cgroup, under which sessions get theirs.
type cgroupHost struct {
	dir string // the daemon's cgroup v2 directory
	// controllers enabled for the session cgroups: "pids", "memory".
	controllers map[string]bool
	next        atomic.Int64 // the last N used in session-PID-N

	mu        sync.Mutex
	lingering map[string]bool // session cgroups left to live, removed once empty
}

var (
	hostOnce sync.Once
	host     *cgroupHost // nil: no usable cgroup v2; the /proc scan is used
	// ceiling is the task limit the daemon is under (see taskCeiling).
	ceiling int64
)

// Setup decides, once per process, how sessions' processes are kept
// together and ended, and logs which way: a cgroup v2 per session, or
// the session-ID scan. Start calls it too (with the session's logger) if
// the daemon did not.
func Setup(log *slog.Logger) {
	hostOnce.Do(func() {
		ceiling = taskCeiling()
		if ceiling > 0 {
			log.Info("the daemon and its sessions are under a task limit; each session may have all but a reserve of it",
				"tasks_max", ceiling, "reserve", taskReserve)
		}
		h, err := newCgroupHost()
		if err != nil {
			log.Warn("session processes are tracked by session ID (a program that calls setsid escapes); "+
				"for a cgroup per session, run the daemon in a delegated cgroup v2 (Delegate=yes in the systemd unit)",
				"containment", "session-id", "reason", err.Error())
			return
		}
		host = h
		var ctl []string
		for c := range h.controllers {
			ctl = append(ctl, c)
		}
		log.Info("each session runs in a cgroup of its own", "containment", "cgroup", "cgroup", h.dir,
			"controllers", strings.Join(ctl, " "))
		if !h.controllers["pids"] {
			log.Info("no pids controller for session cgroups: session_limits.tasks applies as RLIMIT_NPROC per account")
		}
		if !h.controllers["memory"] {
			log.Info("no memory controller for session cgroups: session_limits.memory is not applied")
		}
	})
}

// hostCgroup returns the daemon's cgroup host, or nil when sessions are
// tracked by session ID.
func hostCgroup(log *slog.Logger) *cgroupHost {
	Setup(log)
	return host
}

// newCgroupHost finds the daemon's cgroup v2 and checks it may be used.
func newCgroupHost() (*cgroupHost, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	dir, rel, err := findCgroup2(string(mountinfo), string(self))
	if err != nil {
		return nil, err
	}
	h := &cgroupHost{dir: dir, controllers: map[string]bool{}, lingering: map[string]bool{}}
	if rel != "/" && !isDelegated(dir) {
		return nil, fmt.Errorf("cgroup %s is not delegated to the daemon", dir)
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	h.sweepAll()
	h.enableControllers(rel == "/")
	return h, nil
}

// findCgroup2 returns the directory of the process's cgroup v2 (from
// /proc/self/cgroup's "0::" line) and its path in the hierarchy, given
// /proc/self/mountinfo: a pure cgroup2 host has it at /sys/fs/cgroup, a
// hybrid one (v1 controllers beside it) usually at /sys/fs/cgroup/unified.
func findCgroup2(mountinfo, procCgroup string) (dir, rel string, err error) {
	for line := range strings.Lines(procCgroup) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			rel = p
		}
	}
	if rel == "" {
		return "", "", errors.New("no cgroup v2 in /proc/self/cgroup (cgroup v1 only)")
	}
	for line := range strings.Lines(mountinfo) {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || g[0] != "cgroup2" {
			continue
		}
		root, mnt := unescapeMount(f[3]), unescapeMount(f[4])
		if root != "/" {
			// A bind mount of part of the hierarchy: usable if our
			// cgroup is below it.
			sub, ok := strings.CutPrefix(rel, root)
			if !ok || (sub != "" && sub[0] != '/') {
				continue
			}
			return filepath.Join(mnt, sub), rel, nil
		}
		return filepath.Join(mnt, rel), rel, nil
	}
	return "", "", errors.New("no cgroup2 file system mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isDelegated reports whether a service manager delegated dir: systemd
// (251 and later) marks a Delegate=yes unit's cgroup so.
func isDelegated(dir string) bool {
	for _, attr := range []string{"trusted.delegate", "user.delegate"} {
		buf := make([]byte, 8)
		if n, err := unix.Getxattr(dir, attr, buf); err == nil && string(buf[:n]) == "1" {
			return true
		}
	}
	return false
}

// enableControllers enables pids and memory for the session cgroups where
// the daemon's cgroup has them. cgroup v2 lets a cgroup other than the
// root hand controllers to its children only when it has no processes of
// its own, so the daemon first moves itself into <dir>/daemon (what
// systemd asks of a service with Delegate=yes).
func (h *cgroupHost) enableControllers(root bool) {
	b, err := os.ReadFile(filepath.Join(h.dir, "cgroup.controllers"))
	if err != nil {
		return
	}
	var want []string
	for _, c := range strings.Fields(string(b)) {
		if c == "pids" || c == "memory" {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		return
	}
	if !root {
		leaf := filepath.Join(h.dir, "daemon")
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return
		}
		if writeCgroupFile(leaf, "cgroup.procs", strconv.Itoa(os.Getpid())) != nil {
			return
		}
	}
	for _, c := range want {
		if writeCgroupFile(h.dir, "cgroup.subtree_control", "+"+c) == nil {
			h.controllers[c] = true
		}
	}
}

func writeCgroupFile(dir, name, value string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(value), 0)
}

// sessionCgroup is one session's cgroup.
type sessionCgroup struct {
	host *cgroupHost
	path string
	fd   int // open until the incubator has been started in it; -1 after
}

// newSession makes a cgroup for a session, with its limits, and opens it
// for clone3. Its name, session-PID-N, carries the daemon's PID: daemons
// that share the hierarchy's root (tests, a container) must not take each
// other's names, or one would see another's new session-1 where its own
// was removed. The number is the first free one.
func (h *cgroupHost) newSession(lim Limits, ceiling int64) (*sessionCgroup, error) {
	var path string
	prefix := "session-" + strconv.Itoa(os.Getpid()) + "-"
	for tries := 0; ; tries++ {
		path = filepath.Join(h.dir, prefix+strconv.FormatInt(h.next.Add(1), 10))
		err := os.Mkdir(path, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || tries > 1000 {
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	cg := &sessionCgroup{host: h, path: path, fd: -1}
	if err := cg.setLimits(lim, ceiling); err != nil {
		cg.remove()
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		cg.remove()
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	cg.fd = fd
	return cg, nil
}

// setLimits writes the session's pids.max and memory.max, where the
// controllers are there.
func (cg *sessionCgroup) setLimits(lim Limits, ceiling int64) error {
	if n := lim.tasks(ceiling); n > 0 && cg.host.controllers["pids"] {
		if err := writeCgroupFile(cg.path, "pids.max", strconv.FormatInt(n, 10)); err != nil {
			return fmt.Errorf("set the session's task limit: %w", err)
		}
	}
	if lim.Memory > 0 && cg.host.controllers["memory"] {
		v := strconv.FormatInt(lim.Memory, 10)
		if err := writeCgroupFile(cg.path, "memory.max", v); err != nil {
			return fmt.Errorf("set the session's memory limit: %w", err)
		}
		// Past the limit, the session's own programs are killed, never
		// swapped out at everyone's cost.
		writeCgroupFile(cg.path, "memory.swap.max", "0")
	}
	return nil
}

// started closes the descriptor once the incubator runs in the cgroup.
func (cg *sessionCgroup) started() {
	if cg.fd >= 0 {
		unix.Close(cg.fd)
		cg.fd = -1
	}
}

// members lists the processes in the cgroup.
func (cg *sessionCgroup) members() []int {
	f, err := os.Open(filepath.Join(cg.path, "cgroup.procs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// populated reports whether a live process is left in the cgroup.
func (cg *sessionCgroup) populated() bool {
	b, err := os.ReadFile(filepath.Join(cg.path, "cgroup.events"))
	if err != nil {
		return false // gone
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return len(cg.members()) > 0
}

// signal sends sig to each process of the cgroup, through a pidfd taken
// before its membership is checked again, so that a PID reused by a
// process outside since the list was read is never hit.
func (cg *sessionCgroup) signal(sig syscall.Signal) int {
	rel := strings.TrimPrefix(cg.path, cg.host.dir)
	n := 0
	for _, pid := range cg.members() {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if inCgroup(pid, rel) && unix.PidfdSendSignal(fd, sig, nil, 0) == nil {
			n++
		}
		unix.Close(fd)
	}
	return n
}

// inCgroup reports whether process pid's cgroup v2 path ends in rel (the
// session cgroup's path under the daemon's).
func inCgroup(pid int, rel string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return strings.HasSuffix(p, rel)
		}
	}
	return false
}

// kill ends every process in the cgroup at once (cgroup.kill, Linux 5.14),
// or, before that, by SIGKILL to each member until none is left, and
// waits (bounded) until they are gone.
func (cg *sessionCgroup) kill(wait time.Duration) {
	useKill := writeCgroupFile(cg.path, "cgroup.kill", "1") == nil
	deadline := time.Now().Add(wait)
	for cg.populated() && time.Now().Before(deadline) {
		if !useKill {
			cg.signal(syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// remove removes the cgroup, or, while processes are still in it, keeps
// it to be removed by a later sweep.
func (cg *sessionCgroup) remove() {
	cg.started()
	h := cg.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := unix.Rmdir(cg.path); err != nil && !errors.Is(err, unix.ENOENT) {
		h.lingering[cg.path] = true
		return
	}
	delete(h.lingering, cg.path)
}

// sweep removes the lingering session cgroups that have emptied (what a
// session with end_tasks_on_disconnect off left running has ended).
func (h *cgroupHost) sweep() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for path := range h.lingering {
		if err := unix.Rmdir(path); err == nil || errors.Is(err, unix.ENOENT) {
			delete(h.lingering, path)
		}
	}
}

// sweepAll, at start, removes the empty session cgroups a previous run
// left, and keeps the others to be swept once empty. (Where daemons share
// the hierarchy's root, tests, one may remove another's cgroup between its
// mkdir and its clone3: that session then starts without one, tracked by
// session ID.)
func (h *cgroupHost) sweepAll() {
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "session-") {
			h.lingering[filepath.Join(h.dir, e.Name())] = true
		}
	}
	h.sweep()
}
