// Package session runs one logged-on user: a shell on a PTY as the user's
// OS account, the bridge between that PTY and the Telnet connection,
// window size and signals, and the teardown that leaves nothing behind.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/pty"
	"golang.org/x/sys/unix"
)

// Timings of the teardown. They are deadlines, not sleeps: each ends early
// when what it waits for happens.
const (
	// drainTimeout bounds how long output is still forwarded after the
	// shell exits while some background process keeps the terminal open.
	drainTimeout = 2 * time.Second
	// drainLimit bounds it in all, for a background process that keeps
	// writing.
	drainLimit = 30 * time.Second
	// killGrace is how long processes get between SIGHUP and SIGKILL.
	killGrace = 2 * time.Second
	// exitWait bounds the wait for a killed shell to be reaped. SIGKILL
	// takes effect at once unless the process sleeps uninterruptibly (a
	// hung NFS or FUSE mount, a stuck device); such a shell must not hold
	// its connection, registry entry and max_connections slot until then:
	// the goroutine waiting on it reaps it whenever it ends.
	exitWait = 10 * time.Second
	// closeTimeout bounds waiting for the client to close its side after
	// we closed ours, so the last output is not lost to a reset.
	closeTimeout = time.Second
	// lastWriteTimeout bounds the last write to the client when the
	// session ends.
	lastWriteTimeout = 5 * time.Second
	// bufSize is copyOut's batch: several PTY reads for one socket write.
	bufSize = 32 << 10
	// inBufSize is copyIn's own buffer, held for the session's whole
	// life: typing fits it many times over. Bulk input (a paste, a file
	// sent with a client's send command) gets a bufSize buffer from
	// bulkBufs while it lasts (see copyIn).
	inBufSize = 4 << 10
)

// ErrOtherAccount is returned when the daemon, not running as root, is
// asked to start a shell as an account other than its own.
var ErrOtherAccount = errors.New("the daemon is not running as root and can only start sessions as its own account")

// Spec describes the session to start.
type Spec struct {
	Account     Account
	Shell       string   // program to run; "" means the account's login shell, else /bin/sh
	LoginScript string   // run before the shell, as the account; "" for none
	Term        string   // TERM; "" means "dumb"
	ClientEnv   []string // allowlisted client variables, "NAME=value"
	Cols, Rows  int      // initial window size; 0 means 80x24
	// InSpeed and OutSpeed are the terminal speeds the client reported
	// (TSPEED), in bits per second; 0 leaves the terminal's default.
	InSpeed, OutSpeed int
	// Charset is the character set agreed with the client ("UTF-8" or
	// ""): with UTF-8 and no LANG from the client, LANG is C.UTF-8.
	Charset  string
	Stream   bool // stream mode: the terminal does not echo input
	EndTasks bool // end every process of the session when it ends
	Logger   *slog.Logger
}

// Reason says why a session ended.
type Reason string

const (
	ReasonExit       Reason = "exit"       // the shell exited
	ReasonDisconnect Reason = "disconnect" // the client went away
	ReasonEnded      Reason = "ended"      // ended by the server (admin kill, shutdown)
	ReasonLogout     Reason = "logout"     // the client asked to be logged out (Telnet LOGOUT)
	ReasonError      Reason = "error"      // a bug in the session's data path; logged with its stack
)

// ErrKilled, as the cause of the context Run is given, is an
// administrator's kill: every process of the session ends, as with
// Spec.EndTasks, whether or not that is set.
var ErrKilled = errors.New("session killed by an administrator")

// Session is a running shell on a PTY.
type Session struct {
	spec Spec
	log  *slog.Logger
	// conn is the client's connection, given to Start; Run closes it.
	conn *protocol.Conn
	pid  int // the shell's
	// shellStart is when the shell started (clock ticks after boot; 0 if
	// unknown): with pid, it names the session's Unix session (Leader).
	shellStart uint64
	master     *os.File
	// packet: the master is in packet mode (pty.SetPacketMode), so each
	// read starts with a status byte.
	packet bool
	exited chan struct{} // closed when the shell has been waited for
	// loggedOut: the client asked to be logged out (copyIn saw ErrLogout).
	loggedOut atomic.Bool
	// panicked: copyIn or copyOut panicked (recoverPanic logged it).
	panicked atomic.Bool
	// outMu orders copyOut's writes and notices; outTail is the end of
	// the output written so far when it is an unfinished escape sequence
	// or character (see notice.go).
	outMu   sync.Mutex
	outTail []byte
	status  error // the shell's exit status; valid after exited

	started  time.Time
	lastIn   atomic.Int64 // unix nanoseconds of the last client input
	lastOut  atomic.Int64 // unix nanoseconds of the last output forwarded
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	// writing: copyOut is in a write to the client. To a slow client one
	// write can take longer than drainTimeout; that is output flowing.
	writing atomic.Bool
}

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
	// /proc/self/exe, not os.Executable(): after a package upgrade has
	// replaced the file, a running daemon must start sessions with its own
	// (deleted) binary, never a different version.
	const exe = "/proc/self/exe"
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{IncubatorArg0},
		Env:        []string{}, // nothing of the daemon's environment
		Dir:        "/",
		Stdin:      slave,
		Stdout:     slave,
		Stderr:     slave,
		ExtraFiles: []*os.File{specR}, // becomes specFD
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:  true,
			Setctty: true,
			Ctty:    0,
		},
	}
	if err := cmd.Start(); err != nil {
		master.Close()
		specW.Close()
		return nil, fmt.Errorf("start session process: %w", err)
	}
	ispec := incubatorSpec{
		Drop: drop, UID: acct.UID, GID: acct.GID, Groups: groups,
		Home: acct.Home, Shell: shell, LoginScript: spec.LoginScript,
		Env:   buildEnv(acct, shell, spec.Term, withCharset(spec.ClientEnv, spec.Charset)),
		Umask: loginUmask(acct),
	}
	// The pipe buffer holds the spec, so this does not wait on the child.
	werr := json.NewEncoder(specW).Encode(ispec)
	specW.Close()
	if werr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
		return nil, fmt.Errorf("send session spec: %w", werr)
	}

	s := &Session{
		spec: spec, log: log, conn: conn, pid: cmd.Process.Pid, master: master, packet: packet,
		exited: make(chan struct{}), started: time.Now(),
	}
	// Our child, unreaped until waitExit: its PID cannot be reused yet.
	st, _ := readStat(s.pid)
	s.shellStart = st.start
	s.lastIn.Store(s.started.UnixNano())
	// The one place the shell is waited for, whatever ends the session.
	go func() {
		s.status = waitExit(cmd)
		close(s.exited)
	}()
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

// waitExit waits for the shell to exit and reaps it. cmd.Wait would hold
// an OS thread blocked in waitid for the session's whole life (with the
// runtime's stacks for it, 34 KiB more per session); a pidfd becomes
// readable when the process exits, so Go's poller waits on it as on a
// socket, without a thread.
func waitExit(cmd *exec.Cmd) error {
	pid := cmd.Process.Pid
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return cmd.Wait() // before Linux 5.10
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return cmd.Wait()
	}
	var ws syscall.WaitStatus
	var werr error
	err = rc.Read(func(uintptr) bool {
		var wpid int
		wpid, werr = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return wpid != 0 || (werr != nil && werr != syscall.EINTR) // 0: still running
	})
	if err != nil {
		// The poller could not take the pidfd (epoll_ctl failing, e.g.
		// at max_user_watches): wait the old way rather than not at all.
		return cmd.Wait()
	}
	if werr == nil {
		// Reaped here, not by cmd.Wait: let go of the handle (a pidfd of
		// its own since Go 1.23) now rather than at garbage collection.
		cmd.Process.Release()
	}
	switch {
	case werr != nil:
		return fmt.Errorf("wait for pid %d: %w", pid, werr)
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	case ws.ExitStatus() != 0:
		return fmt.Errorf("exit status %d", ws.ExitStatus())
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

// PID returns the shell's process ID (also its process group and session).
func (s *Session) PID() int { return s.pid }

// Leader names the session's Unix session (see Leader).
func (s *Session) Leader() Leader { return Leader{SID: s.pid, Start: s.shellStart} }

// Started returns when the session started.
func (s *Session) Started() time.Time { return s.started }

// LastInput returns when the client last sent data.
func (s *Session) LastInput() time.Time { return time.Unix(0, s.lastIn.Load()) }

// Bytes returns the data bytes received from and sent to the client.
func (s *Session) Bytes() (in, out int64) { return s.bytesIn.Load(), s.bytesOut.Load() }

// Resize sets the terminal's window size.
func (s *Session) Resize(cols, rows int) error { return pty.SetSize(s.master, cols, rows) }

// WindowSize returns the window size the client last reported (NAWS); ok
// is false if it has reported none.
func (s *Session) WindowSize() (cols, rows int, ok bool) { return s.conn.WindowSize() }

// Run bridges the PTY and the connection until the shell exits, the client
// goes, or ctx is cancelled; then it ends the session's processes (when
// EndTasks is set, or ctx was cancelled with ErrKilled), closes the
// connection and returns why it ended.
// typeahead is client data that arrived before the shell started.
func (s *Session) Run(ctx context.Context, typeahead []byte) Reason {
	s.conn.SetCommandHandler(s.command, protocol.NVTCommands()...)
	// A Synch: stop waiting on a terminal whose program does not read, so
	// copyIn gets to the data to be discarded (see writeInput).
	s.conn.SetUrgentHandler(func() { s.master.SetWriteDeadline(time.Now()) })
	defer s.conn.SetUrgentHandler(nil)
	if t, err := pty.Termios(s.master); err == nil {
		s.conn.SetFlowControl(flowControl(t))
	}
	s.conn.SetResizeHandler(func(cols, rows int) {
		if err := s.Resize(cols, rows); err != nil {
			s.log.Warn("resize failed", "err", err)
		}
	})
	if len(typeahead) > 0 {
		s.writeInput(typeahead)
	}

	outDone := make(chan struct{})
	var clientGone bool // copyOut stopped because the client did; read after outDone
	go func() {
		defer close(outDone)
		defer s.recoverPanic("output")
		clientGone = s.copyOut()
	}()
	inDone := make(chan struct{})
	go func() {
		defer close(inDone)
		defer s.recoverPanic("input")
		s.copyIn()
	}()

	var reason Reason
	select {
	case <-s.exited:
		reason = ReasonExit
		// Forward what the shell wrote before it exited. The read ends
		// with EIO once no process holds the terminal. While output
		// still flows (a slow client, a loaded machine) it goes on; a
		// background process that keeps the terminal open but quiet gets
		// drainTimeout, and one that keeps writing drainLimit.
		s.drain(outDone)
	case <-outDone:
		// Either the client stopped taking output, or no process holds
		// the terminal any more: the shell is exiting.
		reason = ReasonExit
		if clientGone {
			reason = ReasonDisconnect
		}
	case <-inDone:
		reason = ReasonDisconnect
		if s.loggedOut.Load() {
			reason = ReasonLogout
		}
	case <-ctx.Done():
		reason = ReasonEnded
	}
	if s.panicked.Load() {
		reason = ReasonError
	}

	endAll := s.spec.EndTasks || errors.Is(context.Cause(ctx), ErrKilled)
	if endAll {
		s.endTasks()
	}
	// Closing the master hangs the terminal up (SIGHUP to what is left
	// when tasks are not ended) and ends copyOut, once its last write is
	// done: a client that has stopped reading gets lastWriteTimeout to
	// take it, so the session still ends.
	s.master.Close()
	s.conn.NetConn().SetWriteDeadline(time.Now().Add(lastWriteTimeout))
	<-outDone
	s.closeConn()
	<-inDone
	s.conn.Close()
	status := "still running (end_tasks_on_disconnect is off)"
	if endAll {
		status = "not gone after SIGKILL (in uninterruptible sleep: a hung file system or device?); reaped when it ends"
		t := time.NewTimer(exitWait)
		select {
		case <-s.exited:
		case <-t.C:
			s.log.Warn("session ended, but its shell did not exit after SIGKILL", "pid", s.pid, "waited", exitWait)
		}
		t.Stop()
	}
	select {
	case <-s.exited:
		status = fmt.Sprint(s.status)
	default:
	}
	s.log.Debug("session ended", "reason", reason, "shell", status)
	return reason
}

// recoverPanic keeps a bug in one session's data path from taking the
// daemon down: the panic is logged and the goroutine ends, which ends the
// session like a disconnect.
func (s *Session) recoverPanic(where string) {
	if r := recover(); r != nil {
		s.panicked.Store(true)
		s.log.Error("panic in session; ending it", "in", where, "panic", r, "stack", string(debug.Stack()))
	}
}

// drain waits for copyOut to finish after the shell has exited, for as
// long as output keeps coming: drainTimeout of silence (no write to the
// client in progress or ended within it), or drainLimit in all, ends the
// wait.
func (s *Session) drain(outDone <-chan struct{}) {
	limit := time.NewTimer(drainLimit)
	defer limit.Stop()
	tick := time.NewTicker(drainTimeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-outDone:
			return
		case <-limit.C:
			return
		case <-tick.C:
			if !s.writing.Load() && time.Since(time.Unix(0, s.lastOut.Load())) >= drainTimeout {
				return
			}
		}
	}
}

// bulkBufs holds copyOut's read buffers, and copyIn's during bulk input. A
// buffer is taken when the PTY has output to read (or a read of input
// filled copyIn's small buffer) and given back when the flow stops, so an
// idle session holds none of them.
var bulkBufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyOut forwards PTY output to the client: large reads, and one write
// for what they bring. It reports whether it stopped because writing to
// the client failed.
func (s *Session) copyOut() (clientGone bool) {
	rc, err := s.master.SyscallConn()
	if err != nil {
		return false
	}
	var buf *[]byte
	defer func() {
		if buf != nil {
			bulkBufs.Put(buf)
		}
	}()
	for {
		var n int
		var status byte
		var rerr error
		// rc.Read calls the function again each time the PTY becomes
		// readable, until it returns true; it fails once Run closes the
		// master.
		err := rc.Read(func(fd uintptr) bool {
			if buf == nil {
				buf = bulkBufs.Get().(*[]byte)
			}
			n, status, rerr = s.readOutput(int(fd), *buf)
			if n == 0 && status == 0 && rerr == nil {
				bulkBufs.Put(buf) // nothing ready: wait without a buffer
				buf = nil
				return false
			}
			return true
		})
		if n > 0 {
			s.writing.Store(true)
			werr := s.writeOutput((*buf)[:n])
			// lastOut first, so drain sees at least one of the two.
			s.lastOut.Store(time.Now().UnixNano())
			s.writing.Store(false)
			if werr != nil {
				return true
			}
			s.bytesOut.Add(int64(n))
		}
		if status != 0 {
			s.ptyStatus(status)
		}
		if err != nil || rerr != nil {
			return false // EIO: every process closed the terminal; or closed by Run
		}
	}
}

// readOutput reads what the terminal has ready into buf, in several reads
// if need be (it hands out at most about 4 KiB a read), so that one socket
// write carries it all. In packet mode every read starts with a status
// byte: 0 before data, and dropped; else a status, which ends the batch and
// is returned. n == 0 with no status and no error: nothing was ready.
func (s *Session) readOutput(fd int, buf []byte) (n int, status byte, err error) {
	for len(buf)-n >= 4096 {
		m, err := unix.Read(fd, buf[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, 0, nil
		case err != nil:
			return n, 0, err
		case m == 0:
			return n, 0, io.EOF
		}
		if s.packet {
			if buf[n] != 0 {
				return n, buf[n], nil
			}
			copy(buf[n:], buf[n+1:n+m])
			m--
		}
		n += m
	}
	return n, 0, nil
}

// ptyStatus acts on a packet-mode status byte: the program turned XON/XOFF
// flow control on or off, so the client is told to handle ^S and ^Q itself
// or to send them on (LFLOW, if it agreed to be told).
func (s *Session) ptyStatus(status byte) {
	switch {
	case status&unix.TIOCPKT_DOSTOP != 0:
		s.conn.SetFlowControl(true)
	case status&unix.TIOCPKT_NOSTOP != 0:
		s.conn.SetFlowControl(false)
	}
}

// flowControl reports whether the terminal does XON/XOFF flow control with
// ^S and ^Q, the kernel's own test for TIOCPKT_DOSTOP.
func flowControl(t *unix.Termios) bool {
	return t.Iflag&unix.IXON != 0 && t.Cc[unix.VSTOP] == 0x13 && t.Cc[unix.VSTART] == 0x11
}

// copyIn forwards client data to the PTY. It keeps reading after the PTY
// is gone, so the connection is drained until the client closes it.
//
// It reads into a small buffer of its own, and into a large one from
// bulkBufs while reads bring at least half the small one's size, as a
// read that filled it does even if every byte came as a doubled IAC
// (typing never does): an idle session keeps 4 KiB, bulk input still
// moves in large reads, and as much of it is held here as before, which
// matters to a Synch sent behind it (see writeInput).
func (s *Session) copyIn() {
	small := make([]byte, inBufSize)
	var large *[]byte
	defer func() {
		if large != nil {
			bulkBufs.Put(large)
		}
	}()
	buf := small
	ptyOK := true
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.lastIn.Store(time.Now().UnixNano())
			s.bytesIn.Add(int64(n))
			if ptyOK {
				ptyOK = s.writeInput(buf[:n])
			}
		}
		switch bulk := n >= len(small)/2; {
		case bulk && large == nil:
			large = bulkBufs.Get().(*[]byte)
			buf = *large
		case !bulk && large != nil:
			bulkBufs.Put(large)
			large, buf = nil, small
		}
		if err != nil {
			if errors.Is(err, protocol.ErrLogout) {
				s.loggedOut.Store(true)
			}
			return
		}
	}
}

// blockedInput is how long a write of client data to the terminal may
// block before we check for a Synch the kernel could not announce (its
// urgent byte waits behind the data we are not reading).
const blockedInput = 250 * time.Millisecond

// writeInput writes client data to the terminal and reports whether the
// terminal is still there. A write blocked behind a program that does not
// read is cut short when the client sends a Synch: Conn's urgent handler
// sets a past deadline, and the blockedInput deadline catches the Synchs
// the kernel cannot announce yet. If urgent data is then ahead of us, what
// is left of the write came before the mark and is discarded (RFC 854),
// as Read discards the rest up to the DM; else the write goes on.
func (s *Session) writeInput(p []byte) bool {
	for len(p) > 0 {
		s.master.SetWriteDeadline(time.Now().Add(blockedInput))
		n, err := s.master.Write(p)
		p = p[n:]
		if err == nil {
			return true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		if s.conn.UrgentPending() {
			return true
		}
	}
	return true
}

// closeConn closes our side first and waits (bounded) for the client to
// close its side: closing a socket with unread input makes the kernel send
// a reset, which can destroy the last output in flight.
func (s *Session) closeConn() {
	nc := s.conn.NetConn()
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(closeTimeout))
		return // copyIn drains until EOF or the deadline; Run then closes
	}
	nc.Close()
}

// command carries out an NVT command (RFC 854, RFC 1184) on the terminal,
// in its place among the client's data: copyIn has written what came
// before it. Interrupt Process, Break/Abort and Suspend signal the
// foreground process group; Abort Output discards pending output;
// Erase Character, Erase Line and End of File are the terminal's own
// characters for them, so the line discipline acts as if they were typed.
func (s *Session) command(cmd byte) {
	switch cmd {
	case protocol.IP:
		s.interrupt(unix.SIGINT, unix.VINTR)
	case protocol.BRK, protocol.ABORT:
		s.interrupt(unix.SIGQUIT, unix.VQUIT)
	case protocol.SUSP:
		s.interrupt(unix.SIGTSTP, unix.VSUSP)
	case protocol.AO:
		// What the program wrote and we have not sent is dropped here; the
		// Synch makes the client drop what is already on its way.
		if err := pty.FlushOutput(s.master); err != nil {
			s.log.Debug("abort output: flush", "err", err)
		}
		s.conn.SendSynch()
	case protocol.EC:
		s.typeChar(unix.VERASE)
	case protocol.EL:
		s.typeChar(unix.VKILL)
	case protocol.EOF:
		s.typeChar(unix.VEOF)
	}
}

// interrupt sends sig to the foreground process group, flushing pending
// input and output first unless the terminal has NOFLSH, as the line
// discipline does for a typed interrupt character. A program that turned
// ISIG off reads the keyboard raw (an editor, ssh, tmux, a nested telnet)
// and gets the character instead: what the key would have done.
func (s *Session) interrupt(sig unix.Signal, cc int) {
	t, err := pty.Termios(s.master)
	if err != nil {
		s.log.Debug("interrupt: terminal attributes", "err", err)
		return
	}
	if t.Lflag&unix.ISIG == 0 {
		s.typeChar(cc)
		return
	}
	if t.Lflag&unix.NOFLSH == 0 {
		pty.FlushInput(s.master)
		pty.FlushOutput(s.master)
	}
	if err := pty.Signal(s.master, sig); err != nil {
		s.log.Debug("interrupt: signal", "err", err)
	}
}

// typeChar writes the terminal's character cc (read now: programs change
// them), unless it is disabled.
func (s *Session) typeChar(cc int) {
	t, err := pty.Termios(s.master)
	if err != nil {
		return
	}
	if c := t.Cc[cc]; c != 0 { // 0 is _POSIX_VDISABLE on Linux
		s.writeInput([]byte{c})
	}
}

// endTasks ends every process of the session: the shell's session ID is
// its PID, and every job it started keeps that session ID even when it has
// a process group of its own. SIGHUP first, then SIGKILL for whatever is
// still there when killGrace has passed, or sooner, once all that is left
// ignores SIGHUP.
//
// The processes are found by their session ID in all of /proc, never by
// following the shell's children: a job started as `(cmd &)`, or a server
// started by a script that has returned, belongs to init while still in
// the session, and so do all the shell's children once it has exited
// (perhaps not yet reaped: a zombie has no children any more). Each signal
// goes out right after the scan that checked the PID is in the session, so
// a PID reused by another process meanwhile is not hit.
func (s *Session) endTasks() {
	sid := s.PID()
	pids := sessionMembers(sid)
	if len(pids) == 0 {
		// Only a member can bring a process into a session (by fork), so
		// none can appear now.
		return
	}
	signalAll(s.Leader(), pids, syscall.SIGHUP)
	// A stopped job must run to see SIGHUP; each PID, since jobs have
	// process groups of their own.
	signalAll(s.Leader(), pids, syscall.SIGCONT)
	graceEnd := time.Now().Add(killGrace)
	t := time.NewTimer(killGrace)
	select {
	case <-s.exited:
	case <-t.C:
	}
	t.Stop()
	// The shell usually goes at once; a job may still be in its SIGHUP
	// handler (an editor writing its recovery file), and gets the rest of
	// the grace to finish. What ignores SIGHUP (nohup) is not waited for:
	// it will not end by itself, and the client waits for the session to
	// end.
	for time.Now().Before(graceEnd) && slices.ContainsFunc(sessionMembers(sid), heedsHangup) {
		time.Sleep(20 * time.Millisecond)
	}
	// Scan again each round, for what was forked since; and wait (briefly)
	// until the killed are gone, so that when the session is over,
	// nothing of it is still running.
	deadline := time.Now().Add(time.Second)
	for {
		left := sessionMembers(sid)
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
		signalAll(s.Leader(), left, syscall.SIGKILL)
		time.Sleep(5 * time.Millisecond)
	}
}
