package session

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The incubator is the daemon's own binary re-executed as the first process
// of a session, on the PTY, as session leader. It does in one place what
// must happen between fork and the user's shell: drop privileges and check
// that the drop held, reset signal dispositions and mask, change to the
// home directory, run the login script, and exec the shell. Doing this in a
// process of our own (rather than in exec.Cmd's SysProcAttr) is what lets
// the privilege drop be asserted before any user code runs.

// IncubatorArg0 is argv[0] of the incubator process.
const IncubatorArg0 = "tlntsvr-session"

// specFD is the descriptor on which the incubator receives its spec;
// readyFD the one on which it tells the daemon it has become the account.
// Its stderr (2) is a pipe to the daemon until just before it execs the
// shell (see Start); the terminal is on 0 and 1.
const (
	specFD  = 3
	readyFD = 4
)

// incubatorSpec is what the daemon tells the incubator, as JSON on specFD.
type incubatorSpec struct {
	Drop        bool // switch to UID/GID/Groups (the daemon runs as root)
	UID         uint32
	GID         uint32
	Groups      []uint32
	Home        string
	Shell       string
	LoginScript string
	Env         []string
	Umask       int // the host's login umask for the account (see loginUmask)
	// NProc, if not 0, is the account's RLIMIT_NPROC (the task limit,
	// where the session's cgroup has no pids controller).
	NProc uint64

	// LoginScriptTimeout ends the session when the login script runs
	// longer (see runLoginScript); 0 = no limit.
	LoginScriptTimeout time.Duration
}

// RunIncubatorIfRequested turns this process into a session incubator if
// it was started as one, and never returns in that case. Call it first
// thing in main (and in TestMain of packages that start sessions).
func RunIncubatorIfRequested() {
	if len(os.Args) == 0 || os.Args[0] != IncubatorArg0 {
		return
	}
	err := incubate()
	// Only reached on failure: the shell replaced us otherwise. The message
	// goes to the daemon's log (stderr is its pipe); the client is told
	// only that the session cannot start.
	fmt.Fprintf(os.Stderr, "tlntsvr: cannot start the session: %v\n", err)
	os.Exit(126)
}

func incubate() error {
	// Keep to one thread so the signal mask set below is the one exec sees.
	runtime.LockOSThread()

	ready := os.NewFile(readyFD, "ready")
	f := os.NewFile(specFD, "spec")
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var spec incubatorSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if err := closeInherited(); err != nil {
		return err
	}
	if err := clearInheritableCaps(); err != nil {
		return err
	}

	if err := limitProcesses(spec.NProc); err != nil {
		return err
	}
	if spec.Drop {
		if err := dropPrivileges(spec.UID, spec.GID, spec.Groups); err != nil {
			return err
		}
	}
	if err := assertIdentity(spec.UID, spec.GID, spec.Groups, spec.Drop); err != nil {
		return err
	}

	env := spec.Env
	if err := os.Chdir(spec.Home); err != nil {
		// What login(1) does: carry on in / and say so.
		fmt.Fprintf(os.Stdout, "No directory %s, logging in with HOME=/\r\n", spec.Home)
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("chdir /: %w", err)
		}
		env = setEnv(env, "HOME", "/")
	}

	resetSignals()
	// The host's login umask, not the daemon's: a daemon started by hand
	// with umask 000 would otherwise make its users' files world-writable.
	unix.Umask(spec.Umask)

	// The daemon's Start returns now; a failure from here on ends the
	// session with the same one line to the client.
	if _, err := ready.Write([]byte{1}); err != nil {
		return fmt.Errorf("tell the daemon: %w", err)
	}
	ready.Close()

	if spec.LoginScript != "" {
		if err := runLoginScript(spec.LoginScript, env, spec.LoginScriptTimeout); err != nil {
			return err
		}
	}

	// A leading '-' in argv[0] makes it a login shell (reads the profile).
	argv0 := "-" + filepath.Base(spec.Shell)
	return execOnTerminal(spec.Shell, []string{argv0}, env)
}

// execOnTerminal execs the shell with the terminal as its stderr too. Our
// stderr, the daemon's pipe, is kept aside (close-on-exec) so that an exec
// that fails is still reported there, and nowhere else.
func execOnTerminal(path string, argv, env []string) error {
	report, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return fmt.Errorf("keep the report pipe: %w", err)
	}
	if err := unix.Dup3(1, 2, 0); err != nil {
		return fmt.Errorf("terminal as stderr: %w", err)
	}
	err = syscall.Exec(path, argv, env)
	unix.Dup3(report, 2, 0)
	return fmt.Errorf("exec %s: %w", path, err)
}

// closeInherited keeps every descriptor but the terminal (0, 1, 2) from
// the shell and the login script. The daemon's own are close-on-exec
// already; this is for those it inherited without the flag (a file a
// wrapper script left open, a pipe of a service manager other than
// systemd), which would otherwise reach every user. They are marked
// close-on-exec rather than closed: Go's runtime owns some until exec.
func closeInherited() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Before Linux 5.11: one descriptor at a time.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("close inherited descriptors: %v; %w", err, rerr)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
	return nil
}

// clearInheritableCaps keeps a daemon run without root but with a
// capability (CAP_NET_BIND_SERVICE for port 23, as an ambient capability)
// from handing it to every program its users run: ambient capabilities
// survive exec. (A root daemon's setuid to the account clears them
// itself.)
func clearInheritableCaps() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if data[0].Inheritable == 0 && data[1].Inheritable == 0 {
		return nil
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	return nil
}

// limitProcesses lowers RLIMIT_NPROC (soft and hard, so the user cannot
// raise it again) to n, never raising it. The kernel checks it at fork and,
// after the setuid, at exec: an account already at its limit gets no new
// session, and the daemon, as root, is not bound by it.
func limitProcesses(n uint64) error {
	if n == 0 {
		return nil
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &rl); err != nil {
		return fmt.Errorf("getrlimit NPROC: %w", err)
	}
	rl.Cur, rl.Max = min(rl.Cur, n), min(rl.Max, n)
	if err := unix.Setrlimit(unix.RLIMIT_NPROC, &rl); err != nil {
		return fmt.Errorf("setrlimit NPROC %d: %w", n, err)
	}
	return nil
}

// dropPrivileges switches every thread of this process to the account, in
// the order that still has the privilege for each step.
func dropPrivileges(uid, gid uint32, groups []uint32) error {
	gs := make([]int, len(groups))
	for i, g := range groups {
		gs[i] = int(g)
	}
	if err := syscall.Setgroups(gs); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(int(gid)); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(int(uid)); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// assertIdentity checks that the process really is the account now, and,
// for a non-root account, that root cannot be regained.
func assertIdentity(uid, gid uint32, groups []uint32, dropped bool) error {
	if r, e := os.Getuid(), os.Geteuid(); r != int(uid) || e != int(uid) {
		return fmt.Errorf("identity check: uid %d euid %d, want %d", r, e, uid)
	}
	if r, e := os.Getgid(), os.Getegid(); r != int(gid) || e != int(gid) {
		return fmt.Errorf("identity check: gid %d egid %d, want %d", r, e, gid)
	}
	if !dropped {
		return nil
	}
	have, err := os.Getgroups()
	if err != nil {
		return fmt.Errorf("identity check: getgroups: %w", err)
	}
	want := make([]int, len(groups))
	for i, g := range groups {
		want[i] = int(g)
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(have), slices.Compact(want)) {
		return fmt.Errorf("identity check: groups %v, want %v", have, want)
	}
	if uid != 0 {
		if err := syscall.Setuid(0); err == nil {
			return fmt.Errorf("identity check: setuid(0) succeeded after the drop")
		}
	}
	return nil
}

// resetSignals gives the shell default dispositions and an empty mask,
// whatever the daemon inherited (a daemon started with '&' from a script
// has SIGINT and SIGQUIT ignored, and ignored signals survive exec).
// Catching a signal makes exec reset it to the default, so catch them all.
func resetSignals() {
	var sigs []os.Signal
	for s := 1; s < 65; s++ {
		// 32 and 33 belong to the C library's and Go's thread machinery.
		if s == int(syscall.SIGKILL) || s == int(syscall.SIGSTOP) || s == 32 || s == 33 {
			continue
		}
		sigs = append(sigs, syscall.Signal(s))
	}
	signal.Notify(make(chan os.Signal, 1), sigs...)
	// Go's runtime leaves 32 and 33 alone (the C library's thread
	// signals), so an inherited SIG_IGN on them would survive exec: set
	// them to the default directly. Nothing after this point needs them.
	for _, sig := range []uintptr{32, 33} {
		var sa sigaction // zero: SIG_DFL, no flags, empty mask
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	}
	var none unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}

// sigaction is the kernel's struct sigaction on Linux.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}
