package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// safetyNet bounds waits that only a bug could make long; tests never
// depend on it for their result.
const safetyNet = 30 * time.Second

// tcpPair returns the two ends of a loopback TCP connection. TCP (not
// net.Pipe) so writes of a few bytes do not wait for the peer to read,
// as with a real client.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return server, client
}

// expect reads exactly what the client should receive next.
func expect(t *testing.T, client net.Conn, want []byte) {
	t.Helper()
	client.SetReadDeadline(time.Now().Add(safetyNet))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("client read: %v (got %s, want %s)", err, formatWire(got), formatWire(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client got %s, want %s", formatWire(got), formatWire(want))
	}
}

func send(t *testing.T, client net.Conn, tokens string) {
	t.Helper()
	if _, err := client.Write(wire(t, tokens)); err != nil {
		t.Fatal(err)
	}
}

// negotiateAsync runs Negotiate and returns its result channel.
func negotiateAsync(c *Conn) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.Negotiate() }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(safetyNet):
		t.Fatal("Negotiate did not return")
		return nil
	}
}

// readN reads from c until it has n bytes.
func readN(t *testing.T, c *Conn, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 1024)
	for len(got) < n {
		m, err := c.Read(buf)
		got = append(got, buf[:m]...)
		if err != nil {
			t.Fatalf("Read after %q: %v", got, err)
		}
	}
	return got
}

var offers = `IAC WILL ECHO IAC WILL SGA IAC DO TTYPE IAC DO NAWS IAC DO NEW-ENVIRON IAC WILL CHARSET`

// offered returns a Conn negotiating in the background (with a timeout no
// test waits for) and its client, which has read our offers.
func offered(t *testing.T) (c *Conn, client net.Conn, done <-chan error) {
	t.Helper()
	srv, client := tcpPair(t)
	cfg := testConfig()
	cfg.NegotiationTimeout = time.Minute
	c = NewConn(srv, cfg)
	done = negotiateAsync(c)
	expect(t, client, wire(t, offers))
	return c, client, done
}

// TestNegotiateAnswered: a client that answers everything ends Negotiate
// at once, long before the timeout; its typeahead is kept for Read.
func TestNegotiateAnswered(t *testing.T) {
	c, client, done := offered(t)
	send(t, client, acceptAll+` IAC SB NAWS 0 80 0 24 IAC SE "typed"`)
	expect(t, client, wire(t, `IAC SB TTYPE SEND IAC SE IAC SB NEW-ENVIRON SEND IAC SE`))
	send(t, client, `IAC SB TTYPE IS "XTERM" IAC SE " ahead" CR LF`)
	send(t, client, `IAC SB NEW-ENVIRON IS VAR "LANG" VALUE "C" VAR "USER" VALUE "-f root" IAC SE`)

	if err := wait(t, done); err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	// Returned because everything was answered, not at the deadline.
	if c.e.negotiating() {
		t.Fatal("Negotiate returned with answers outstanding")
	}
	if got := c.Term(); got != "xterm" {
		t.Errorf("Term() = %q", got)
	}
	if got := c.Env(); !maps.Equal(got, map[string]string{"LANG": "C"}) {
		t.Errorf("Env() = %q", got)
	}
	if cols, rows, ok := c.WindowSize(); cols != 80 || rows != 24 || !ok {
		t.Errorf("WindowSize() = %d, %d, %v", cols, rows, ok)
	}
	if !c.Echoing() || c.BinaryIn() {
		t.Errorf("Echoing %v BinaryIn %v", c.Echoing(), c.BinaryIn())
	}
	if got := readN(t, c, len("typed ahead\r")); string(got) != "typed ahead\r" {
		t.Errorf("typeahead %q", got)
	}
	// Env returns a copy.
	c.Env()["LANG"] = "changed"
	if c.Env()["LANG"] != "C" {
		t.Error("Env() shares its map")
	}
}

// TestNegotiateSilent: a client that never answers costs the timeout, and
// is not an error; the deadline is gone afterwards.
func TestNegotiateSilent(t *testing.T) {
	srv, client := tcpPair(t)
	cfg := testConfig()
	cfg.NegotiationTimeout = 50 * time.Millisecond
	c := NewConn(srv, cfg)
	done := negotiateAsync(c)
	expect(t, client, wire(t, offers))
	if err := wait(t, done); err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	if !c.e.negotiating() {
		t.Fatal("silent client answered?")
	}
	if c.Term() != "" || len(c.Env()) != 0 {
		t.Errorf("Term %q Env %q", c.Term(), c.Env())
	}
	if _, _, ok := c.WindowSize(); ok {
		t.Error("WindowSize ok without NAWS")
	}
	// The negotiation deadline has passed; Read must not inherit it.
	send(t, client, `"hello"`)
	if got := readN(t, c, 5); string(got) != "hello" {
		t.Errorf("Read = %q", got)
	}
	// Late answers are handled by Read.
	send(t, client, acceptAll+` IAC SB TTYPE IS "VT100" IAC SE IAC SB NAWS 0 100 0 30 IAC SE "x"`)
	if got := readN(t, c, 1); string(got) != "x" {
		t.Errorf("Read = %q", got)
	}
	expect(t, client, wire(t, `IAC SB TTYPE SEND IAC SE IAC SB NEW-ENVIRON SEND IAC SE`))
	if c.Term() != "vt100" {
		t.Errorf("Term() = %q", c.Term())
	}
	if cols, rows, _ := c.WindowSize(); cols != 100 || rows != 30 {
		t.Errorf("WindowSize() = %dx%d", cols, rows)
	}
}

func TestNegotiateClientGone(t *testing.T) {
	srv, client := tcpPair(t)
	c := NewConn(srv, Config{NegotiationTimeout: time.Minute})
	done := negotiateAsync(c)
	expect(t, client, wire(t, offers))
	client.Close()
	if err := wait(t, done); !errors.Is(err, io.EOF) {
		t.Fatalf("Negotiate = %v, want EOF", err)
	}
}

// TestNegotiateTypeaheadCap: a client pouring data instead of answering
// ends Negotiate once maxPending is reached; nothing is lost.
func TestNegotiateTypeaheadCap(t *testing.T) {
	srv, client := tcpPair(t)
	c := NewConn(srv, Config{NegotiationTimeout: time.Minute})
	done := negotiateAsync(c)
	expect(t, client, wire(t, offers))
	flood := make([]byte, 3*maxPending)
	for i := range flood {
		flood[i] = 'a' + byte(i%26)
	}
	go client.Write(flood)
	if err := wait(t, done); err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	if !c.e.negotiating() {
		t.Fatal("expected to stop on the typeahead cap, not on answers")
	}
	if got := readN(t, c, len(flood)); !bytes.Equal(got, flood) {
		t.Error("typeahead lost or reordered")
	}
}

func TestConnWrite(t *testing.T) {
	srv, client := tcpPair(t)
	c := NewConn(srv, Config{})
	for _, p := range [][]byte{
		[]byte("plain text\r\n"),
		{1, IAC, 2},
		{IAC},
		{IAC, IAC, 'x', IAC},
		{},
	} {
		n, err := c.Write(p)
		if n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
		expect(t, client, bytes.ReplaceAll(p, []byte{IAC}, []byte{IAC, IAC}))
	}
	// Large and concurrent writes: each one whole, IAC doubled.
	big := bytes.Repeat([]byte{'a', IAC, 'b', 'c'}, 50000)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := c.Write(big); err != nil {
				t.Error(err)
			}
		})
	}
	want := AppendEscaped(nil, big)
	for range 4 {
		expect(t, client, want)
	}
	wg.Wait()
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte("abc"), []byte("abc")},
		{[]byte{IAC}, []byte{IAC, IAC}},
		{[]byte{IAC, IAC}, []byte{IAC, IAC, IAC, IAC}},
		{[]byte{'a', IAC, 'b'}, []byte{'a', IAC, IAC, 'b'}},
		{[]byte{IAC, 'x', IAC}, []byte{IAC, IAC, 'x', IAC, IAC}},
		{[]byte{0xfe, 0, '\r'}, []byte{0xfe, 0, '\r'}},
	}
	for _, tt := range tests {
		if got := AppendEscaped(nil, tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendEscaped(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if got := AppendEscaped([]byte("pre"), tt.in); !bytes.Equal(got, append([]byte("pre"), tt.want...)) {
			t.Errorf("AppendEscaped(pre, %v) = %v", tt.in, got)
		}
	}
}

// answered returns a Conn that has finished negotiating with a client
// agreeing to everything, with the client's end.
func answered(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	c, client, done := offered(t)
	send(t, client, acceptAll+` IAC SB NAWS 0 80 0 24 IAC SE IAC SB TTYPE IS "XTERM" IAC SE IAC SB NEW-ENVIRON IS IAC SE`)
	expect(t, client, wire(t, `IAC SB TTYPE SEND IAC SE IAC SB NEW-ENVIRON SEND IAC SE`))
	if err := wait(t, done); err != nil || c.e.negotiating() {
		t.Fatalf("Negotiate: %v, negotiating %v", err, c.e.negotiating())
	}
	return c, client
}

func TestResizeHandler(t *testing.T) {
	c, client := answered(t)
	type size struct{ cols, rows int }
	var got []size
	c.SetResizeHandler(func(cols, rows int) { got = append(got, size{cols, rows}) })
	send(t, client, `IAC SB NAWS 0 100 0 40 IAC SE IAC SB NAWS 0 0 0 0 IAC SE "x"`)
	readN(t, c, 1)
	send(t, client, `IAC SB NAWS 1 0 0 IAC IAC IAC SE "y"`)
	readN(t, c, 1)
	// One call per usable size; the handler runs in Read, so no waiting.
	want := []size{{100, 40}, {256, 255}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("resize calls %v, want %v", got, want)
	}
	if cols, rows, ok := c.WindowSize(); cols != 256 || rows != 255 || !ok {
		t.Errorf("WindowSize() = %d, %d, %v", cols, rows, ok)
	}
}

func TestConnReadCommands(t *testing.T) {
	c, client := answered(t)
	// The handler records each command with the data the caller had been
	// handed before it: commands act in order with the data.
	var got []byte
	var log []string
	c.SetCommandHandler(func(cmd byte) { log = append(log, fmt.Sprintf("%s after %q", CommandName(cmd), got)) }, IP, EC)
	send(t, client, `"a" IAC IP "b" IAC EC IAC EL "c" IAC AYT IAC IAC`)
	buf := make([]byte, 64)
	for len(got) < 4 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "abc\xff" {
		t.Errorf("Read = %q", got)
	}
	if want := []string{`IP after "a"`, `EC after "ab"`}; !slices.Equal(log, want) {
		t.Errorf("commands %q, want %q", log, want)
	}
	expect(t, client, AYTReply)
	c.SetCommandHandler(nil)
	send(t, client, `IAC IP "d"`)
	if got := readN(t, c, 1); string(got) != "d" || len(log) != 2 {
		t.Errorf("Read = %q, commands %q after the handler was removed", got, log)
	}
	// Only NVT commands can be handed over: asking for others changes nothing.
	c.SetCommandHandler(func(cmd byte) { log = append(log, CommandName(cmd)) }, AYT, IAC, DM, NOP, WILL)
	send(t, client, `IAC NOP "e" IAC IAC`)
	if got := readN(t, c, 2); string(got) != "e\xff" || len(log) != 2 {
		t.Errorf("Read = %q, commands %q", got, log)
	}
	// A read of only commands does not return an empty read.
	send(t, client, `IAC NOP`)
	send(t, client, `IAC DO 99 "f"`)
	if got := readN(t, c, 1); string(got) != "f" {
		t.Errorf("Read = %q", got)
	}
	expect(t, client, wire(t, `IAC WONT 99`))
}

func TestConnReadEmpty(t *testing.T) {
	c, _ := answered(t)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.Read(nil)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if r.n != 0 || r.err != nil {
			t.Errorf("Read(nil) = %d, %v", r.n, r.err)
		}
	case <-time.After(safetyNet):
		t.Fatal("Read(nil) blocked")
	}
}

func TestConnReadEOF(t *testing.T) {
	c, client := answered(t)
	send(t, client, `"bye"`)
	client.Close()
	if got := readN(t, c, 3); string(got) != "bye" {
		t.Errorf("Read = %q", got)
	}
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, io.EOF) {
		t.Errorf("Read at the end = %v, want EOF", err)
	}
}

// TestConnConcurrentUse: Write and the accessors from other goroutines
// while Read handles negotiation and resizes (run with -race).
func TestConnConcurrentUse(t *testing.T) {
	c, client := answered(t)
	go io.Copy(io.Discard, client)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Write([]byte{'o', IAC})
			c.Term()
			c.Env()
			c.WindowSize()
		}
	})
	go func() {
		for i := range 200 {
			client.Write([]byte{IAC, SB, OptNAWS, 0, byte(10 + i%100), 0, 24, IAC, SE, IAC, DO, 99, 'z'})
		}
	}()
	readN(t, c, 200)
	close(stop)
	wg.Wait()
}
