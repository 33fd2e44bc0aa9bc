package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// Sessions re-execute this test binary as their incubator.
	RunIncubatorIfRequested()
	code := m.Run()
	if host != nil {
		// What a test left running with EndTasks off has been killed.
		host.sweep()
	}
	os.Exit(code)
}

// self is the account running the tests: a session can always be started
// for it, root or not.
func self(t *testing.T) Account {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	a, err := LookupAccount(u.Username)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// peer is the client end of a loopback TCP connection whose server end is
// a protocol.Conn.
type peer struct {
	nc  net.Conn
	out testutil.LockedBuffer
	eof chan struct{}
}

func connPair(t *testing.T) (*protocol.Conn, *peer) {
	t.Helper()
	return connPairWrapped(t, func(c net.Conn) net.Conn { return c })
}

// connPairWrapped is connPair with the server end passed through wrap
// first (to inject faults).
func connPairWrapped(t *testing.T, wrap func(net.Conn) net.Conn) (*protocol.Conn, *peer) {
	t.Helper()
	cc, sc := tcpPair(t)
	p := &peer{nc: cc, eof: make(chan struct{})}
	go func() {
		defer close(p.eof)
		buf := make([]byte, 4096)
		for {
			n, err := cc.Read(buf)
			p.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return protocol.NewConn(wrap(sc), protocol.Config{}), p
}

// tcpPair returns the two ends of a loopback TCP connection, closed at
// the end of the test.
func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func (p *peer) output() string { return p.out.String() }

// waitOutput waits until the client has received s.
func (p *peer) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; got %q", s, p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, conn *protocol.Conn, spec Spec) *Session {
	t.Helper()
	if spec.Account.Name == "" {
		spec.Account = self(t)
	}
	if spec.Shell == "" {
		spec.Shell = "/bin/sh"
	}
	s, err := Start(conn, spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runAsync(s *Session, ctx context.Context, typeahead []byte) <-chan Reason {
	ch := make(chan Reason, 1)
	go func() { ch <- s.Run(ctx, typeahead) }()
	return ch
}

func waitReason(t *testing.T, ch <-chan Reason) Reason {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end")
		return ""
	}
}

// The shell gets the terminal type, window size and a fresh environment,
// and every byte it writes before exiting reaches the client.
func TestShellSeesTermSizeAndEnv(t *testing.T) {
	conn, p := connPair(t)
	s := start(t, conn, Spec{Term: "vt100", Cols: 50, Rows: 20, ClientEnv: []string{"LANG=C.UTF-8", "TERM=evil"}})
	done := runAsync(s, context.Background(),
		[]byte("stty size; echo T=$TERM; env | sort | tr '\\n' ' '; echo; seq 1 5000; exit\n"))
	if r := waitReason(t, done); r != ReasonExit {
		t.Errorf("reason = %q, want exit", r)
	}
	<-p.eof
	out := p.output()
	for _, want := range []string{"20 50", "T=vt100", "LANG=C.UTF-8", "\r\n4999\r\n5000\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "evil") {
		t.Error("client TERM variable overrode the negotiated terminal type")
	}
	if got := sessionMembers(s.PID()); len(got) != 0 {
		t.Errorf("processes left in the session: %v", got)
	}
}

// The login script runs before the shell, on the same terminal.
func TestLoginScriptRunsFirst(t *testing.T) {
	dir := t.TempDir()
	script := dir + "/login.sh"
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho SCRIPT-RAN-AS-$(id -un)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	conn, p := connPair(t)
	s := start(t, conn, Spec{LoginScript: script})
	done := runAsync(s, context.Background(), []byte("echo SHELL$((1+1)); exit\n"))
	waitReason(t, done)
	<-p.eof
	out := p.output()
	i, j := strings.Index(out, "SCRIPT-RAN-AS-"+self(t).Name), strings.Index(out, "SHELL2")
	if i < 0 || j < 0 || i > j {
		t.Errorf("want the login script's line before the shell's:\n%q", out)
	}
}

// loginScript writes a login script the session's account can run.
func loginScript(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	script := dir + "/login.sh"
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// Ctrl-C, and Telnet's Interrupt Process, typed while the login script
// runs do not cut it short (the shell would start early): the script runs
// to its end with its signals at their defaults, and the shell gets the
// signal keys back.
func TestLoginScriptCannotBeInterrupted(t *testing.T) {
	script := loginScript(t, "echo SCRIPT-START$((1+1)); sleep 1; echo SCRIPT-END$((2+2))\n")
	conn, p := connPair(t)
	s := start(t, conn, Spec{LoginScript: script, LoginScriptTimeout: time.Minute})
	done := runAsync(s, context.Background(), nil)
	p.waitOutput(t, "SCRIPT-START2")
	p.nc.Write([]byte{0x03, 0x1c, 255, 244}) // Ctrl-C, Ctrl-\, IAC IP
	p.waitOutput(t, "SCRIPT-END4")
	// What was typed reaches the shell as characters: a line of its own.
	p.nc.Write([]byte("\necho ISIG=$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*isig'); exit\n"))
	waitReason(t, done)
	<-p.eof
	if out := p.output(); !strings.Contains(out, "ISIG=isig") {
		t.Errorf("the shell has not got its signal keys back:\n%q", out)
	}
}

// A login script that outlives its deadline is killed and the session
// ends without a shell: waiting must not be a way around the script.
func TestLoginScriptDeadline(t *testing.T) {
	script := loginScript(t, "echo SCRIPT-START$((1+1)); sleep 100\n")
	conn, p := connPair(t)
	s := start(t, conn, Spec{LoginScript: script, LoginScriptTimeout: 500 * time.Millisecond})
	done := runAsync(s, context.Background(), []byte("echo SHELL$((2+3))\n"))
	waitReason(t, done)
	<-p.eof
	out := p.output()
	// The reason goes to the daemon's log; the client gets the one line
	// every session that cannot start gets.
	if !strings.Contains(out, CannotStartMessage) || strings.Contains(out, "SHELL5") {
		t.Errorf("want the session ended at the deadline, no shell:\n%q", out)
	}
}

// When the client goes, every process of the session ends, background
// jobs included, and the shell is reaped.
func TestDisconnectEndsSessionProcesses(t *testing.T) {
	s, _ := disconnectAfter(t, "sleep 1000 & sleep 1001 & echo STARTED$((2+2))\n", "STARTED4")
	select {
	case <-s.exited:
	default:
		t.Error("shell not reaped")
	}
}

// Cancelling the context (an admin kill, shutdown) ends the session.
func TestCancelEndsSession(t *testing.T) {
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(s, ctx, []byte("echo UP$((3+3)); sleep 1000\n"))
	p.waitOutput(t, "UP6")
	cancel()
	if r := waitReason(t, done); r != ReasonEnded {
		t.Errorf("reason = %q, want ended", r)
	}
	<-p.eof // the connection was closed
	if got := sessionMembers(s.PID()); len(got) != 0 {
		t.Errorf("processes left in the session: %v", got)
	}
}

// Run's goroutine is the one that writes input to the terminal: stuck in
// that write behind a program that does not read, it still ends the
// session when told (an admin kill), and promptly.
func TestCancelEndsSessionWithInputBlocked(t *testing.T) {
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(s, ctx, []byte("stty -icanon -echo min 1; echo UP$((3+4)); sleep 1000\n"))
	p.waitOutput(t, "UP7")
	waitForChild(t, s, "sleep")
	before, _ := s.Bytes()
	go p.nc.Write(bytes.Repeat([]byte("a"), 150<<10)) // more than the terminal takes
	deadline := time.Now().Add(10 * time.Second)
	for in, _ := s.Bytes(); in == before; in, _ = s.Bytes() {
		if time.Now().After(deadline) {
			t.Fatal("the input never reached the session")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case r := <-done:
		if r != ReasonEnded {
			t.Errorf("reason = %q, want ended", r)
		}
	case <-time.After(killGrace + 3*time.Second):
		t.Fatal("the session did not end with its input blocked")
	}
}

// An administrator's kill (ErrKilled as the cause) ends every process of
// the session even with EndTasks off; a plain cancel (an idle timeout)
// then leaves what ignores the hangup running, as a disconnect does.
func TestKillEndsTasksWithoutEndTasks(t *testing.T) {
	for _, c := range []struct {
		cause    error
		wantLeft bool
	}{{ErrKilled, false}, {nil, true}} {
		conn, p := connPair(t)
		s := start(t, conn, Spec{EndTasks: false})
		killLeftovers(t, s.PID())
		ctx, cancel := context.WithCancelCause(context.Background())
		done := runAsync(s, ctx, []byte("(trap '' HUP; echo IGNORING$((4+5)); exec sleep 787) &\n"))
		p.waitOutput(t, "IGNORING9") // the trap is set
		cancel(c.cause)
		if r := waitReason(t, done); r != ReasonEnded {
			t.Errorf("cause %v: reason = %q, want ended", c.cause, r)
		}
		if left := len(sessionMembers(s.PID())) > 0; left != c.wantLeft {
			t.Errorf("cause %v: processes left in the session: %v, want %v", c.cause, left, c.wantLeft)
		}
	}
}

// A descriptor the daemon inherited without close-on-exec (a file a
// wrapper script left open) does not reach the user's shell.
func TestInheritedDescriptorsDoNotReachShell(t *testing.T) {
	fd, err := syscall.Open("/etc/hostname", syscall.O_RDONLY, 0) // no O_CLOEXEC, as a parent would leave it
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	_, out := disconnectAfter(t, fmt.Sprintf(
		"if [ -e /proc/$$/fd/%d ]; then echo FD-LEAKED; else echo FD-CLOSED; fi; echo END$((5+5))\n", fd), "END10")
	if !strings.Contains(out, "FD-CLOSED\r\n") {
		t.Errorf("descriptor %d reached the shell:\n%s", fd, out)
	}
}

// Programs in the session start with default signal dispositions and an
// empty mask even when the daemon has SIGINT and SIGQUIT ignored.
func TestSignalsResetForShell(t *testing.T) {
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Reset(syscall.SIGINT, syscall.SIGQUIT)
	// Signal 32, which Go's runtime does not manage, inherited ignored
	// (seen under some process supervisors).
	ign := sigaction{handler: 1} // SIG_IGN
	var old sigaction
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, 32, uintptr(unsafe.Pointer(&ign)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	defer unix.RawSyscall6(unix.SYS_RT_SIGACTION, 32, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	conn, p := connPair(t)
	s := start(t, conn, Spec{})
	done := runAsync(s, context.Background(),
		[]byte("grep -E '^Sig(Ign|Blk)' /proc/self/status | tr -d '\\t'; exit\n"))
	waitReason(t, done)
	<-p.eof
	out := p.output()
	for _, want := range []string{"SigIgn:0000000000000000", "SigBlk:0000000000000000"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
}

// Stream mode: the terminal does not echo what the client sends.
func TestStreamModeNoEcho(t *testing.T) {
	conn, p := connPair(t)
	s := start(t, conn, Spec{Stream: true})
	done := runAsync(s, context.Background(), nil)
	io.WriteString(p.nc, "echo OUT$((7*6)); exit\n")
	waitReason(t, done)
	<-p.eof
	out := p.output()
	if !strings.Contains(out, "OUT42") || strings.Contains(out, "OUT$((7*6))") {
		t.Errorf("stream mode output %q: want the command's output without its echo", out)
	}
}

// The environment is built from scratch.
func TestBuildEnv(t *testing.T) {
	a := Account{Name: "alice", UID: 1000, Home: "/home/alice"}
	got := buildEnv(a, "/bin/bash", "", []string{"LANG=de_DE.UTF-8", "HOME=/tmp", "PATH=/evil"})
	want := []string{"HOME=/home/alice", "USER=alice", "LOGNAME=alice", "SHELL=/bin/bash",
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/games", "TERM=dumb", "LANG=de_DE.UTF-8"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("buildEnv = %q\nwant %q", got, want)
	}
}

// panicConn is a client connection whose Write panics once the data
// contains trigger: a stand-in for a bug in the output path.
type panicConn struct {
	net.Conn
	trigger []byte
}

func (c *panicConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, c.trigger) {
		panic("injected: output path bug")
	}
	return c.Conn.Write(p)
}

// A panic in a session's data path is recovered and logged, ends that
// session with reason "error", and ends its processes; the daemon (here,
// the test process) goes on and the next session works.
func TestPanicInDataPathEndsOnlyThatSession(t *testing.T) {
	conn, _ := connPairWrapped(t, func(c net.Conn) net.Conn {
		return &panicConn{Conn: c, trigger: []byte("BO" + "OM")}
	})

	var logs testutil.LockedBuffer
	s := start(t, conn, Spec{EndTasks: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := runAsync(s, context.Background(), []byte("sleep 300 & echo BO''OM; sleep 300\n"))
	if r := waitReason(t, done); r != ReasonError {
		t.Fatalf("reason %q, want %q", r, ReasonError)
	}
	if !strings.Contains(logs.String(), "panic in session") || !strings.Contains(logs.String(), "injected: output path bug") {
		t.Fatalf("the panic was not logged: %s", logs.String())
	}
	if err := unix.Kill(-s.PID(), 0); err != unix.ESRCH {
		t.Fatalf("the session's process group is still there (kill 0: %v)", err)
	}

	conn2, p := connPair(t)
	s2 := start(t, conn2, Spec{EndTasks: true})
	done2 := runAsync(s2, context.Background(), []byte("echo still$((1+1))here; exit\n"))
	p.waitOutput(t, "still2here")
	if r := waitReason(t, done2); r != ReasonExit {
		t.Fatalf("next session: reason %q, want %q", r, ReasonExit)
	}
}

// A session whose client has stopped reading still ends when it is told
// to (kill, idle timeout, shutdown): the write blocked on the full socket
// is cut short, and a notice to it does not hang either.
func TestEndWhileClientDoesNotRead(t *testing.T) {
	_, sc := tcpPair(t) // the client end is never read
	conn := protocol.NewConn(sc, protocol.Config{})
	s := start(t, conn, Spec{EndTasks: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(s, ctx, []byte("yes\n"))

	waitOutputBlocked(t, s)
	noticed := make(chan error, 1)
	go func() { noticed <- s.Notice("you are being disconnected") }()
	cancel()
	select {
	case r := <-done:
		if r != ReasonEnded {
			t.Fatalf("reason %q, want %q", r, ReasonEnded)
		}
	case <-time.After(lastWriteTimeout + 10*time.Second):
		t.Fatal("the session did not end while its client was not reading")
	}
	select {
	case <-noticed:
	case <-time.After(5 * time.Second):
		t.Fatal("the notice stayed blocked after the session ended")
	}
	if err := unix.Kill(-s.PID(), 0); err != unix.ESRCH {
		t.Fatalf("the session's process group is still there (kill 0: %v)", err)
	}
}

// waitOutputBlocked waits until the session's output has filled the
// socket of a client that does not read, and stopped.
func waitOutputBlocked(t *testing.T, s *Session) {
	t.Helper()
	var last int64 = -1
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		_, out := s.Bytes()
		if out > 0 && out == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never blocked (%d bytes out)", out)
		}
		last = out
	}
}

// killLeftovers ends, at the end of a test, whatever it left in the
// session sid, so that a failing test does not leave processes behind.
func killLeftovers(t *testing.T, sid int) {
	t.Cleanup(func() {
		for _, pid := range sessionMembers(sid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// A process still in the session but no longer the shell's descendant
// (its parent exited, so init adopted it: `(cmd &)`, or a script that
// started a server and returned) is ended with the session too.
func TestDisconnectEndsReparentedProcesses(t *testing.T) {
	disconnectAfter(t, "(sleep 1234 &); echo STARTED$((2+3))\n", "STARTED5")
}

// disconnectAfter starts a session (EndTasks on), types input, waits for
// marker, hangs up the client, and checks that the session ended as a
// disconnect with none of its processes left. It returns the session and
// the output up to the hang-up.
func disconnectAfter(t *testing.T, input, marker string) (*Session, string) {
	t.Helper()
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	killLeftovers(t, s.PID())
	done := runAsync(s, context.Background(), []byte(input))
	p.waitOutput(t, marker)
	out := p.output()
	p.nc.Close()
	if r := waitReason(t, done); r != ReasonDisconnect {
		t.Errorf("reason = %q, want disconnect", r)
	}
	if got := sessionMembers(s.PID()); len(got) != 0 {
		t.Errorf("processes left in the session: %v", got)
	}
	return s, out
}

// When the shell has exited but is not reaped yet (copyOut saw EIO first),
// its children already belong to init: they are still found and ended.
func TestEndTasksWithUnreapedShell(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 1235 </dev/null >/dev/null 2>&1 & exit")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sid := cmd.Process.Pid
	killLeftovers(t, sid)
	defer cmd.Wait()
	// Wait for the shell to be a zombie with its sleep running.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, state, _ := procSession(sid)
		if state == 'Z' && len(sessionMembers(sid)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell did not exit leaving its job (state %c)", state)
		}
	}
	s := &Session{pid: sid, exited: make(chan struct{}), log: slog.New(slog.DiscardHandler)}
	s.endTasks()
	if got := sessionMembers(sid); len(got) != 0 {
		t.Errorf("processes left in the session: %v", got)
	}
}

// A stopped job in a process group of its own gets to run its SIGHUP
// handler when the session ends, rather than only SIGKILL. (Adopted by
// init, so the kernel's orphaned-group rule sends it nothing when the
// shell exits: only endTasks can wake it.)
func TestStoppedJobSeesHangup(t *testing.T) {
	// The job stops itself once its parent is outside the session (the
	// subshell has exited and init adopted the job), so it is in an
	// orphaned process group when it stops.
	job, flag := hangupJob(t, `trap 'echo HUP > "$1"; exit 0' HUP
sid() { cut -d' ' -f6 /proc/$1/stat; }
while [ "$(sid $(cut -d' ' -f4 /proc/$$/stat))" = "$(sid $$)" ]; do sleep 0.01; done
kill -STOP $$
`)
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	killLeftovers(t, s.PID())
	done := runAsync(s, context.Background(), []byte("(sh "+job+" "+flag+" &); echo STARTED$((3+4))\n"))
	p.waitOutput(t, "STARTED7")
	for deadline := time.Now().Add(10 * time.Second); !hasStopped(s.PID()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the job did not stop")
		}
	}
	p.nc.Close()
	waitReason(t, done)
	if b, _ := os.ReadFile(flag); string(b) != "HUP\n" {
		t.Errorf("the stopped job's SIGHUP handler did not run (flag file %q)", b)
	}
	if got := sessionMembers(s.PID()); len(got) != 0 {
		t.Errorf("processes left in the session: %v", got)
	}
}

// A job whose SIGHUP handler takes a while (an editor writing its
// recovery file) gets to finish it, though the shell exits at once.
func TestHangupHandlerOutlivesShell(t *testing.T) {
	// The job says when its trap is set: hanging up before that would
	// kill it by SIGHUP's default action.
	job, flag := hangupJob(t, `trap 'sleep 0.3; echo HUP > "$1"; exit 0' HUP
echo TRAPPED$((4+4))
while :; do sleep 0.05; done
`)
	disconnectAfter(t, "sh "+job+" "+flag+" &\n", "TRAPPED8")
	if b, _ := os.ReadFile(flag); string(b) != "HUP\n" {
		t.Errorf("the job's SIGHUP handler did not finish (flag file %q)", b)
	}
}

// heedsHangup tells a process that ignores SIGHUP (nohup), which the end
// of a session need not wait for, from one that does not.
func TestHeedsHangup(t *testing.T) {
	for _, c := range []struct {
		script string
		want   bool
	}{
		{"exec sleep 1000", true},
		{"trap 'exit 0' HUP; while :; do sleep 1; done", true},
		{"trap '' HUP; exec sleep 1000", false},
	} {
		cmd := exec.Command("/bin/sh", "-c", c.script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the script has set its traps (the exec'd sleep, or
		// the loop's first sleep, has started).
		for deadline := time.Now().Add(10 * time.Second); !hasChildOrExeced(cmd.Process.Pid); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%q did not start", c.script)
			}
		}
		if got := heedsHangup(cmd.Process.Pid); got != c.want {
			t.Errorf("heedsHangup(%q) = %v, want %v", c.script, got, c.want)
		}
		cmd.Process.Kill()
		cmd.Wait()
		if heedsHangup(cmd.Process.Pid) {
			t.Errorf("heedsHangup is true for %q after it has gone", c.script)
		}
	}
}

// hasChildOrExeced reports whether the shell pid has become sleep or has
// a child.
func hasChildOrExeced(pid int) bool {
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(b) == "sleep\n" {
		return true
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	return len(strings.TrimSpace(string(b))) > 0
}

// hangupJob writes a job script (run as `sh JOB FLAG`, its SIGHUP handler
// writes "HUP" to FLAG) and returns the paths of the script and the flag.
func hangupJob(t *testing.T, script string) (job, flag string) {
	t.Helper()
	dir := t.TempDir()
	job, flag = dir+"/job.sh", dir+"/hup"
	if err := os.WriteFile(job, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return job, flag
}

// hasStopped reports whether a process of session sid is stopped.
func hasStopped(sid int) bool {
	for _, pid := range sessionMembers(sid) {
		if _, state, ok := procSession(pid); ok && state == 'T' {
			return true
		}
	}
	return false
}

// A client slow enough that one write to it takes longer than
// drainTimeout still gets all the output after the shell has exited: a
// write in progress is output flowing, not a quiet session.
func TestSlowClientGetsOutputAfterExit(t *testing.T) {
	cc, sc := tcpPair(t)
	// Small socket buffers, so that the output cannot all wait in them.
	cc.(*net.TCPConn).SetReadBuffer(4096)
	sc.(*net.TCPConn).SetWriteBuffer(4096)
	conn := protocol.NewConn(sc, protocol.Config{})
	s := start(t, conn, Spec{EndTasks: true})
	killLeftovers(t, s.PID())
	const n = 128 << 10
	// The output comes from a job that outlives the shell, so the shell
	// exits while the client has not read anything yet.
	done := runAsync(s, context.Background(),
		[]byte("(sleep 0.2; head -c "+strconv.Itoa(n)+" /dev/zero | tr '\\0' x; echo THE$((1+1))END) & exit\n"))
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not exit")
	}
	// The client takes no data for longer than drainTimeout, then all.
	time.Sleep(drainTimeout + time.Second)
	out, _ := io.ReadAll(cc)
	waitReason(t, done)
	want := strings.Repeat("x", n) + "THE2END\r\n"
	if !bytes.Contains(out, []byte(want)) {
		t.Errorf("the client got %d bytes without the output's end (%d bytes then THE2END)", len(out), n)
	}
}

// The user's terminal belongs to the account, writable by the tty group
// (mode 0620), as login(1) leaves it, so that screen, pinentry and mesg
// work for a user who is not root.
func TestTerminalBelongsToAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a session as another account")
	}
	acct, err := LookupAccount("nobody") // every Debian and Ubuntu system has it
	if err != nil {
		t.Fatal(err)
	}
	gid := acct.GID
	if g, err := user.LookupGroup("tty"); err == nil {
		id, _ := strconv.Atoi(g.Gid)
		gid = uint32(id)
	}
	conn, p := connPair(t)
	s := start(t, conn, Spec{Account: acct, EndTasks: true})
	done := runAsync(s, context.Background(), []byte("stat -c TTY=%u:%g:%a \"$(tty)\"; exit\n"))
	waitReason(t, done)
	<-p.eof
	want := "TTY=" + strconv.Itoa(int(acct.UID)) + ":" + strconv.Itoa(int(gid)) + ":620"
	if out := p.output(); !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%q", want, out)
	}
}

// A capability the daemon holds as an ambient one (a daemon run without
// root, with CAP_NET_BIND_SERVICE for port 23) is not handed on through
// exec.
func TestClearInheritableCaps(t *testing.T) {
	const capNetBind = 10
	errc := make(chan error, 1)
	go func() {
		// Capabilities are per thread: this one is thrown away at the end
		// (a goroutine that exits locked takes its thread with it).
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[0].Inheritable |= 1 << capNetBind
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capset (needs root): %w", err)
			return
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, capNetBind, 0, 0); err != nil {
			errc <- fmt.Errorf("raise ambient: %w", err)
			return
		}
		if err := clearInheritableCaps(); err != nil {
			errc <- err
			return
		}
		set, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, capNetBind, 0, 0)
		if err == nil && set != 0 {
			err = errors.New("CAP_NET_BIND_SERVICE is still ambient")
		}
		if err == nil {
			err = unix.Capget(&hdr, &data[0])
		}
		if err == nil && (data[0].Inheritable != 0 || data[1].Inheritable != 0) {
			err = fmt.Errorf("inheritable set %#x %#x, want empty", data[0].Inheritable, data[1].Inheritable)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Error(err)
	}
}

// An account the host has closed to logons is refused: its own login
// shell is nologin or false, or it has expired.
func TestCheckAccount(t *testing.T) {
	for _, c := range []struct {
		shell string
		want  bool // refused
	}{{"/bin/bash", false}, {"/usr/sbin/nologin", true}, {"/sbin/nologin", true}, {"/bin/false", true}, {"", false}} {
		err := CheckAccount(Account{Name: "tlnt-no-such-account", UID: 1234, Shell: c.shell}, AccountPolicy{RefuseLocked: true})
		if (err != nil) != c.want || (err != nil && !errors.Is(err, ErrAccountDisabled)) {
			t.Errorf("shell %q: %v, want refused %v", c.shell, err, c.want)
		}
	}
	for _, c := range []struct {
		line      string
		day       int64
		hasExpiry bool
	}{
		{"alice:$6$x:20000:0:99999:7:::", 0, false},
		{"alice:!:20780:0:99999:7::1:", 1, true},
		{"alice:$6$x:20000:0:99999:7::0:", 0, false}, // 0: never, as shadow-utils reads it
		{"alice:$6$x:20000:0:99999:7::30000:", 30000, true},
		{"alice:x", 0, false},
	} {
		day, ok := shadowFieldExpiry(strings.Split(c.line, ":"))
		if ok != c.hasExpiry || (ok && day != c.day) {
			t.Errorf("%q: day %d ok %v, want %d %v", c.line, day, ok, c.day, c.hasExpiry)
		}
	}
}

// An account whose expiry date has passed is refused; with a date to come
// it is not. (Run as root: it changes a test account's shadow entry.)
func TestCheckAccountExpired(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (make test runs as root)")
	}
	const name = "tlntexp1"
	if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", "-e", "2001-01-01", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	acct, err := LookupAccount(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAccount(acct, AccountPolicy{}); !errors.Is(err, ErrAccountDisabled) || !strings.Contains(err.Error(), "expired on 2001-01-01") {
		t.Errorf("expired account: %v", err)
	}
	if out, err := exec.Command("usermod", "-e", "2099-01-01", name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v\n%s", err, out)
	}
	if err := CheckAccount(acct, AccountPolicy{}); err != nil {
		t.Errorf("account expiring in 2099: %v", err)
	}
}

// An account whose password usermod -L locked is refused when the policy
// says so, and let in when it does not or once unlocked; an account that
// never had a Unix password (useradd's "!") is not locked. (Run as root:
// it makes a test account.)
func TestCheckAccountLocked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (make test runs as root)")
	}
	const name = "tlntlck1"
	exec.Command("userdel", name).Run() // left over from a killed run
	if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	acct, err := LookupAccount(name)
	if err != nil {
		t.Fatal(err)
	}
	refuse := AccountPolicy{RefuseLocked: true}
	if err := CheckAccount(acct, refuse); err != nil {
		t.Errorf("account with no Unix password: %v", err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(name + ":a Unix password\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("chpasswd")
	run("usermod", "-L", name)
	if err := CheckAccount(acct, refuse); !errors.Is(err, ErrAccountDisabled) || !strings.Contains(err.Error(), "usermod -U") {
		t.Errorf("locked account: %v, want refused saying how to unlock", err)
	}
	if err := CheckAccount(acct, AccountPolicy{}); err != nil {
		t.Errorf("locked account, refuse_locked_accounts false: %v", err)
	}
	run("usermod", "-U", name)
	if err := CheckAccount(acct, refuse); err != nil {
		t.Errorf("unlocked account: %v", err)
	}
}

// An account of uid 0 is refused unless the policy allows root.
func TestCheckAccountRoot(t *testing.T) {
	for _, a := range []Account{{Name: "root", Shell: "/bin/sh"}, {Name: "toor", Shell: "/bin/sh"}} {
		if err := CheckAccount(a, AccountPolicy{RefuseLocked: true}); !errors.Is(err, ErrRootNotAllowed) || !strings.Contains(err.Error(), "allow_root: true") {
			t.Errorf("%s (uid 0) without allow_root: %v", a.Name, err)
		}
		if err := CheckAccount(a, AccountPolicy{AllowRoot: true}); errors.Is(err, ErrRootNotAllowed) {
			t.Errorf("%s (uid 0) with allow_root: %v", a.Name, err)
		}
	}
}

func TestShadowFieldLocked(t *testing.T) {
	for _, c := range []struct {
		field string
		want  bool
	}{
		{"$y$j9T$abc", false},
		{"!$y$j9T$abc", true}, // usermod -L
		{"!!$6$x", true},
		{"!", false},  // useradd without a password (Debian)
		{"!!", false}, // the same (Red Hat)
		{"*", false},
		{"!*", false},
		{"", false},
	} {
		if got := shadowFieldLocked([]string{"alice", c.field, "20000"}); got != c.want {
			t.Errorf("%q: locked %v, want %v", c.field, got, c.want)
		}
	}
}

// The shell gets the host's login umask, not the daemon's (here 0).
func TestShellGetsLoginUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	_, out := disconnectAfter(t, "echo UMASK=$(umask); echo END$((6+6))\n", "END12")
	if want := fmt.Sprintf("UMASK=%04o\r\n", loginUmask(self(t))); !strings.Contains(out, want) {
		t.Errorf("want %q in the output:\n%s", want, out)
	}
}

// An idle session costs the daemon two goroutines, Run's (which reads the
// client) and copyOut's: their stacks are most of what it holds per
// session, so a third (a waiter per shell, a goroutine just to wait for
// the others) shows here.
func TestIdleSessionGoroutines(t *testing.T) {
	const sessions = 20
	before := runtime.NumGoroutine()
	var peers []*peer
	var dones []<-chan Reason
	for i := range sessions {
		conn, p := connPair(t) // and one goroutine of the test's: the peer's reader
		s := start(t, conn, Spec{EndTasks: true})
		dones = append(dones, runAsync(s, context.Background(), []byte(fmt.Sprintf("echo UP$((%d+1))\n", i))))
		p.waitOutput(t, fmt.Sprintf("UP%d", i+1))
		peers = append(peers, p)
	}
	time.Sleep(100 * time.Millisecond) // what Start or the first output left running ends
	got := runtime.NumGoroutine() - before
	t.Logf("%d goroutines for %d idle sessions", got, sessions)
	for _, p := range peers {
		p.nc.Close()
	}
	for _, d := range dones {
		waitReason(t, d)
	}
	if want := 3*sessions + 5; got > want {
		t.Errorf("%d goroutines for %d idle sessions, want at most %d (2 each, 1 the test's, a few the runtime's)", got, sessions, want)
	}
}

// What a shell writes just before it exits reaches the client even when
// its exit is seen first: the output may still be on its way through the
// terminal, and the drain's first look at quiet output waits a tick.
func TestOutputOfAShellThatExitsAtOnce(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bye")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho GOODBYE$((40+2))\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		conn, p := connPair(t)
		s := start(t, conn, Spec{Shell: script})
		select {
		case <-s.exited: // reaped before Run starts
		case <-time.After(10 * time.Second):
			t.Fatal("the shell did not exit")
		}
		if r := waitReason(t, runAsync(s, context.Background(), nil)); r != ReasonExit {
			t.Errorf("run %d: reason %q, want exit", i, r)
		}
		<-p.eof
		if !strings.Contains(p.output(), "GOODBYE42") {
			t.Fatalf("run %d: the shell's last line was lost: %q", i, p.output())
		}
	}
}

// Run's goroutine writes to the client too (the replies to what it reads:
// here an Are You There while the client takes no output). Stuck in that
// write, it still ends the session when told.
func TestEndWhileReplyToClientBlocked(t *testing.T) {
	cc, sc := tcpPair(t) // the client end is written, never read
	conn := protocol.NewConn(sc, protocol.Config{})
	s := start(t, conn, Spec{EndTasks: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(s, ctx, []byte("yes\n"))
	waitOutputBlocked(t, s)
	if _, err := cc.Write([]byte{iac, 246}); err != nil { // IAC AYT
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // Run reads it and waits to reply
	cancel()
	select {
	case r := <-done:
		if r != ReasonEnded {
			t.Fatalf("reason %q, want %q", r, ReasonEnded)
		}
	case <-time.After(lastWriteTimeout + 10*time.Second):
		t.Fatal("the session did not end while a reply to its client was blocked")
	}
}
