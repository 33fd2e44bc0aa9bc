package tlsconf

import (
	"net"
)

// LooksLikeClientHello reports whether b (at least 3 bytes) starts a TLS
// handshake record: content type 22 and a 3.x record version. A Telnet
// client that said it would start TLS and then sends anything else is
// carrying on in clear text.
func LooksLikeClientHello(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04
}

// prefixConn is a connection whose first reads return bytes already read
// from it (by the Telnet parser, up to the end of START_TLS's FOLLOWS).
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// WithPrefix returns nc with buffered in front of what is still to be read
// from it.
func WithPrefix(nc net.Conn, buffered []byte) net.Conn {
	if len(buffered) == 0 {
		return nc
	}
	return &prefixConn{Conn: nc, prefix: append([]byte(nil), buffered...)}
}
