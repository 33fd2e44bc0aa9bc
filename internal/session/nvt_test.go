package session

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The NVT commands, flow control, speed and charset, carried out on a real
// terminal with /bin/sh on it.

const (
	iac  = 255
	will = 251
	do   = 253
	sb   = 250
	se   = 240
)

// session starts /bin/sh with spec, runs it on a fresh connection and
// waits until the shell answers, so what follows is typed at its prompt.
func session(t *testing.T, spec Spec) (*peer, *Session) {
	t.Helper()
	conn, p := connPair(t)
	spec.EndTasks = true
	s := start(t, conn, spec)
	done := runAsync(s, context.Background(), []byte("echo UP$((40+2))\n"))
	p.waitOutput(t, "UP42")
	t.Cleanup(func() {
		p.nc.Close()
		waitReason(t, done)
	})
	return p, s
}

// waitForChild waits until a process named name runs in s's session (the
// shell has started it), so what is sent next reaches it.
func waitForChild(t *testing.T, s *Session, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range sessionMembers(s.PID()) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) == name {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never started", name)
}

func (p *peer) send(t *testing.T, b ...any) {
	t.Helper()
	var buf []byte
	for _, x := range b {
		switch v := x.(type) {
		case string:
			buf = append(buf, v...)
		case int:
			buf = append(buf, byte(v))
		case byte:
			buf = append(buf, v)
		}
	}
	if _, err := p.nc.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// Interrupt Process, Break and Abort signal the foreground process group;
// Suspend stops it.
func TestCommandsSignal(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  byte
		want string
	}{
		{"IP", 244, "RC130"},    // SIGINT
		{"BRK", 243, "RC131"},   // SIGQUIT
		{"ABORT", 238, "RC131"}, // SIGQUIT
		{"SUSP", 237, "RC148"},  // SIGTSTP: the job is stopped
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, s := session(t, Spec{})
			p.send(t, "sleep 30\n")
			waitForChild(t, s, "sleep")
			p.send(t, iac, tt.cmd, "echo RC$?\n")
			p.waitOutput(t, tt.want)
		})
	}
}

// A program that reads the keyboard raw (ISIG off) gets the interrupt
// character instead of a signal, as it would from the key.
func TestInterruptRawProgram(t *testing.T) {
	p, s := session(t, Spec{})
	p.send(t, "stty -isig -echo; od -c | head -1; stty sane; echo DONE$((2+2))\n")
	waitForChild(t, s, "od")
	p.send(t, iac, 244, "\n", 4)
	p.waitOutput(t, "003")
	p.waitOutput(t, "DONE4")
}

// Erase Character, Erase Line and End of File are the terminal's own
// characters, so the line discipline edits the line.
func TestCommandsEdit(t *testing.T) {
	p, s := session(t, Spec{})
	p.send(t, "echo EDIXX", iac, 247, iac, 247, "T$((1+1))\n")
	p.waitOutput(t, "EDIT2")
	p.send(t, "rm -rf /nonexistent/garbage", iac, 248, "echo LINE$((2+2))\n")
	p.waitOutput(t, "LINE4")
	p.send(t, "cat >/dev/null; echo EOF$((3+3))\n")
	waitForChild(t, s, "cat")
	p.send(t, "some text\n", iac, 236)
	p.waitOutput(t, "EOF6")
}

// Abort Output discards pending output and sends the Synch: IAC DM, the
// DM urgent (the client here keeps urgent data in line to see it).
func TestAbortOutput(t *testing.T) {
	p, _ := session(t, Spec{})
	rc, _ := p.nc.(*net.TCPConn).SyscallConn()
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1) })
	p.send(t, iac, 245)
	p.waitOutput(t, "\xff\xf2")
	p.send(t, "echo AFTER$((5+5))\n")
	p.waitOutput(t, "AFTER10")
}

// LFLOW: once the client agreed, it is told when a program turns XON/XOFF
// flow control off and on again.
func TestFlowControlFollowsIXON(t *testing.T) {
	p, _ := session(t, Spec{})
	p.send(t, iac, will, 33)
	p.waitOutput(t, "\xff\xfd\x21") // DO LFLOW; the terminal has IXON: nothing more
	p.send(t, "stty -ixon; echo OFF$((1+1))\n")
	p.waitOutput(t, "OFF2")
	p.waitOutput(t, "\xff\xfa\x21\x00\xff\xf0") // LFLOW OFF
	p.send(t, "stty ixon; echo ON$((1+1))\n")
	p.waitOutput(t, "ON2")
	p.waitOutput(t, "\xff\xfa\x21\x01\xff\xf0") // LFLOW ON
	if n := strings.Count(p.output(), "\xff\xfa\x21"); n != 2 {
		t.Errorf("%d LFLOW messages, want 2", n)
	}
}

// TSPEED's speeds become the terminal's; CHARSET's UTF-8 becomes LANG.
func TestSpeedAndCharset(t *testing.T) {
	// glibc shows one speed, the output one.
	p, _ := session(t, Spec{InSpeed: 2400, OutSpeed: 19200, Charset: "UTF-8"})
	p.send(t, "stty -a | head -1; echo L=$LANG\n")
	p.waitOutput(t, "speed 19200 baud;")
	p.waitOutput(t, "L=C.UTF-8")
	// The client's own LANG wins.
	p2, _ := session(t, Spec{Charset: "UTF-8", ClientEnv: []string{"LANG=de_DE.UTF-8"}})
	p2.send(t, "echo L=$LANG\n")
	p2.waitOutput(t, "L=de_DE.UTF-8")
	if got := withCharset(nil, ""); got != nil {
		t.Errorf("no charset: %q", got)
	}
}

// DO LOGOUT: we agree and the session ends with reason logout.
func TestLogout(t *testing.T) {
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	done := runAsync(s, context.Background(), []byte("echo UP$((40+2))\n"))
	p.waitOutput(t, "UP42")
	p.send(t, iac, do, 18)
	if r := waitReason(t, done); r != ReasonLogout {
		t.Errorf("reason = %q, want logout", r)
	}
	<-p.eof
	if !strings.Contains(p.output(), "\xff\xfb\x12") {
		t.Errorf("no WILL LOGOUT in %q", p.output())
	}
}

// A paste larger than copyIn's own buffer moves through a large one and
// back (see input): every byte reaches the program, each doubled IAC as
// one 0xFF, and what is typed after the paste too.
func TestBulkInputArrivesWhole(t *testing.T) {
	p, s := session(t, Spec{})
	file := t.TempDir() + "/in"
	p.send(t, "stty -echo; cat > "+file+"; echo GOT$((6*7))\n")
	waitForChild(t, s, "cat")
	var want, wire []byte
	for i := range 3000 {
		line := fmt.Sprintf("%05d %s\xff\n", i, strings.Repeat("x", 60))
		want = append(want, line...)
		wire = append(wire, bytes.ReplaceAll([]byte(line), []byte{iac}, []byte{iac, iac})...)
	}
	if _, err := p.nc.Write(wire); err != nil {
		t.Fatal(err)
	}
	p.send(t, "typed after\n", 4) // ^D at the start of a line: cat's end of input
	want = append(want, "typed after\n"...)
	p.waitOutput(t, "GOT42")
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the program got %d bytes, want %d; first difference at byte %d", len(got), len(want), i)
	}
}

// The Synch: a program that does not read has the terminal's input full
// and our write to it blocked, with more queued on the socket behind it.
// An Interrupt Process followed by a Synch (BSD telnet's autosynch) cuts
// through: the backlog up to the mark is discarded, the interrupt obeyed.
func TestSynchThroughBlockedInput(t *testing.T) {
	p, s := session(t, Spec{})
	p.send(t, "stty -icanon -echo min 1; sleep 60\n")
	waitForChild(t, s, "sleep")
	before, _ := s.Bytes()
	backlog := bytes.Repeat([]byte("a"), 150<<10)
	wrote := make(chan error, 1)
	go func() {
		_, err := p.nc.Write(backlog)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the backlog was never taken: socket buffers too small for this test")
	}
	// Once copyIn has read a first chunk of it, it is stuck writing it:
	// the terminal takes a few kilobytes at most.
	deadline := time.Now().Add(10 * time.Second)
	for in, _ := s.Bytes(); in == before; in, _ = s.Bytes() {
		if time.Now().After(deadline) {
			t.Fatal("the backlog never reached the session")
		}
		time.Sleep(time.Millisecond)
	}
	p.send(t, iac, 244, iac)
	p.sendUrgentDM(t)
	p.send(t, "echo RC$?; stty sane\n")
	p.waitOutput(t, "RC130")
	if strings.Contains(p.output(), "aaaa") {
		t.Error("the discarded backlog reached the shell")
	}
}

// The same with more backlog than our socket can hold: the urgent byte
// cannot reach us, only the urgent pointer can (with the client's window
// probes), and the kernel does not announce that; the blocked write's
// deadline finds it. TCP's urgent pointer reaches at most 64 KiB ahead, so
// the client must have no more than that queued before it (else nothing
// can be known until the program reads): a small receive buffer here
// makes the case.
func TestSynchThroughFullSocket(t *testing.T) {
	conn, p := connPair(t)
	src, _ := conn.NetConn().(*net.TCPConn).SyscallConn()
	src.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	s := start(t, conn, Spec{EndTasks: true})
	done := runAsync(s, context.Background(), []byte("stty -icanon -echo min 1; sleep 60\n"))
	t.Cleanup(func() {
		p.nc.Close()
		waitReason(t, done)
	})
	waitForChild(t, s, "sleep")
	backlog := append(bytes.Repeat([]byte("a"), 80<<10), iac, 244, iac)
	if _, err := p.nc.Write(backlog); err != nil {
		t.Fatal(err)
	}
	p.sendUrgentDM(t)
	p.send(t, "echo RC$?; stty sane\n")
	p.waitOutput(t, "RC130")
}

// sendUrgentDM sends Telnet's Data Mark as TCP urgent data: the end of a
// Synch.
func (p *peer) sendUrgentDM(t *testing.T) {
	t.Helper()
	rc, _ := p.nc.(*net.TCPConn).SyscallConn()
	var serr error
	rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), []byte{242}, syscall.MSG_OOB, nil)
		return serr != syscall.EAGAIN
	})
	if serr != nil {
		t.Fatal(serr)
	}
}
