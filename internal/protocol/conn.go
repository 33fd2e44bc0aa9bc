package protocol

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultNegotiationTimeout bounds how long Negotiate waits for a client
// that does not answer. A client that answers is never waited on longer
// than it takes to answer.
const DefaultNegotiationTimeout = time.Second

// maxPending caps the data a client can send while we negotiate (typeahead,
// kept for the application).
const maxPending = 4096

// ErrLogout is returned by Read once the client has asked to be logged out
// (DO LOGOUT, RFC 727) and we have agreed.
var ErrLogout = errors.New("the client asked to be logged out")

// ErrHandover matches (errors.Is) the *HandoverError that Read returns
// once the client and we have agreed that the connection stops carrying
// Telnet and carries another protocol from the next byte on (START_TLS's
// FOLLOWS, AUTHENTICATION's SSL): the caller then takes the connection
// back with Detach.
var ErrHandover = errors.New("the Telnet stream was handed over")

// HandoverError says which option handed the connection over.
type HandoverError struct {
	Option byte
}

func (e *HandoverError) Error() string {
	return "the Telnet stream was handed over by " + OptionName(e.Option)
}

// Is makes errors.Is(err, ErrHandover) true.
func (e *HandoverError) Is(target error) bool { return target == ErrHandover }

// ErrDetached is returned by every method that reads or writes once
// Detach has handed the connection back.
var ErrDetached = errors.New("the Telnet connection was detached")

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
	// kept. Nil keeps none. XDISPLOC is agreed only if it allows DISPLAY.
	EnvAllowed func(name string) bool
	// OfferTLS offers START_TLS and AUTHENTICATION type SSL: the caller
	// has a certificate and runs the handshake when the stream is handed
	// over (HandedOver, Detach).
	OfferTLS bool
}

// Conn is a server-side Telnet connection. Read returns only data, with
// commands and negotiation handled inside; Write escapes IAC.
//
// Read, Negotiate and Detach must be called from one goroutine at a time;
// Write, State and the other accessors may be called from any goroutine.
type Conn struct {
	nc  net.Conn
	rc  syscall.RawConn // the socket itself, when nc exposes it
	urg *urgentFlag     // set by the urgent-data watcher; nil without one

	negotiationTimeout time.Duration

	// Reader side: only the reading goroutine touches these.
	e       *engine
	pending []byte // data that arrived during Negotiate
	nbuf    []byte // read buffer for Negotiate
	// raw holds client bytes read but not yet parsed, left by a feed that
	// stopped to let the application act (rawBuf is its storage).
	raw, rawBuf []byte
	cmd         byte // a command for onCommand, run at the next Read
	cmdPending  bool
	onCommand   func(cmd byte)
	ended       byte // the option that ended the Telnet stream (stopEnd)
	detached    bool // Detach was called (reader side's copy)

	// st is the engine's latest snapshot, for readers on any goroutine.
	st       atomic.Pointer[State]
	onResize atomic.Pointer[func(cols, rows int)]

	fmu         sync.Mutex // serialises LFLOW decisions and their writes
	lflow       bool       // the client agreed to have its flow control toggled
	lflowAgreed uint32     // State.lflowAgreed when last looked at
	flowKnown   bool       // SetFlowControl was called
	flowWanted  bool       // what the terminal wants
	flowSent    bool       // what the client was last told (or starts with)

	wmu       sync.Mutex // serialises writes to nc
	wDetached bool       // Detach was called: nothing more goes to nc (wmu)
}

// NewConn wraps nc. It sends nothing until Negotiate. If nc exposes its
// socket (syscall.Conn), urgent data stays in the stream (SO_OOBINLINE)
// and a Synch from the client is honoured (Linux).
func NewConn(nc net.Conn, cfg Config) *Conn {
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
	}
	c := &Conn{nc: nc, e: newEngine(cfg), negotiationTimeout: cfg.NegotiationTimeout}
	c.st.Store(c.e.snapshot())
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			if f, id := watchUrgent(rc); f != nil {
				c.urg = f
				runtime.AddCleanup(c, forgetUrgent, id)
			}
		}
	}
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// State returns the negotiated state as it is now. It never changes; a
// later call returns a newer one if negotiation went on. Any goroutine.
func (c *Conn) State() *State { return c.st.Load() }

// Negotiate sends our option offers and reads the client's answers until
// every question is answered or the negotiation timeout passes, whichever
// is first. Data the client sends meanwhile is kept for Read. A client that
// never answers is not an error.
func (c *Conn) Negotiate() error {
	if c.detached {
		return ErrDetached
	}
	if err := c.writeRaw(c.e.start()); err != nil {
		return err
	}
	deadline := time.Now().Add(c.negotiationTimeout)
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return err
	}
	defer c.nc.SetReadDeadline(time.Time{})
	if c.nbuf == nil {
		c.nbuf = make([]byte, 512)
	}
	// A stop (a command, the end of a Synch, the end of the stream) ends
	// it early: Read takes over from there, in order.
	for c.e.negotiating() && len(c.pending) < maxPending && !c.stopped() {
		n, err := c.nc.Read(c.nbuf)
		if n > 0 {
			c.checkUrgent()
			r, werr := c.feed(c.nbuf[:n])
			c.pending = append(c.pending, c.nbuf[:r.n]...)
			c.keepUnparsed(c.nbuf[r.used:n])
			if werr != nil {
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

func (c *Conn) stopped() bool { return c.ended != 0 || c.cmdPending || len(c.raw) > 0 }

// Read reads data from the client, handling every Telnet command and
// negotiation on the way. p is also the network read buffer, so a large p
// means large reads. A command for the application's handler
// (SetCommandHandler) ends the Read that returns the data before it; the
// handler runs at the start of the next Read, once the caller has used
// that data, so commands act in order with the data around them. Once the
// Telnet stream has ended, after the data before its end, Read returns
// ErrLogout or a *HandoverError.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // else the loop below would spin on empty reads
	}
	for {
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			if len(c.pending) == 0 {
				c.pending = nil
			}
			return n, nil
		}
		if c.detached {
			return 0, ErrDetached
		}
		if c.ended != 0 {
			return 0, endError(c.ended)
		}
		if c.cmdPending {
			c.cmdPending = false
			if f := c.onCommand; f != nil {
				f(c.cmd)
			}
		}
		var n int
		var err error
		fromRaw := len(c.raw) > 0
		if fromRaw {
			n = copy(p, c.raw)
		} else {
			n, err = c.nc.Read(p)
			if n > 0 {
				c.checkUrgent()
			}
		}
		if n > 0 {
			r, werr := c.feed(p[:n])
			if fromRaw {
				c.raw = c.raw[r.used:]
			} else {
				c.keepUnparsed(p[r.used:n])
			}
			if werr != nil {
				return r.n, werr
			}
			if r.n > 0 {
				return r.n, nil
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

// HandedOver reports whether the client and we agreed to leave Telnet for
// another protocol, and by which option (OptStartTLS, OptAuth): after
// Negotiate, a caller that offered TLS looks here before it reads. The
// data the client sent before is dropped with the Telnet layer by Detach.
func (c *Conn) HandedOver() (opt byte, ok bool) {
	if c.ended == 0 || c.ended == OptLogout {
		return 0, false
	}
	return c.ended, true
}

// endError is what Read returns once the option opt ended the stream.
func endError(opt byte) error {
	if opt == OptLogout {
		return ErrLogout
	}
	return &HandoverError{Option: opt}
}

// feed runs the engine over p, takes over what made it stop, publishes
// what it learned and sends its replies.
func (c *Conn) feed(p []byte) (feedResult, error) {
	r := c.e.feed(p)
	switch r.stop {
	case stopCommand:
		c.cmd, c.cmdPending = r.arg, true
	case stopMark:
		// Another Synch may be queued behind this one (BSD's stilloob).
		c.UrgentPending()
	case stopEnd:
		c.ended = r.arg
	}
	return r, c.afterFeed(r)
}

// keepUnparsed keeps what a stopped feed did not parse, when it came from
// the network (c.raw is empty then).
func (c *Conn) keepUnparsed(b []byte) {
	if len(b) > 0 {
		c.raw = append(c.rawBuf[:0], b...)
		c.rawBuf = c.raw[:0]
	}
}

// Detach ends the Telnet layer and hands back what is under it: the
// connection, and the bytes read from it that the Telnet layer has not
// parsed (nil if none), which come before anything still to be read from
// nc. nc then belongs to the caller.
//
// It is how a connection leaves Telnet for another protocol: once Read has
// returned a *HandoverError, the engine stopped right after the byte that
// ended the Telnet stream (the client's IAC SE of SB START_TLS FOLLOWS,
// say), so buffered is exactly what the client sent after it: the start
// of a TLS handshake, to be read before nc by the tls.Conn, and a new
// Conn over that starts negotiation afresh. Our replies up to that point
// have been written.
//
// After Detach, Read and Negotiate return ErrDetached, the writing
// methods return ErrDetached without touching nc (a Write under way on
// another goroutine finishes first), Close does nothing, and the urgent
// data watcher no longer looks at nc (SO_OOBINLINE stays on). Data
// decoded but not yet returned by Read is dropped: after a
// *HandoverError there is none. Called at another time, buffered may
// start inside a Telnet command. Call it from the reading goroutine, not
// during a Read or Negotiate; a second call returns nc and nil.
func (c *Conn) Detach() (nc net.Conn, buffered []byte) {
	c.wmu.Lock()
	c.wDetached = true
	c.wmu.Unlock()
	if c.urg != nil {
		unwatchUrgent(c.rc, c.urg)
		c.urg = nil
	}
	if len(c.raw) > 0 {
		buffered = bytes.Clone(c.raw)
	}
	c.detached = true
	c.raw, c.rawBuf, c.pending, c.nbuf = nil, nil, nil, nil
	return c.nc, buffered
}

// Resume carries the Telnet layer on over nc after a handover that keeps
// the negotiated state: AUTHENTICATION type SSL (RFC 2941 changes nothing
// of the options agreed before it, and telnet-ssl and C-Kermit answer no
// offer twice). nc is the TLS connection over the one Detach returned;
// telnet is what the client sent between the handover and its handshake
// (the answers it had queued, whole Telnet commands: SkipCommands), parsed
// now. Negotiate may then be called again: it sends no offers twice and
// waits for the answers still missing. After a START_TLS handover the
// draft wants negotiation afresh: use a new Conn instead. Urgent data is
// not watched on nc (it may not be a socket). Reading goroutine only.
func (c *Conn) Resume(nc net.Conn, telnet []byte) error {
	c.wmu.Lock()
	c.nc, c.wDetached = nc, false
	c.wmu.Unlock()
	c.rc, c.detached, c.ended = nil, false, 0
	c.e.resume()
	if len(telnet) == 0 {
		return nil
	}
	buf := bytes.Clone(telnet)
	for len(buf) > 0 {
		r, err := c.feed(buf)
		c.pending = append(c.pending, buf[:r.n]...)
		buf = buf[r.used:]
		if err != nil || r.stop == stopEnd {
			return err
		}
	}
	return nil
}

// checkUrgent runs after each network read: if the watcher saw urgent data
// arrive and it is still ahead of us, what we read precedes the mark (a
// read never crosses it) and is discarded up to the DM. One atomic load
// when nothing is urgent.
func (c *Conn) checkUrgent() {
	if c.urg != nil && c.urg.set.Load() && c.urg.set.Swap(false) {
		c.UrgentPending()
	}
}

// UrgentPending reports whether the client has sent urgent data (a Synch)
// that has not been read past yet, asking the kernel; false when the
// socket cannot be asked. If it has, Read discards data from now on up to
// the DM that ends the Synch (RFC 854), and the caller should drop client
// data it still holds: it came before the mark. Reading goroutine only.
func (c *Conn) UrgentPending() bool {
	if c.rc == nil || !urgentPending(c.rc) {
		return false
	}
	c.e.discardToMark()
	return true
}

// SetUrgentHandler sets f to be called, from another goroutine, as soon as
// urgent data from the client arrives: the application can then stop
// writing client data that is to be discarded (to a terminal whose
// program does not read) and ask UrgentPending. f must not block. Nil
// removes it. The kernel reports urgent data only once the urgent byte
// itself has arrived, which it cannot while the socket's receive buffer
// is full: an application blocked that long should ask UrgentPending
// from time to time.
func (c *Conn) SetUrgentHandler(f func()) {
	if c.urg == nil {
		return
	}
	if f == nil {
		c.urg.handler.Store(nil)
		return
	}
	c.urg.handler.Store(&f)
}

// afterFeed publishes what the last feed learned and sends its replies.
func (c *Conn) afterFeed(r feedResult) error {
	e := c.e
	var st *State
	if r.changed {
		st = e.snapshot()
		c.st.Store(st)
	}
	if r.resized {
		if f := c.onResize.Load(); f != nil {
			st := c.st.Load()
			(*f)(st.Cols, st.Rows)
		}
	}
	if err := c.writeRaw(e.takeOut()); err != nil {
		return err
	}
	if st == nil {
		return nil
	}
	// After the replies, so DO LFLOW goes out before the first LFLOW OFF.
	c.fmu.Lock()
	defer c.fmu.Unlock()
	c.lflow = st.Him(OptLFlow)
	if c.lflowAgreed != st.lflowAgreed {
		// RFC 1372: each time it is agreed, the client starts with flow
		// control on.
		c.lflowAgreed = st.lflowAgreed
		c.flowSent = true
	}
	return c.syncFlowLocked()
}

// escBufs holds Write's escape buffers, shared by every Conn, so a
// session holds one only while it writes.
var escBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxEscBuf is the largest escape buffer kept: a 32 KiB PTY read of all
// IAC escapes to 64 KiB.
const maxEscBuf = 128 << 10

// Write sends data to the client, doubling every IAC byte. It is one
// network write per call.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wDetached {
		return 0, ErrDetached
	}
	if bytes.IndexByte(p, IAC) < 0 {
		return c.nc.Write(p)
	}
	bp := escBufs.Get().(*[]byte)
	buf := AppendEscaped((*bp)[:0], p)
	_, err := c.nc.Write(buf)
	if cap(buf) <= maxEscBuf {
		*bp = buf[:0]
		escBufs.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// WritePrompt writes a prompt (login:, password:): Write, followed by
// IAC EOR when the client asked us to mark records (RFC 885), as MUD
// clients do to tell prompts from other lines, or else by IAC GA when it
// refused SGA (RFC 858: it waits for a GA where the server waits for
// input; TinyFugue shows an unterminated prompt only then). A client that
// never answered gets neither: a raw socket would show the bytes.
func (c *Conn) WritePrompt(p []byte) (int, error) {
	st := c.State()
	var mark byte
	switch {
	case st.Us(OptEOR):
		mark = EOR
	case st.goAhead:
		mark = GA
	default:
		return c.Write(p)
	}
	buf := append(AppendEscaped(nil, p), IAC, mark)
	if err := c.writeRaw(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

var iacByte = []byte{IAC}

// AppendEscaped appends p to dst with every IAC doubled.
func AppendEscaped(dst, p []byte) []byte {
	n := bytes.Count(p, iacByte)
	if n == 0 {
		return append(dst, p...)
	}
	// At most one allocation, with a byte of slack for the dense loop.
	dst = slices.Grow(dst, len(p)+n+1)
	if n < len(p)/10 {
		// Sparse (text, compressed data): copy the runs between IACs.
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
	// Dense (a dump of erased flash): a call per run would cost more than
	// the bytes. This loop has no branch to mispredict: it writes each byte
	// and, after it, the IAC that doubles it, which the next byte
	// overwrites unless the byte was IAC.
	start := len(dst)
	out := dst[start : start+len(p)+n+1]
	j := 0
	for _, b := range p {
		out[j] = b
		out[j+1] = IAC
		step := 1
		if b == IAC {
			step = 2
		}
		j += step
	}
	return dst[:start+j]
}

func (c *Conn) writeRaw(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wDetached {
		return ErrDetached
	}
	_, err := c.nc.Write(b)
	return err
}

// SendSynch sends the Telnet Synch (RFC 854): IAC DM with the DM marked
// urgent, so the client discards the output still in transit up to it.
// The answer to Abort Output. Without access to the socket, IAC DM goes
// out unmarked.
func (c *Conn) SendSynch() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wDetached {
		return ErrDetached
	}
	if _, err := c.nc.Write([]byte{IAC}); err != nil {
		return err
	}
	if c.rc != nil {
		if err := sendUrgent(c.rc, DM); !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	_, err := c.nc.Write([]byte{DM})
	return err
}

// SetFlowControl tells the client whether to do XON/XOFF flow control
// itself (LFLOW ON/OFF, RFC 1372), if it agreed to be told: on when the
// terminal's IXON is, so ^S and ^Q act at once at the client; off when a
// program wants them as input. Only changes are sent. Any goroutine.
func (c *Conn) SetFlowControl(on bool) error {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	c.flowKnown, c.flowWanted = true, on
	return c.syncFlowLocked()
}

func (c *Conn) syncFlowLocked() error {
	if !c.lflow || !c.flowKnown || c.flowSent == c.flowWanted {
		return nil
	}
	c.flowSent = c.flowWanted
	v := lflowOFF
	if c.flowWanted {
		v = lflowON
	}
	return c.writeRaw([]byte{IAC, SB, OptLFlow, v, IAC, SE})
}

// Close closes the underlying connection; after Detach it does nothing.
func (c *Conn) Close() error {
	c.wmu.Lock()
	detached := c.wDetached
	c.wmu.Unlock()
	if detached {
		return nil
	}
	if c.urg != nil {
		unwatchUrgent(c.rc, c.urg)
	}
	return c.nc.Close()
}

// Term returns the terminal type to use (State.Term).
func (c *Conn) Term() string { return c.State().Term }

// Env returns the allowlisted environment variables the client sent
// (NEW-ENVIRON or OLD-ENVIRON, and DISPLAY from XDISPLOC).
func (c *Conn) Env() map[string]string { return c.State().Env() }

// WindowSize returns the client's window size from NAWS; ok is false if
// the client never sent one.
func (c *Conn) WindowSize() (cols, rows int, ok bool) {
	st := c.State()
	return st.Cols, st.Rows, st.Cols > 0
}

// TermSpeed returns the terminal's transmit and receive speeds in bits per
// second from TSPEED (RFC 1079); ok is false if the client sent none.
func (c *Conn) TermSpeed() (tx, rx int, ok bool) {
	st := c.State()
	return st.TxSpeed, st.RxSpeed, st.TxSpeed > 0
}

// Charset returns the character set agreed through CHARSET (RFC 2066):
// "UTF-8", or "" if none was.
func (c *Conn) Charset() string { return c.State().Charset }

// SetResizeHandler sets f to be called (from the reading goroutine) on
// every window size the client sends from now on.
func (c *Conn) SetResizeHandler(f func(cols, rows int)) {
	if f == nil {
		c.onResize.Store(nil)
		return
	}
	c.onResize.Store(&f)
}

// nvtCommands are the commands SetCommandHandler can hand over.
var nvtCommands = [...]byte{IP, AO, BRK, EC, EL, EOF, SUSP, ABORT}

// NVTCommands returns the commands SetCommandHandler can hand to the
// application: Interrupt Process, Abort Output, Break, Erase Character,
// Erase Line (RFC 854) and End of File, Suspend, Abort (RFC 1184).
func NVTCommands() []byte { return slices.Clone(nvtCommands[:]) }

// SetCommandHandler makes the listed NVT commands (from NVTCommands()) reach
// f, in order with the data around them; the others stay ignored. f runs
// in the reading goroutine, at the start of the Read after the one that
// returned the data before the command. Nil f ignores them all again.
// Until it is called every command is ignored, which is what keeps
// commands sent before logon harmless. Call it from the reading goroutine
// or before it starts.
func (c *Conn) SetCommandHandler(f func(cmd byte), cmds ...byte) {
	c.onCommand = f
	var handled []byte
	if f != nil {
		for _, b := range cmds {
			if slices.Contains(nvtCommands[:], b) {
				handled = append(handled, b)
			}
		}
	}
	c.e.handleCommands(handled)
}

// Echoing reports whether we agreed to echo (the client's local echo is
// off).
func (c *Conn) Echoing() bool { return c.State().Us(OptEcho) }

// BinaryIn reports whether the client sends in binary mode.
func (c *Conn) BinaryIn() bool { return c.State().Him(OptBinary) }
