package session

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Buffers of the bridge.
const (
	// bufSize is copyOut's batch: several PTY reads for one socket write.
	bufSize = 32 << 10
	// inBufSize is the input's own buffer, held for the session's whole
	// life: typing fits it many times over. Bulk input (a paste, a file
	// sent with a client's send command) gets a bufSize buffer from
	// bulkBufs while it lasts (see input).
	inBufSize = 1 << 10
)

// bulkBufs holds copyOut's read buffers, and copyIn's during bulk input. A
// buffer is taken when the PTY has output to read (or a read of input
// filled copyIn's small buffer) and given back when the flow stops, so an
// idle session holds none of them.
var bulkBufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyOut forwards PTY output to the client: large reads, and one write
// for what they bring. It reports whether it stopped because writing to
// the client failed.
func (s *Session) copyOut() (clientGone bool) {
	rc, err := s.master.SyscallConn()
	if err != nil {
		return false
	}
	var buf *[]byte
	defer func() {
		if buf != nil {
			bulkBufs.Put(buf)
		}
	}()
	for {
		var n int
		var status byte
		var rerr error
		// rc.Read calls the function again each time the PTY becomes
		// readable, until it returns true; it fails once Run closes the
		// master.
		err := rc.Read(func(fd uintptr) bool {
			if buf == nil {
				buf = bulkBufs.Get().(*[]byte)
			}
			n, status, rerr = s.readOutput(int(fd), *buf)
			if n == 0 && status == 0 && rerr == nil {
				bulkBufs.Put(buf) // nothing ready: wait without a buffer
				buf = nil
				return false
			}
			return true
		})
		if n > 0 {
			s.writing.Store(true)
			werr := s.writeOutput((*buf)[:n])
			// lastOut first, so drain sees at least one of the two.
			s.lastOut.Store(time.Now().UnixNano())
			s.writing.Store(false)
			if werr != nil {
				return true
			}
			s.bytesOut.Add(int64(n))
		}
		if status != 0 {
			s.ptyStatus(status)
		}
		if err != nil || rerr != nil {
			return false // EIO: every process closed the terminal; or closed by Run
		}
	}
}

// readOutput reads what the terminal has ready into buf, in several reads
// if need be (it hands out at most about 4 KiB a read), so that one socket
// write carries it all; a small first read is returned at once when an
// echo is due.
// In packet mode every read starts with a status byte: 0 before data, and
// dropped; else a status, which ends the batch and is returned. n == 0
// with no status and no error: nothing was ready.
func (s *Session) readOutput(fd int, buf []byte) (n int, status byte, err error) {
	for len(buf)-n >= 4096 {
		m, err := unix.Read(fd, buf[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, 0, nil
		case err != nil:
			return n, 0, err
		case m == 0:
			return n, 0, io.EOF
		}
		if s.packet {
			if buf[n] != 0 {
				return n, buf[n], nil
			}
			copy(buf[n:], buf[n+1:n+m])
			m--
		}
		n += m
		if n < smallRead && s.echoDue.Swap(false) {
			// A keystroke's echo: out at once. Looking for more first
			// (a read that finds none) would put a system call between
			// the keystroke and its echo; the next call makes it after
			// the write instead. Only when the client has typed since
			// the last write: a program writing short lines (cat of a
			// text file) would otherwise have each line written alone
			// whenever this reader keeps up with it, a socket write and
			// a packet per line.
			return n, 0, nil
		}
	}
	return n, 0, nil
}

// smallRead is the size below which a first read is written without
// reading on, when an echo is due (echoDue): what typing and its echo
// bring. Bulk output comes in reads of about 4 KiB and is batched.
const smallRead = 128

// ptyStatus acts on a packet-mode status byte: the program turned XON/XOFF
// flow control on or off, so the client is told to handle ^S and ^Q itself
// or to send them on (LFLOW, if it agreed to be told).
func (s *Session) ptyStatus(status byte) {
	switch {
	case status&unix.TIOCPKT_DOSTOP != 0:
		s.conn.SetFlowControl(true)
	case status&unix.TIOCPKT_NOSTOP != 0:
		s.conn.SetFlowControl(false)
	}
}

// flowControl reports whether the terminal does XON/XOFF flow control with
// ^S and ^Q, the kernel's own test for TIOCPKT_DOSTOP.
func flowControl(t *unix.Termios) bool {
	return t.Iflag&unix.IXON != 0 && t.Cc[unix.VSTOP] == 0x13 && t.Cc[unix.VSTART] == 0x11
}

// blockedInput is how long a write of client data to the terminal may
// block before we check for a Synch the kernel could not announce (its
// urgent byte waits behind the data we are not reading).
const blockedInput = 250 * time.Millisecond

// writeInput writes client data to the terminal and reports whether the
// terminal is still there. A write blocked behind a program that does not
// read is cut short when the client sends a Synch: Conn's urgent handler
// sets a past deadline, and the blockedInput deadline catches the Synchs
// the kernel cannot announce yet. If urgent data is then ahead of us, what
// is left of the write came before the mark and is discarded (RFC 854),
// as Read discards the rest up to the DM; else the write goes on.
func (s *Session) writeInput(p []byte) bool {
	// What the terminal takes at once (a keystroke, a line) is written
	// without a deadline: arming one moves a runtime timer, a few µs on
	// each keystroke's way to its echo (docs/performance.md, Keystrokes).
	// Only what it does not take waits, with the deadline.
	s.echoDue.Store(true)
	n, err := s.writeNow(p)
	if err != nil {
		return false
	}
	p = p[n:]
	for len(p) > 0 {
		s.master.SetWriteDeadline(time.Now().Add(blockedInput))
		n, err := s.master.Write(p)
		p = p[n:]
		if err == nil {
			return true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		if s.conn.UrgentPending() {
			return true
		}
		if s.interrupted.Load() {
			// The session is ending (wake): the rest of this input
			// is not waited on, behind a program that may never read.
			return true
		}
	}
	return true
}

// writeNow writes what the terminal takes of p without waiting, by one
// write(2) on the master; n < len(p) when its input is full. A deadline
// already past (a Synch, wake) is left to writeInput's loop.
func (s *Session) writeNow(p []byte) (int, error) {
	// Asked for each time, not kept: the compiler then sees its concrete
	// type, and neither it nor the function below is allocated.
	rc, err := s.master.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), p)
			if werr != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err // closed
	case werr == unix.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
