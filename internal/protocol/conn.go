package protocol

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// DefaultNegotiationTimeout bounds how long Negotiate waits for a client
// that does not answer. A client that answers is never waited on longer
// than it takes to answer.
const DefaultNegotiationTimeout = time.Second

// maxPending caps the data a client can send while we negotiate (typeahead,
// kept for the application).
const maxPending = 4096

// Config is the policy the application passes in.
type Config struct {
	// NegotiationTimeout bounds Negotiate; 0 means DefaultNegotiationTimeout.
	NegotiationTimeout time.Duration
	// KnownTerm reports whether the host has a terminal description for a
	// terminal type name; the TTYPE cycle stops at the first known one.
	// Nil means none is known: the cycle then runs until the client repeats
	// itself or MaxTermTypes.
	KnownTerm func(name string) bool
	// EnvAllowed reports whether a client environment variable may be
	// kept. Nil keeps none.
	EnvAllowed func(name string) bool
}

// Conn is a server-side Telnet connection. Read returns only data, with
// commands and negotiation handled inside; Write escapes IAC.
//
// Read (and Negotiate) must be called from one goroutine at a time; Write
// and the accessors may be called from any goroutine.
type Conn struct {
	nc net.Conn

	// Reader side: only the reading goroutine touches these.
	e       *engine
	pending []byte // data that arrived during Negotiate
	nbuf    []byte // read buffer for Negotiate

	mu       sync.Mutex // guards the snapshot below and onResize
	term     string
	env      map[string]string
	cols     int
	rows     int
	onResize func(cols, rows int)

	wmu  sync.Mutex // serialises writes to nc
	wbuf []byte     // escape buffer, reused
}

// NewConn wraps nc. It sends nothing until Negotiate.
func NewConn(nc net.Conn, cfg Config) *Conn {
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
	}
	return &Conn{nc: nc, e: newEngine(cfg)}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Negotiate sends our option offers and reads the client's answers until
// every question is answered or the negotiation timeout passes, whichever
// is first. Data the client sends meanwhile is kept for Read. A client that
// never answers is not an error.
func (c *Conn) Negotiate() error {
	if err := c.writeRaw(c.e.start()); err != nil {
		return err
	}
	deadline := time.Now().Add(c.e.cfg.NegotiationTimeout)
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return err
	}
	defer c.nc.SetReadDeadline(time.Time{})
	if c.nbuf == nil {
		c.nbuf = make([]byte, 512)
	}
	for c.e.negotiating() && len(c.pending) < maxPending {
		n, err := c.nc.Read(c.nbuf)
		if n > 0 {
			m := c.e.feed(c.nbuf[:n])
			c.pending = append(c.pending, c.nbuf[:m]...)
			if werr := c.afterFeed(); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Read reads data from the client, handling every Telnet command and
// negotiation on the way. p is also the network read buffer, so a large p
// means large reads.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // else the loop below would spin on empty reads
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			m := c.e.feed(p[:n])
			if werr := c.afterFeed(); werr != nil {
				return m, werr
			}
			if m > 0 {
				return m, nil
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

// afterFeed publishes what the last feed learned and sends its replies.
func (c *Conn) afterFeed() error {
	e := c.e
	if e.learned {
		e.learned = false
		var resize func(int, int)
		c.mu.Lock()
		c.term = e.term()
		c.env = copyEnv(e.env)
		if e.resized {
			e.resized = false
			c.cols, c.rows = e.cols, e.rows
			resize = c.onResize
		}
		c.mu.Unlock()
		if resize != nil {
			resize(e.cols, e.rows)
		}
	}
	if len(e.out) == 0 {
		return nil
	}
	return c.writeRaw(e.takeOut())
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Write sends data to the client, doubling every IAC byte. It is one
// network write per call.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if bytes.IndexByte(p, IAC) < 0 {
		return c.nc.Write(p)
	}
	buf := AppendEscaped(c.wbuf[:0], p)
	_, err := c.nc.Write(buf)
	if cap(buf) <= 64<<10 {
		c.wbuf = buf[:0] // keep for the next call
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// AppendEscaped appends p to dst with every IAC doubled.
func AppendEscaped(dst, p []byte) []byte {
	for {
		i := bytes.IndexByte(p, IAC)
		if i < 0 {
			return append(dst, p...)
		}
		dst = append(dst, p[:i+1]...)
		dst = append(dst, IAC)
		p = p[i+1:]
	}
}

func (c *Conn) writeRaw(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Term returns the terminal type the client reported (lower case), or "".
func (c *Conn) Term() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term
}

// Env returns the allowlisted environment variables the client sent.
func (c *Conn) Env() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copyEnv(c.env)
}

// WindowSize returns the client's window size from NAWS; ok is false if
// the client never sent one.
func (c *Conn) WindowSize() (cols, rows int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cols, c.rows, c.cols > 0
}

// SetResizeHandler sets f to be called (from the reading goroutine) on
// every window size the client sends from now on.
func (c *Conn) SetResizeHandler(f func(cols, rows int)) {
	c.mu.Lock()
	c.onResize = f
	c.mu.Unlock()
}

// SetCommandByte makes the Telnet command cmd (IP, BRK, EC, EL, EOF, SUSP,
// ABORT) arrive in the data stream as b, in its place among the data bytes,
// so it reaches the terminal in order (e.g. IP as the terminal's interrupt
// character). b == 0 makes the command ignored again. Call it from the
// reading goroutine or before it starts.
func (c *Conn) SetCommandByte(cmd, b byte) {
	c.e.cmdBytes[cmd] = b
}

// Echoing reports whether we agreed to echo (the client's local echo is
// off). Reading goroutine only.
func (c *Conn) Echoing() bool { return c.e.us[OptEcho].state == qYes }

// BinaryIn reports whether the client sends in binary mode.
// Reading goroutine only.
func (c *Conn) BinaryIn() bool { return c.e.binaryIn() }
