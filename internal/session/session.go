// Package session runs one logged-on user: a shell on a PTY as the user's
// OS account, the bridge between that PTY and the Telnet connection,
// window size and signals, and the teardown that leaves nothing behind.
package session

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/pty"
)

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
	Limits   Limits
	Logger   *slog.Logger

	// LoginScriptTimeout is how long the login script may run before the
	// session ends without a shell; 0 = no limit.
	LoginScriptTimeout time.Duration
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
	// report is what the incubator wrote on its stderr; not empty if it
	// failed after Start returned (the login script, the exec).
	report *incubatorReport
	// cg is the session's cgroup; nil where processes are tracked by
	// session ID.
	cg *sessionCgroup
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
	// taps see the output and resizes, input what is typed while the
	// terminal echoes (Observe).
	taps  []Tap
	input func(p []byte)
	// wakeArmed: Run is forwarding input, and wake may cut its reads
	// short; interrupted: it has (the session is ending).
	wakeMu      sync.Mutex
	wakeArmed   bool
	interrupted atomic.Bool
	// echoDue: client input went to the terminal since copyOut last
	// wrote a small first read at once (readOutput).
	echoDue atomic.Bool
	// writing: copyOut is in a write to the client. To a slow client one
	// write can take longer than drainTimeout; that is output flowing.
	writing atomic.Bool
}

// PID returns the shell's process ID (also its process group and session).
func (s *Session) PID() int { return s.pid }

// Leader names the session's Unix session (see Leader).
func (s *Session) Leader() Leader { return Leader{SID: s.pid, Start: s.shellStart, cgroup: s.cg} }

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
		for _, t := range s.taps {
			t.Resize(cols, rows)
		}
	})
	if len(typeahead) > 0 {
		s.writeInput(typeahead)
	}

	outDone := make(chan struct{})
	var clientGone bool // copyOut stopped because the client did; read after outDone
	s.armWake()
	go func() {
		// Last: Run reads outDone when it is woken.
		defer s.endInput()
		defer close(outDone)
		defer s.recoverPanic("output")
		clientGone = s.copyOut()
	}()
	stopWake := context.AfterFunc(ctx, s.endInput)
	defer stopWake()

	// Run's own goroutine forwards the client's input (a goroutine fewer
	// per session than waiting here for the others: stacks are most of
	// what an idle session costs). The shell's exit, copyOut's end and ctx
	// wake it from its read (wake); it then decides as a select on
	// them would have.
	in := newInput()
	reason := s.forward(ctx, in, outDone, &clientGone)
	s.disarmWake()
	if s.panicked.Load() {
		reason = ReasonError
	}
	if reason == ReasonExit && s.report.failed() {
		// The incubator failed after the login script began (the shell
		// could not be exec'd): the client is told as at logon.
		s.Notice(CannotStartMessage)
	}

	s.teardown(ctx, reason, outDone, in)
	return reason
}

// recoverPanic keeps a bug in one session's data path from taking the
// daemon down: the panic is logged and the goroutine ends, which ends the
// session like a disconnect.
func (s *Session) recoverPanic(where string) {
	if r := recover(); r != nil {
		s.logPanic(where, r)
	}
}

// logPanic records a recovered panic: logged with its stack, and the
// session ends with ReasonError.
func (s *Session) logPanic(where string, r any) {
	s.panicked.Store(true)
	s.log.Error("panic in session; ending it", "in", where, "panic", r, "stack", string(debug.Stack()))
}
