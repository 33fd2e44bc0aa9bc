package server

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// maxPreLogonBytes caps what a connection may send before it has logged
// on. Negotiation and typing a name and password take well under a
// kilobyte; a client sending more is flooding, and is cut off before it
// can cost the logged-on users CPU.
const maxPreLogonBytes = 64 << 10

var errPreLogonFlood = errors.New("client sent too much before logging on")

// preLogonConn counts what the client sends until the logon succeeds.
// It tells the connection's startup of every byte (its progress, for
// eviction).
type preLogonConn struct {
	net.Conn
	st        *startup
	n         int64
	unlimited atomic.Bool
}

func (c *preLogonConn) Read(p []byte) (int, error) {
	if c.unlimited.Load() {
		return c.Conn.Read(p)
	}
	if c.n >= maxPreLogonBytes {
		return 0, errPreLogonFlood
	}
	if room := maxPreLogonBytes - c.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.st.heard()
	}
	return n, err
}

// CloseWrite half-closes the TCP connection underneath.
func (c *preLogonConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// auditFlood records a connection cut off by the pre-logon limit.
func (s *Server) auditFlood(err error, st *startup) {
	if errors.Is(err, errPreLogonFlood) {
		st.ended(outcomeFailed)
		s.flood.record(droppedFlood, sourceName(st.source), st.peer("limit_bytes", maxPreLogonBytes)...)
	}
}

// SyscallConn hands the protocol layer the socket itself, for what
// net.Conn cannot do: urgent data (the Telnet Synch).
func (c *preLogonConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
