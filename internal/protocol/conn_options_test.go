package protocol

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestConnLogout(t *testing.T) {
	c, client := answered(t)
	send(t, client, `"bye" IAC DO LOGOUT "never read"`)
	if got := readN(t, c, 3); string(got) != "bye" {
		t.Errorf("Read = %q", got)
	}
	for range 2 {
		if n, err := c.Read(make([]byte, 10)); n != 0 || !errors.Is(err, ErrLogout) {
			t.Errorf("Read = %d, %v; want ErrLogout", n, err)
		}
	}
	expect(t, client, wire(t, `IAC WILL LOGOUT`))
}

// BSD telnet's interrupt: IP, then DO TIMING-MARK. The WILL goes out only
// after the handler for IP has run.
func TestConnTimingMarkAfterInterrupt(t *testing.T) {
	c, client := answered(t)
	var early []byte
	c.SetCommandHandler(func(cmd byte) {
		// Nothing may have reached the client yet.
		client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		buf := make([]byte, 16)
		n, _ := client.Read(buf)
		early = append(early, buf[:n]...)
	}, IP)
	send(t, client, `"x" IAC IP IAC DO TIMING-MARK "y"`)
	if got := readN(t, c, 2); string(got) != "xy" {
		t.Errorf("Read = %q", got)
	}
	if len(early) != 0 {
		t.Errorf("the client got %s before the interrupt was handled", formatWire(early))
	}
	expect(t, client, wire(t, `IAC WILL TIMING-MARK`))
}

func TestConnFlowControl(t *testing.T) {
	c, client := answered(t)
	// Not agreed: nothing is sent.
	if err := c.SetFlowControl(false); err != nil {
		t.Fatal(err)
	}
	// Agreed while the terminal wants it off: the client starts with it
	// on (RFC 1372), so it is told at once, after the DO.
	send(t, client, `IAC WILL LFLOW "a"`)
	readN(t, c, 1)
	expect(t, client, wire(t, `IAC DO LFLOW IAC SB LFLOW OFF IAC SE`))
	c.SetFlowControl(false) // no change: nothing
	c.SetFlowControl(true)
	c.SetFlowControl(true)
	c.SetFlowControl(false)
	expect(t, client, wire(t, `IAC SB LFLOW ON IAC SE IAC SB LFLOW OFF IAC SE`))
	// Withdrawn and agreed again: it starts on again.
	send(t, client, `IAC WONT LFLOW IAC WILL LFLOW "b"`)
	readN(t, c, 1)
	expect(t, client, wire(t, `IAC DONT LFLOW IAC DO LFLOW IAC SB LFLOW OFF IAC SE`))
}

func TestConnPromptAndAccessors(t *testing.T) {
	c, client := answered(t)
	c.WritePrompt([]byte("login: "))
	expect(t, client, []byte("login: "))
	send(t, client, `IAC DO EOR IAC WILL TSPEED IAC DO CHARSET "a"`)
	readN(t, c, 1)
	expect(t, client, wire(t, `IAC WILL EOR IAC DO TSPEED IAC SB TSPEED SEND IAC SE IAC SB CHARSET REQUEST ";UTF-8" IAC SE`))
	send(t, client, `IAC SB TSPEED IS "9600,4800" IAC SE IAC SB CHARSET ACCEPTED "UTF-8" IAC SE "b"`)
	readN(t, c, 1)
	c.WritePrompt([]byte("pass\xffword: "))
	expect(t, client, wire(t, `"pass" IAC IAC "word: " IAC EOR`))
	if tx, rx, ok := c.TermSpeed(); tx != 9600 || rx != 4800 || !ok {
		t.Errorf("TermSpeed() = %d, %d, %v", tx, rx, ok)
	}
	if cs := c.Charset(); cs != "UTF-8" {
		t.Errorf("Charset() = %q", cs)
	}
}

// A client that refuses SGA gets IAC GA after a prompt (RFC 858), until it
// agrees to SGA; one that asked for EOR gets EOR instead. A client that
// has not answered gets neither.
func TestConnPromptGoAhead(t *testing.T) {
	c, client := answered(t)
	c.WritePrompt([]byte("login: "))
	expect(t, client, []byte("login: "))
	send(t, client, `IAC DONT SGA "a"`) // answered() had agreed to it
	readN(t, c, 1)
	c.WritePrompt([]byte("login: "))
	expect(t, client, wire(t, `IAC WONT SGA "login: " IAC GA`))
	c.Write([]byte("text\r\n")) // output is not a prompt
	expect(t, client, []byte("text\r\n"))
	send(t, client, `IAC DO EOR "b"`)
	readN(t, c, 1)
	expect(t, client, wire(t, `IAC WILL EOR`))
	c.WritePrompt([]byte("password: "))
	expect(t, client, wire(t, `"password: " IAC EOR`))
	send(t, client, `IAC DONT EOR IAC DO SGA "c"`)
	readN(t, c, 1)
	expect(t, client, wire(t, `IAC WONT EOR IAC WILL SGA`))
	c.WritePrompt([]byte("login: "))
	expect(t, client, []byte("login: "))
}

// TestConnNegotiateCharset: a client that knows CHARSET answers our WILL;
// Negotiate then also waits for its answer to our REQUEST.
func TestConnNegotiateCharset(t *testing.T) {
	c, client, done := offered(t)
	send(t, client, `IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NAWS IAC WILL NEW-ENVIRON IAC DO CHARSET`)
	expect(t, client, wire(t, `IAC SB NEW-ENVIRON SEND IAC SE IAC SB CHARSET REQUEST ";UTF-8" IAC SE`))
	send(t, client, `IAC SB NEW-ENVIRON IS IAC SE`)
	send(t, client, `IAC SB CHARSET ACCEPTED "UTF-8" IAC SE`)
	if err := wait(t, done); err != nil || c.e.negotiating() {
		t.Fatalf("Negotiate: %v, negotiating %v", err, c.e.negotiating())
	}
	if c.Charset() != "UTF-8" {
		t.Errorf("Charset() = %q", c.Charset())
	}
}

// sendOOB sends b as TCP urgent data from the client's end.
func sendOOB(t *testing.T, client net.Conn, b byte) {
	t.Helper()
	rc, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), []byte{b}, syscall.MSG_OOB, nil)
		return serr != syscall.EAGAIN
	})
	if serr != nil {
		t.Fatal(serr)
	}
}

// waitUrgentSeen waits until the watcher has raised c's flag.
func waitUrgentSeen(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(safetyNet)
	for !c.urg.set.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the urgent data was never seen")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConnSynch: data the client sent before a Synch and that we have not
// read yet is discarded up to the DM; commands among it are still obeyed.
// The way PuTTY sends it: IAC, then DM as urgent data.
func TestConnSynch(t *testing.T) {
	c, client := answered(t)
	if c.urg == nil {
		t.Skip("no urgent-data watcher on this system")
	}
	handled := make(chan struct{}, 1)
	c.SetUrgentHandler(func() {
		select {
		case handled <- struct{}{}:
		default:
		}
	})
	var cmds []byte
	c.SetCommandHandler(func(cmd byte) { cmds = append(cmds, cmd) }, IP)
	send(t, client, `"typed ahead" CR LF IAC IP "more" IAC`)
	sendOOB(t, client, DM)
	send(t, client, `"after"`)
	waitUrgentSeen(t, c)
	select {
	case <-handled:
	case <-time.After(safetyNet):
		t.Fatal("urgent handler not called")
	}
	if !c.UrgentPending() {
		t.Fatal("UrgentPending false before the mark was read")
	}
	if got := readN(t, c, 5); string(got) != "after" {
		t.Errorf("Read = %q, want only what followed the DM", got)
	}
	if !bytes.Equal(cmds, []byte{IP}) {
		t.Errorf("commands %v", cmds)
	}
	if c.UrgentPending() || c.e.synch {
		t.Error("still urgent after the DM")
	}
	// The BSD way: the IAC is the urgent byte, the DM follows.
	send(t, client, `"junk"`)
	sendOOB(t, client, IAC)
	send(t, client, `DM "ok"`)
	waitUrgentSeen(t, c)
	if got := readN(t, c, 2); string(got) != "ok" {
		t.Errorf("Read = %q", got)
	}
	// A DM without urgent data means nothing, and data goes on.
	send(t, client, `"a" IAC DM "b"`)
	if got := readN(t, c, 2); string(got) != "ab" {
		t.Errorf("Read = %q", got)
	}
}

// TestConnSendSynch: the client sees IAC, then DM as the urgent byte.
func TestConnSendSynch(t *testing.T) {
	c, client := answered(t)
	if c.rc == nil {
		t.Skip("no socket access")
	}
	c.Write([]byte("output"))
	if err := c.SendSynch(); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("next"))
	// The client has SO_OOBINLINE off: the urgent byte is read apart.
	expect(t, client, []byte("output\xff"))
	rc, _ := client.(*net.TCPConn).SyscallConn()
	var oob []byte
	deadline := time.Now().Add(safetyNet)
	for len(oob) == 0 && time.Now().Before(deadline) {
		rc.Read(func(fd uintptr) bool {
			buf := make([]byte, 1)
			n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_OOB)
			if err == nil && n == 1 {
				oob = buf
			}
			return true
		})
		time.Sleep(time.Millisecond)
	}
	if !bytes.Equal(oob, []byte{DM}) {
		t.Errorf("urgent byte %v, want DM", oob)
	}
	expect(t, client, []byte("next"))
}
