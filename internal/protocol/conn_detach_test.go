package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"sync"
	"testing"
	"time"
)

// readRaw reads from nc until it has n bytes.
func readRaw(t *testing.T, nc net.Conn, n int) []byte {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(safetyNet))
	defer nc.SetReadDeadline(time.Time{})
	got := make([]byte, n)
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatalf("raw read: %v (got %q)", err, got)
	}
	return got
}

// TestConnDetach: the stream ends at an exact byte (here LOGOUT's DO, as
// START_TLS's FOLLOWS will), and Detach hands back the connection with
// what was read after that byte and not parsed, Telnet-looking or not; the
// rest is still on the connection, in order.
func TestConnDetach(t *testing.T) {
	c, client := answered(t)
	after := wire(t, `IAC WILL ECHO 0x16 0x03 0x01 IAC IAC "not telnet"`)
	msg := append(wire(t, `"bye" IAC DO LOGOUT`), after...)
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 3); string(got) != "bye" {
		t.Errorf("Read = %q", got)
	}
	if n, err := c.Read(make([]byte, 64)); n != 0 || !errors.Is(err, ErrLogout) {
		t.Fatalf("Read = %d, %v; want ErrLogout", n, err)
	}
	// Our reply to the DO went out before the stream ended, nothing after.
	expect(t, client, wire(t, `IAC WILL LOGOUT`))
	nc, buffered := c.Detach()
	rest := readRaw(t, nc, len(after)-len(buffered))
	if got := append(buffered, rest...); !bytes.Equal(got, after) {
		t.Errorf("after the end: buffered %q + rest %q, want %q", buffered, rest, after)
	}

	// Detached: nothing more goes through the Telnet layer, and Close
	// leaves nc, the caller's now, open.
	if n, err := c.Read(make([]byte, 8)); n != 0 || !errors.Is(err, ErrDetached) {
		t.Errorf("Read after Detach = %d, %v", n, err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrDetached) {
		t.Errorf("Write after Detach: %v", err)
	}
	if _, err := c.WritePrompt([]byte("login: ")); !errors.Is(err, ErrDetached) {
		t.Errorf("WritePrompt after Detach: %v", err)
	}
	if err := c.SendSynch(); !errors.Is(err, ErrDetached) {
		t.Errorf("SendSynch after Detach: %v", err)
	}
	if err := c.Negotiate(); !errors.Is(err, ErrDetached) {
		t.Errorf("Negotiate after Detach: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after Detach: %v", err)
	}
	if _, err := nc.Write([]byte("raw")); err != nil {
		t.Fatalf("nc after Close: %v", err)
	}
	expect(t, client, []byte("raw"))
	if nc2, b2 := c.Detach(); nc2 != nc || b2 != nil {
		t.Errorf("second Detach = %v, %q", nc2, b2)
	}
}

// TestConnDetachDuringNegotiate: a stream that ends while Negotiate reads
// ends Negotiate; the data before the end is read first, then the end,
// and the bytes after it are Detach's, parsed by no one.
func TestConnDetachDuringNegotiate(t *testing.T) {
	c, client, done := offered(t)
	after := wire(t, `IAC DO TIMING-MARK "x"`)
	send(t, client, acceptAll+` "typed" IAC DO LOGOUT `+formatWire(after))
	if err := wait(t, done); err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	if got := readN(t, c, 5); string(got) != "typed" {
		t.Errorf("Read = %q", got)
	}
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, ErrLogout) {
		t.Fatalf("Read: %v, want ErrLogout", err)
	}
	// The answers to what the client agreed to, and the WILL LOGOUT; no
	// WILL TIMING-MARK.
	expect(t, client, wire(t, `IAC SB TTYPE SEND IAC SE IAC SB NEW-ENVIRON SEND IAC SE IAC WILL LOGOUT`))
	nc, buffered := c.Detach()
	rest := readRaw(t, nc, len(after)-len(buffered))
	if got := append(buffered, rest...); !bytes.Equal(got, after) {
		t.Errorf("after the end: %q, want %q", got, after)
	}
}

// TestHandoverError: a stream ended by any option but LOGOUT reads as a
// handover, which callers tell by errors.Is.
func TestHandoverError(t *testing.T) {
	err := endError(OptStartTLS)
	var he *HandoverError
	if !errors.Is(err, ErrHandover) || !errors.As(err, &he) || he.Option != OptStartTLS {
		t.Errorf("endError(START-TLS) = %#v", err)
	}
	if errors.Is(err, ErrLogout) || errors.Is(endError(OptLogout), ErrHandover) || endError(OptLogout) != ErrLogout {
		t.Error("LOGOUT and a handover confused")
	}
	if err.Error() == "" {
		t.Error("no message")
	}
}

// TestConnState: the snapshot follows negotiation, is never changed once
// handed out, and can be read from other goroutines while Read runs.
func TestConnState(t *testing.T) {
	c, client := answered(t)
	first := c.State()
	if first.Term != "xterm" || first.Cols != 80 || first.Rows != 24 || !first.Us(OptEcho) || !first.Us(OptSGA) ||
		!first.Him(OptTTYPE) || !first.Him(OptNAWS) || first.Him(OptBinary) || first.Us(OptCharset) {
		t.Errorf("after negotiation: %+v", *first)
	}
	frozen := *first
	frozenEnv := first.Env()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := c.State()
			_ = st.Env()
			_, _, _ = c.WindowSize()
			_ = c.Echoing()
		}
	}()
	send(t, client, `IAC WILL BINARY IAC SB NEW-ENVIRON INFO VAR "LANG" VALUE "C" IAC SE IAC SB NAWS 0 100 0 40 IAC SE "a"`)
	readN(t, c, 1)
	close(stop)
	wg.Wait()
	expect(t, client, wire(t, `IAC DO BINARY`))

	st := c.State()
	if st == first || !st.Him(OptBinary) || st.Cols != 100 || st.Rows != 40 || st.Env()["LANG"] != "C" {
		t.Errorf("after more: %+v env %v", *st, st.Env())
	}
	if fmt.Sprint(*first) != fmt.Sprint(frozen) || !maps.Equal(first.Env(), frozenEnv) {
		t.Errorf("an old State changed: %+v env %v", *first, first.Env())
	}
	// Env is the caller's to change.
	st.Env()["LANG"] = "x"
	if c.State().Env()["LANG"] != "C" {
		t.Error("Env's map is shared")
	}
	if !c.BinaryIn() || c.Charset() != "" {
		t.Errorf("BinaryIn %v Charset %q", c.BinaryIn(), c.Charset())
	}
}
