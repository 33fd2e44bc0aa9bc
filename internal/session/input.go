package session

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
)

// input is the state of forwarding client data to the PTY: the buffers,
// and whether the PTY still takes data.
//
// It reads into a small buffer of its own, and into a large one from
// bulkBufs while reads bring at least half the small one's size, as a
// read that filled it does even if every byte came as a doubled IAC
// (typing never does): an idle session keeps 1 KiB, bulk input still
// moves in large reads, and as much of it is held here as before, which
// matters to a Synch sent behind it (see writeInput).
type input struct {
	small []byte
	large *[]byte // from bulkBufs, while input comes in bulk
	buf   []byte  // small or *large
	ptyOK bool    // the terminal is still there
	ended bool    // reading the client failed: it is not read again
}

func newInput() *input {
	small := make([]byte, inBufSize)
	return &input{small: small, buf: small, ptyOK: true}
}

// release gives back the large buffer, if it holds one.
func (in *input) release() {
	if in.large != nil {
		bulkBufs.Put(in.large)
		in.large, in.buf = nil, in.small
	}
}

// forwardInput reads the client once and writes what it brought to the
// PTY. A read that fails for any reason but a deadline (wake, a
// tick) ends the input for good.
func (s *Session) forwardInput(in *input) error {
	n, err := s.conn.Read(in.buf)
	if n > 0 {
		s.lastIn.Store(time.Now().UnixNano())
		s.bytesIn.Add(int64(n))
		if in.ptyOK {
			s.tapInput(in.buf[:n])
			in.ptyOK = s.writeInput(in.buf[:n])
		}
	}
	switch bulk := n >= len(in.small)/2; {
	case bulk && in.large == nil:
		in.large = bulkBufs.Get().(*[]byte)
		in.buf = *in.large
	case !bulk:
		in.release()
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		in.ended = true
		in.release()
		if errors.Is(err, protocol.ErrLogout) {
			s.loggedOut.Store(true)
		}
	}
	return err
}

// copyIn forwards client data to the PTY until a read of the client
// fails. After the PTY is gone it keeps reading, so the connection is
// drained until the client closes it (or the deadline teardown set).
func (s *Session) copyIn(in *input) {
	for !in.ended {
		if s.forwardInput(in) != nil {
			return
		}
	}
}

// forward forwards client input until something ends the session, and
// returns why: the client went (or asked to be logged out), copyOut ended
// (the terminal is gone, or the client stopped taking output), ctx was
// cancelled, or the shell exited and its output has been drained. A panic
// in the input path ends the session like a disconnect (logPanic).
func (s *Session) forward(ctx context.Context, in *input, outDone <-chan struct{}, clientGone *bool) (reason Reason) {
	defer func() {
		if r := recover(); r != nil {
			s.logPanic("input", r)
			in.ended = true // its state is not to be trusted any more
		}
	}()
	reason = ReasonDisconnect
	var drainEnd time.Time // drainLimit after the shell's exit; zero before
	for {
		if r, done := s.decide(ctx, outDone, clientGone, &drainEnd); done {
			return r
		}
		for {
			err := s.forwardInput(in)
			if err == nil {
				continue
			}
			if in.ended {
				switch {
				case s.loggedOut.Load():
					return ReasonLogout
				case ctx.Err() != nil:
					return ReasonEnded // the read failed because ctx cut a reply short (endInput)
				}
				return ReasonDisconnect
			}
			break // a deadline: woken, or the drain's tick
		}
		// Set the next deadline before looking at what woke us: a wake-up
		// after this sets a deadline past it; one before it is seen below.
		next := time.Time{}
		if !drainEnd.IsZero() {
			next = time.Now().Add(drainTimeout / 4)
		}
		s.conn.NetConn().SetReadDeadline(next)
	}
}

// decide is what Run's select was: it reports whether the session ends
// now, and why. Once the shell has exited, the output it left is still
// forwarded (see drainTimeout), so *drainEnd is set and the read deadline
// ticks until copyOut ends, drainTimeout passes with no output, or
// *drainEnd is reached.
// clientGone is read once outDone is closed (copyOut sets it before).
func (s *Session) decide(ctx context.Context, outDone <-chan struct{}, clientGone *bool, drainEnd *time.Time) (Reason, bool) {
	if drainEnd.IsZero() {
		select {
		case <-s.exited:
			// Forward what the shell wrote before it exited. The read ends
			// with EIO once no process holds the terminal. While output
			// still flows (a slow client, a loaded machine) it goes on; a
			// background process that keeps the terminal open but quiet
			// gets drainTimeout, and one that keeps writing drainLimit.
			now := time.Now()
			*drainEnd = now.Add(drainLimit)
			s.conn.NetConn().SetReadDeadline(now.Add(drainTimeout / 4))
			// This goroutine's own writes to the client (replies to
			// what it reads) and copyOut's are bounded as teardown
			// would bound them after drainLimit: a client that stops
			// reading must not keep the session past it.
			s.conn.NetConn().SetWriteDeadline(now.Add(drainLimit + lastWriteTimeout))
			// The first look at quiet is at the first tick, not now:
			// what the shell wrote last may still be on its way
			// through the terminal when its exit is seen.
			select {
			case <-outDone:
				return ReasonExit, true
			default:
				return "", false
			}
		default:
		}
	}
	if !drainEnd.IsZero() {
		select {
		case <-outDone:
			return ReasonExit, true
		default:
		}
		quiet := !s.writing.Load() && time.Since(time.Unix(0, s.lastOut.Load())) >= drainTimeout
		return ReasonExit, quiet || time.Now().After(*drainEnd)
	}
	// ctx first: a kill that cut this goroutine's reply to the client
	// short (endInput) also cuts copyOut's writes, and was the cause.
	if ctx.Err() != nil {
		return ReasonEnded, true
	}
	select {
	case <-outDone:
		// Either the client stopped taking output, or no process holds
		// the terminal any more: the shell is exiting.
		if *clientGone {
			return ReasonDisconnect, true
		}
		return ReasonExit, true
	default:
		return "", false
	}
}

// armWake makes wake take effect, for Run's forward; disarmWake ends
// that, before teardown sets deadlines of its own.
func (s *Session) armWake() {
	s.wakeMu.Lock()
	s.wakeArmed = true
	s.wakeMu.Unlock()
}

func (s *Session) disarmWake() {
	s.wakeMu.Lock()
	s.wakeArmed = false
	s.wakeMu.Unlock()
	s.conn.NetConn().SetReadDeadline(time.Time{})
}

// endInput has Run's goroutine, in a read of the client or a blocked
// write to the terminal, look at what has happened: copyOut ended, or ctx
// was cancelled (shellExited does the same for the shell's exit). What
// happened must be visible (a channel closed) before the call. Writes to
// the client are bounded as teardown bounds them, for Run's goroutine may
// be in one (a reply to what it read) that a client which does not read
// would keep forever. Any goroutine.
func (s *Session) endInput() { s.wake(lastWriteTimeout) }

// wake is endInput's and shellExited's: writeBound is how long writes to
// the client may still take.
func (s *Session) wake(writeBound time.Duration) {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if !s.wakeArmed {
		return
	}
	s.interrupted.Store(true)
	s.conn.NetConn().SetReadDeadline(aLongTimeAgo)
	s.master.SetWriteDeadline(aLongTimeAgo)
	if writeBound > 0 {
		s.conn.NetConn().SetWriteDeadline(time.Now().Add(writeBound))
	}
}

// aLongTimeAgo is a deadline that has passed: it cuts a wait short.
var aLongTimeAgo = time.Unix(1, 0)

// shellExited records the shell's exit status once it has been reaped,
// and tells Run.
func (s *Session) shellExited(status error) {
	s.status = status
	close(s.exited)
	// Output is still forwarded (decide), for drainLimit at most; the
	// bound on writes to the client is set here as well as there, for
	// Run's goroutine may be in a write that never ends, and not get to
	// decide.
	s.wake(drainLimit + lastWriteTimeout)
}
