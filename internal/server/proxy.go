package server

// The PROXY protocol (v1 and v2, github.com/pires/go-proxyproto): behind a
// load balancer, each connection from it starts with a header that says
// which client it carries. From then on that client's address is the
// connection's RemoteAddr, so the limits, the lockout, allow and deny,
// the session list and the audit trail all see the client, not the
// balancer. A header is required from proxy_protocol.from and refused from
// everyone else, so no client can claim another's address.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// proxyHeaderTimeout bounds the wait for a balancer's header (or
// login_timeout, if shorter). A balancer sends it at once, with the
// connection; a trusted address that sends nothing is misconfigured.
const proxyHeaderTimeout = 5 * time.Second

// maxProxyReading caps the connections from balancers whose header is
// still awaited, so a misbehaving balancer holds a bounded number of
// goroutines and descriptors.
const maxProxyReading = 4096

// What a balancer's health check (a LOCAL header) is told.
const (
	healthReady  = "tlntsvr ready"
	healthPaused = "tlntsvr paused"
)

var errForgedProxyHeader = errors.New("a PROXY protocol header from an address not in proxy_protocol.from")

// proxyPolicy is proxy_protocol in force.
type proxyPolicy struct {
	from []netip.Prefix
}

func (s *Server) setProxyPolicy(cfg *config.Config) {
	if len(cfg.ProxyProtocol.From) == 0 {
		s.proxy.Store(nil)
		return
	}
	s.proxy.Store(&proxyPolicy{from: cfg.ProxySources()})
}

// trusts reports whether a connection from a may carry a header.
func (p *proxyPolicy) trusts(a net.Addr) bool {
	ap, ok := addrPort(a)
	if !ok {
		return false
	}
	for _, pf := range p.from {
		if pf.Contains(ap.Addr()) {
			return true
		}
	}
	return false
}

// addrPort is a TCP address as a netip.AddrPort, IPv4-mapped as IPv4.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.Addr().IsValid()
}

// accepted hands a new connection on: at once when no balancer is
// configured; with a guard against forged headers when it is from
// elsewhere; after its header (read off the accept loop) when it is from
// a balancer.
func (s *Server) accepted(nc net.Conn, tlsFirst bool) {
	p := s.proxy.Load()
	if p == nil {
		s.startConn(nc, tlsFirst)
		return
	}
	if !p.trusts(nc.RemoteAddr()) {
		s.startConn(&guardedConn{Conn: nc, forged: func() { s.refuseForged(nc) }}, tlsFirst)
		return
	}
	if s.proxyReading.Add(1) > maxProxyReading {
		s.proxyReading.Add(-1)
		s.log.Warn("connection from a load balancer closed: too many PROXY headers awaited", "proxy", nc.RemoteAddr().String(),
			"limit", maxProxyReading)
		s.metrics.Refused("proxy_header")
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.proxyReading.Add(-1)
		nc.Close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		pc, ok := s.readProxyHeader(s.ctx, nc)
		s.proxyReading.Add(-1)
		if ok {
			s.startConn(pc, tlsFirst)
		}
	}()
}

// readProxyHeader reads a balancer's header from nc. ok: pc is the
// connection as from the client. Otherwise nc has been dealt with
// (answered as a health check, or refused) and closed.
func (s *Server) readProxyHeader(ctx context.Context, nc net.Conn) (pc net.Conn, ok bool) {
	proxy := nc.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	nc.SetReadDeadline(time.Now().Add(min(proxyHeaderTimeout, s.Config().LoginTimeout)))
	br := bufio.NewReaderSize(nc, 256)
	// A balancer's connect-only health check closes without a byte (or
	// resets): counted, not audited, and nothing to penalise.
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			s.metrics.HealthCheck()
			return nil, false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = errors.New("no PROXY protocol header within the time allowed")
		}
		s.refuseProxy(proxy, err)
		return nil, false
	}
	h, err := proxyproto.Read(br)
	if err != nil {
		if errors.Is(err, proxyproto.ErrNoProxyProtocol) {
			err = errors.New("the connection does not start with a PROXY protocol header")
		}
		s.refuseProxy(proxy, err)
		return nil, false
	}
	if h.Command.IsLocal() {
		s.healthCheck(nc)
		return nil, false
	}
	src, srcOK := addrPort(h.SourceAddr)
	if !srcOK || !h.TransportProtocol.IsStream() || h.TransportProtocol.IsUnix() {
		s.refuseProxy(proxy, errors.New("the PROXY header is not for a TCP connection over IPv4 or IPv6"))
		return nil, false
	}
	nc.SetReadDeadline(time.Time{})
	s.log.Debug("PROXY header read", "proxy", proxy, "remote", src.String(), "version", h.Version)
	return &proxiedConn{Conn: nc, r: br, remote: net.TCPAddrFromAddrPort(src), balancer: proxy}, true
}

// healthCheck answers a balancer's health check with one line, whether
// new logons are taken, and closes it.
func (s *Server) healthCheck(nc net.Conn) {
	s.metrics.HealthCheck()
	line := healthReady
	if s.Paused() {
		line = healthPaused
	}
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write([]byte(line + "\r\n"))
}

// refuseProxy records a connection from a balancer without a valid
// header. Nothing is written to it: the balancer would pass it to the
// client as if the server had said it.
func (s *Server) refuseProxy(proxy string, err error) {
	s.flood.record(refusedProxy, hostOf(proxy), "remote", proxy, "err", err.Error())
}

// refuseForged records a header from an address that may not send one;
// the connection's read fails, which closes it.
func (s *Server) refuseForged(nc net.Conn) {
	remote := nc.RemoteAddr().String()
	s.flood.record(refusedForged, hostOf(remote), "remote", remote)
}

// proxiedConn is a connection from a balancer, past its header: what
// follows the header (some of it already read into r) is the client's,
// and RemoteAddr is the client's address.
type proxiedConn struct {
	net.Conn
	r        *bufio.Reader // nil once drained
	remote   net.Addr
	balancer string // the balancer's address, host:port: the TCP peer
}

// balancerOf is the address (host:port) of the balancer a connection came
// through; "" for one that came without a PROXY header.
func balancerOf(nc net.Conn) string {
	if pc, ok := nc.(*proxiedConn); ok {
		return pc.balancer
	}
	return ""
}

// proxyAttrs are the audit attributes of the balancer a connection came
// through: none for a connection without a PROXY header. remote is the
// client's address either way; this says which balancer carried it.
func proxyAttrs(balancer string) []any {
	if balancer == "" {
		return nil
	}
	return []any{"proxy", balancer}
}

// peerAttrs are the attributes of a record about one connection: the
// client's address, more, and the balancer it came through, if any.
func peerAttrs(remote, balancer string, more ...any) []any {
	return append(append([]any{"remote", remote}, more...), proxyAttrs(balancer)...)
}

func (c *proxiedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// CloseWrite and SyscallConn reach the socket, as for a plain connection.
func (c *proxiedConn) CloseWrite() error                     { return closeWrite(c.Conn) }
func (c *proxiedConn) SyscallConn() (syscall.RawConn, error) { return rawConn(c.Conn) }

// guardedConn is a connection from an address that may not send a PROXY
// header: the first bytes the client sends are compared with both
// signatures, and a read that completes one fails. Passed on before that
// are at most 11 bytes of a fixed signature, which mean nothing to the
// login dialogue or a TLS handshake.
type guardedConn struct {
	net.Conn
	seen   int         // bytes of the client's compared so far
	v1, v2 bool        // the bytes so far are not the start of that signature
	done   atomic.Bool // neither signature can match any more
	forged func()
}

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.done.Load() && c.check(p[:n]) {
		c.forged()
		c.done.Store(true)
		return 0, errForgedProxyHeader
	}
	return n, err
}

// check compares the client's next bytes with the signatures and reports
// whether one is now complete.
func (c *guardedConn) check(b []byte) bool {
	for _, ch := range b {
		if !c.v1 && (c.seen >= len(sigV1) || sigV1[c.seen] != ch) {
			c.v1 = true
		}
		if !c.v2 && (c.seen >= len(sigV2) || sigV2[c.seen] != ch) {
			c.v2 = true
		}
		c.seen++
		switch {
		case !c.v1 && c.seen == len(sigV1), !c.v2 && c.seen == len(sigV2):
			return true
		case c.v1 && c.v2:
			c.done.Store(true)
			return false
		}
	}
	return false
}

func (c *guardedConn) CloseWrite() error                     { return closeWrite(c.Conn) }
func (c *guardedConn) SyscallConn() (syscall.RawConn, error) { return rawConn(c.Conn) }

func closeWrite(nc net.Conn) error {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nc.Close()
}

func rawConn(nc net.Conn) (syscall.RawConn, error) {
	if sc, ok := nc.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
