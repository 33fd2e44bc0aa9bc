package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/pty"
	"golang.org/x/sys/unix"
)

// ErrOtherAccount is returned when the daemon, not running as root, is
// asked to start a shell as an account other than its own.
var ErrOtherAccount = errors.New("the daemon is not running as root and can only start sessions as its own account")

// Start opens a PTY and starts the incubator, which becomes the account
// and execs the shell, for the client on conn.
func Start(conn *protocol.Conn, spec Spec) (*Session, error) {
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	acct := spec.Account
	drop := os.Geteuid() == 0
	if !drop && uint32(os.Geteuid()) != acct.UID {
		return nil, fmt.Errorf("start session for %q (uid %d): %w", acct.Name, acct.UID, ErrOtherAccount)
	}
	shell := spec.Shell
	if shell == "" {
		shell = acct.Shell
	}
	if shell == "" {
		shell = "/bin/sh"
	}
	groups := acct.Groups
	if len(groups) == 0 {
		groups = []uint32{acct.GID}
	}
	cols, rows := spec.Cols, spec.Rows
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}

	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	if err := ownTerminal(slave, acct); err != nil {
		if drop {
			master.Close()
			return nil, err
		}
		// Without root the terminal is already the account's (ours);
		// only the tty group may be out of reach.
		log.Debug("terminal left as opened", "err", err)
	}
	if err := pty.SetSize(master, cols, rows); err != nil {
		master.Close()
		return nil, fmt.Errorf("set window size: %w", err)
	}
	if spec.Stream {
		if err := disableEcho(slave); err != nil {
			master.Close()
			return nil, err
		}
	}
	if spec.InSpeed > 0 && spec.OutSpeed > 0 {
		// Only reported to programs: a failure costs nothing else.
		if err := pty.SetSpeed(master, spec.InSpeed, spec.OutSpeed); err != nil {
			log.Warn("set terminal speed", "err", err)
		}
	}
	// Packet mode tells us when the program turns XON/XOFF on or off, so
	// the client can be told to handle ^S/^Q itself or to send them.
	packet := pty.SetPacketMode(master) == nil

	specR, specW, err := os.Pipe()
	if err != nil {
		master.Close()
		return nil, err
	}
	defer specR.Close()
	// The incubator's stderr is a pipe to us, not the terminal, until just
	// before it execs the shell: whatever it or the Go runtime writes
	// there (an error, a crash's registers and stack, from a process that
	// may still be root) goes to the daemon's log, never to the client.
	// readyW tells us it has become the account and is about to run the
	// login script and the shell.
	reportR, reportW, err := os.Pipe()
	if err != nil {
		master.Close()
		specW.Close()
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		master.Close()
		specW.Close()
		reportR.Close()
		reportW.Close()
		return nil, err
	}
	defer readyR.Close()
	// /proc/self/exe, not os.Executable(): after a package upgrade has
	// replaced the file, a running daemon must start sessions with its own
	// (deleted) binary, never a different version.
	const exe = "/proc/self/exe"
	newCmd := func() *exec.Cmd {
		return &exec.Cmd{
			Path:       exe,
			Args:       []string{IncubatorArg0},
			Env:        []string{}, // nothing of the daemon's environment
			Dir:        "/",
			Stdin:      slave,
			Stdout:     slave,
			Stderr:     reportW,
			ExtraFiles: []*os.File{specR, readyW}, // become specFD and readyFD
			SysProcAttr: &syscall.SysProcAttr{
				Setsid:  true,
				Setctty: true,
				Ctty:    0,
			},
		}
	}
	var cg *sessionCgroup
	if h := hostCgroup(log); h != nil {
		if cg, err = h.newSession(spec.Limits, ceiling); err != nil {
			log.Warn("no cgroup for this session: its processes are tracked by session ID", "err", err)
			cg = nil
		}
	}
	cmd := newCmd()
	if cg != nil {
		// Born in its cgroup (clone3), so nothing it starts is ever
		// outside it.
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cg.fd
	}
	err = cmd.Start()
	if err != nil && cg != nil {
		// clone3 refused (a kernel before 5.7, a seccomp filter): start
		// it as before, tracked by session ID.
		log.Warn("cannot start the session in its cgroup: its processes are tracked by session ID", "err", err)
		cg.remove()
		cg = nil
		cmd = newCmd()
		err = cmd.Start()
	}
	reportW.Close()
	readyW.Close()
	if err != nil {
		master.Close()
		specW.Close()
		reportR.Close()
		return nil, fmt.Errorf("start session process: %w", err)
	}
	if cg != nil {
		cg.started()
	}
	rep := readReport(reportR, log)
	// failed ends what Start began when the incubator did not get ready.
	failed := func() error {
		cmd.Process.Kill()
		werr := cmd.Wait()
		master.Close()
		<-rep.done
		if cg != nil {
			cg.kill(time.Second)
			cg.remove()
		}
		return werr
	}
	if testHookIncubatorStarted != nil {
		testHookIncubatorStarted(cmd.Process.Pid)
	}
	ispec := incubatorSpec{
		Drop: drop, UID: acct.UID, GID: acct.GID, Groups: groups,
		Home: acct.Home, Shell: shell, LoginScript: spec.LoginScript, LoginScriptTimeout: spec.LoginScriptTimeout,
		Env:   buildEnv(acct, shell, spec.Term, withCharset(spec.ClientEnv, spec.Charset)),
		Umask: loginUmask(acct),
	}
	if drop && acct.UID != 0 && (cg == nil || !cg.host.controllers["pids"]) {
		// No pids controller: the account's process limit instead. It
		// counts every process of the account, so it is set to what the
		// account runs now plus this session's share: the session may
		// start its tasks, and an account's tenth session is not refused
		// for the nine before it.
		if n := spec.Limits.tasks(ceiling); n > 0 {
			ispec.NProc = uint64(n + accountProcesses(acct.UID))
		}
	}
	// The pipe buffer holds the spec, so this does not wait on the child.
	werr := json.NewEncoder(specW).Encode(ispec)
	specW.Close()
	if werr != nil {
		failed()
		return nil, fmt.Errorf("send session spec: %w", werr)
	}
	if err := waitReady(readyR); err != nil {
		werr := failed()
		return nil, fmt.Errorf("session process failed before the shell: %v (%v): %s", err, werr, rep.summary())
	}

	s := &Session{
		spec: spec, log: log, conn: conn, pid: cmd.Process.Pid, master: master, packet: packet,
		exited: make(chan struct{}), started: time.Now(), report: rep, cg: cg,
	}
	// Our child, unreaped until watchExit reaps it: its PID cannot be
	// reused yet.
	st, _ := readStat(s.pid)
	s.shellStart = st.start
	s.lastIn.Store(s.started.UnixNano())
	// The one place the shell is waited for, whatever ends the session.
	watchExit(cmd, s.shellExited)
	return s, nil
}

// ownTerminal gives the terminal to the account, writable by the tty group,
// as grantpt(3) and login(1) do: programs that check or reopen their
// terminal (screen, pinentry through GPG_TTY, mesg and write) fail on one
// that root owns with mode 0600. Nothing needs giving back: a devpts node
// goes away with its master.
func ownTerminal(tty *os.File, acct Account) error {
	gid := int(acct.GID) // a host without a tty group: as grantpt(3)
	if g, err := user.LookupGroup("tty"); err == nil {
		if id, err := strconv.Atoi(g.Gid); err == nil {
			gid = id
		}
	}
	if err := tty.Chown(int(acct.UID), gid); err != nil {
		return fmt.Errorf("give the terminal to %s: %w", acct.Name, err)
	}
	if err := tty.Chmod(0o620); err != nil {
		return fmt.Errorf("give the terminal to %s: %w", acct.Name, err)
	}
	return nil
}

// buildEnv makes the shell's environment from scratch: nothing of the
// daemon's, and of the client's only what the allowlist let through.
func buildEnv(acct Account, shell, term string, clientEnv []string) []string {
	if term == "" {
		term = "dumb"
	}
	path := "/usr/local/bin:/usr/bin:/bin:/usr/games"
	if acct.UID == 0 {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	fixed := map[string]bool{"HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "PATH": true, "TERM": true}
	env := []string{
		"HOME=" + acct.Home, "USER=" + acct.Name, "LOGNAME=" + acct.Name,
		"SHELL=" + shell, "PATH=" + path, "TERM=" + term,
	}
	for _, kv := range clientEnv {
		name, _, ok := strings.Cut(kv, "=")
		if ok && !fixed[name] {
			env = append(env, kv)
		}
	}
	return env
}

// withCharset adds LANG=C.UTF-8 when the client agreed to UTF-8 through
// CHARSET and did not send a LANG of its own: programs then read and write
// UTF-8, as the client does.
func withCharset(clientEnv []string, charset string) []string {
	if charset != "UTF-8" {
		return clientEnv
	}
	for _, kv := range clientEnv {
		if strings.HasPrefix(kv, "LANG=") {
			return clientEnv
		}
	}
	return append(slices.Clip(clientEnv), "LANG=C.UTF-8")
}

func disableEcho(tty *os.File) error {
	t, err := pty.Termios(tty)
	if err != nil {
		return fmt.Errorf("get terminal attributes: %w", err)
	}
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL
	if err := pty.SetTermios(tty, t); err != nil {
		return fmt.Errorf("set terminal attributes: %w", err)
	}
	return nil
}
