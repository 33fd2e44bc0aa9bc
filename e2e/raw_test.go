package e2e

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a hand-driven Telnet connection: the tests decide every byte.
// It answers nothing by itself.
type rawConn struct {
	t  *testing.T
	nc net.Conn

	mu     sync.Mutex
	in     bytes.Buffer // everything received
	pos    int          // how far expect has consumed
	closed bool
	update chan struct{}
}

// dialRaw connects to the daemon, from the loopback address from
// ("" = any), so tests can play several client addresses.
func dialRaw(t *testing.T, d *daemon, from string) *rawConn {
	t.Helper()
	dialer := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := dialer.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	return newRawConn(t, nc)
}

// newRawConn drives nc (a TCP connection, or a TLS one over it).
func newRawConn(t *testing.T, nc net.Conn) *rawConn {
	r := &rawConn{t: t, nc: nc, update: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := nc.Read(buf)
			r.mu.Lock()
			r.in.Write(buf[:n])
			if err != nil {
				r.closed = true
			}
			r.mu.Unlock()
			select {
			case r.update <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { nc.Close() })
	return r
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if err := r.trySend(b); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// trySend sends b, for tests in which the server may rightly have closed
// the connection already.
func (r *rawConn) trySend(b []byte) error {
	r.nc.SetWriteDeadline(time.Now().Add(expectTimeout))
	_, err := r.nc.Write(b)
	return err
}

func (r *rawConn) sendString(s string) { r.send([]byte(s)) }

// expect waits for s in what the server sent after the previous match.
func (r *rawConn) expect(s string) {
	r.t.Helper()
	deadline := time.After(expectTimeout)
	for {
		r.mu.Lock()
		got := r.in.Bytes()[r.pos:]
		if i := bytes.Index(got, []byte(s)); i >= 0 {
			r.pos += i + len(s)
			r.mu.Unlock()
			return
		}
		closed := r.closed
		tail := string(got)
		r.mu.Unlock()
		if closed {
			r.t.Fatalf("connection closed before %q; received since last match: %q", s, tail)
		}
		select {
		case <-r.update:
		case <-deadline:
			r.t.Fatalf("timed out waiting for %q; received since last match: %q", s, tail)
		}
	}
}

// expectOrClosed waits for s or for the server to close the connection,
// and reports whether s came.
func (r *rawConn) expectOrClosed(s string) bool {
	r.t.Helper()
	deadline := time.After(expectTimeout)
	for {
		r.mu.Lock()
		got := r.in.Bytes()[r.pos:]
		i := bytes.Index(got, []byte(s))
		if i >= 0 {
			r.pos += i + len(s)
		}
		closed, tail := r.closed, string(got)
		r.mu.Unlock()
		if i >= 0 {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-r.update:
		case <-deadline:
			r.t.Fatalf("timed out waiting for %q or a close; received: %q", s, tail)
		}
	}
}

// waitClosed waits until the server closes the connection.
func (r *rawConn) waitClosed() string {
	r.t.Helper()
	deadline := time.After(expectTimeout)
	for {
		r.mu.Lock()
		closed, tail := r.closed, string(r.in.Bytes()[r.pos:])
		r.mu.Unlock()
		if closed {
			return tail
		}
		select {
		case <-r.update:
		case <-deadline:
			r.t.Fatalf("server did not close the connection; received: %q", tail)
		}
	}
}

func (r *rawConn) received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.in.Bytes()...)
}

// logon logs on as alice over a raw connection and checks the shell runs
// as her account: proof that normal logons still work.
func (r *rawConn) logon() {
	r.t.Helper()
	// Answer the server's offers the way a plain client does, so the
	// logon does not wait out the negotiation timeout.
	r.send([]byte{255, 253, 1, 255, 253, 3, 255, 252, 24, 255, 252, 31, 255, 252, 39})
	r.expect("login: ")
	r.sendString("alice\r\n")
	r.expect("password: ")
	r.sendString(alicePass + "\r\n")
	r.sendString("echo ID=$(id -un)=$((6*7))\r\n")
	r.expect("ID=" + osAlice + "=42")
}

// rss returns the daemon's resident memory in bytes.
func (d *daemon) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatalf("daemon status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// alive fails the test if the daemon has exited.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		t.Fatalf("daemon exited: %v\n%s", d.exitErr, d.logs())
	default:
	}
}
