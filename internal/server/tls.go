package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/tlsconf"
)

// What a client is told about encryption.
const (
	msgTLSRequired = "This server requires an encrypted connection: telnets on port 992, or a client with START_TLS."
	msgCertNoUser  = "Your client certificate names no user of this server."
)

// How a connection came to TLS, for the audit trail.
const (
	viaTelnets  = "telnets"   // TLS from the first byte, on listen_tls
	viaStartTLS = "start_tls" // option 46 on a plain listener
	viaAuthSSL  = "auth_ssl"  // AUTHENTICATION type SSL on a plain listener
)

// tlsHandshake runs the server side of a handshake on nc, with buffered
// (bytes the Telnet parser read past the end of START_TLS or AUTH SSL) in
// front of it, by deadline. A failure is audited and the connection is
// to be closed; nothing is written to it (the client spoke TLS, or tried
// to: a line of text would only add to its confusion).
func (s *Server) tlsHandshake(store *tlsconf.Store, nc net.Conn, buffered []byte, deadline time.Time, st *startup, via string) (*tls.Conn, error) {
	tc := tls.Server(tlsconf.WithPrefix(nc, buffered), store.Config())
	// A handshake takes a few round trips; one that has not ended in
	// handshakeTimeout is a client stalling, which must not hold its
	// connection for all of login_timeout.
	if d := time.Now().Add(handshakeTimeout); d.Before(deadline) {
		deadline = d
	}
	nc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		reason := err.Error()
		if errors.Is(err, errPreLogonFlood) {
			reason = "client sent too much before logging on"
		}
		s.flood.record(failedTLS, sourceName(st.source), st.peer("via", via, "error", printable(reason))...)
		return nil, err
	}
	return tc, nil
}

// tlsInfo is the admin API's and the audit trail's view of a TLS
// connection; nil for clear text.
func tlsInfo(tc *tls.Conn, via, clientSubject string) *admin.TLS {
	if tc == nil {
		return nil
	}
	cs := tc.ConnectionState()
	return &admin.TLS{
		Version:           strings.ReplaceAll(tls.VersionName(cs.Version), " ", ""),
		CipherSuite:       tls.CipherSuiteName(cs.CipherSuite),
		Via:               via,
		ClientCertificate: clientSubject,
	}
}

// tlsAttrs are the audit attributes of a connection's encryption.
func tlsAttrs(t *admin.TLS) []any {
	if t == nil {
		return []any{"tls", "none"}
	}
	attrs := []any{"tls", t.Version, "cipher_suite", t.CipherSuite, "tls_via", t.Via}
	if t.ClientCertificate != "" {
		attrs = append(attrs, "client_certificate", t.ClientCertificate)
	}
	return attrs
}

// secure brings a connection to the login dialogue: on a listen_tls
// address the TLS handshake first, then Telnet negotiation; on a plain one
// negotiation, in which a client that can encrypt is offered START_TLS and
// AUTH SSL (when a certificate is in force) and, taking either, gets the
// handshake on the same connection and negotiation afresh over TLS. It
// returns the Telnet connection and, when it is encrypted, the TLS
// connection under it. nc is the counted socket; everything is bounded by
// deadline.
func (s *Server) secure(nc net.Conn, cfg *config.Config, tlsFirst bool, deadline time.Time, st *startup) (conn *protocol.Conn, tc *tls.Conn, via string, err error) {
	store := s.tls.Load()
	telnet := func(transport net.Conn, offer bool) (*protocol.Conn, error) {
		conn := protocol.NewConn(transport, protocol.Config{KnownTerm: knownTerm, EnvAllowed: cfg.EnvAllowed, OfferTLS: offer})
		nc.SetWriteDeadline(deadline)
		return conn, conn.Negotiate()
	}
	if tlsFirst {
		if store == nil {
			// The certificate was removed by a reload; listen_tls
			// stays open until a restart.
			return nil, nil, "", errors.New("a listen_tls address with no certificate in force (tls.cert_file was removed; restart to close the address)")
		}
		if tc, err = s.tlsHandshake(store, nc, nil, deadline, st, viaTelnets); err != nil {
			return nil, nil, "", err
		}
		conn, err = telnet(tc, false)
		return conn, tc, viaTelnets, err
	}
	if conn, err = telnet(nc, store != nil); err != nil {
		return nil, nil, "", err
	}
	opt, ok := conn.HandedOver()
	if !ok {
		return conn, nil, "", nil
	}
	via = viaStartTLS
	if opt == protocol.OptAuth {
		via = viaAuthSSL
	}
	raw, buffered := conn.Detach()
	queued, rest, hello := awaitClientHello(raw, buffered, time.Now().Add(clientHelloWait))
	if !hello {
		// It said it would and did not (the npm telnet-client agrees to
		// every option): clear text, as if it had refused.
		s.log.Debug("client agreed to TLS but sent no ClientHello; going on in clear text", st.peer("via", via)...)
		conn, err = telnet(tlsconf.WithPrefix(raw, append(queued, rest...)), false)
		return conn, nil, "", err
	}
	if tc, err = s.tlsHandshake(store, raw, rest, deadline, st, via); err != nil {
		return nil, nil, "", err
	}
	if opt == protocol.OptAuth {
		// AUTH SSL keeps what was agreed in clear text: its clients
		// answer no offer twice. The answers they sent after IS SSL
		// START and before the handshake are theirs.
		nc.SetWriteDeadline(deadline)
		if err := conn.Resume(tc, queued); err != nil {
			return nil, nil, "", err
		}
		return conn, tc, via, conn.Negotiate()
	}
	// START_TLS: the state learned in clear text is dropped with the old
	// Conn, and negotiation starts afresh over TLS, as the draft says.
	conn, err = telnet(tc, false)
	return conn, tc, via, err
}

// handshakeTimeout bounds a TLS handshake, inside login_timeout.
const handshakeTimeout = 10 * time.Second

// clientHelloWait bounds the wait for the first bytes of the handshake
// after START_TLS's FOLLOWS or AUTH SSL's ACCEPT: a real client sends its
// ClientHello at once.
const clientHelloWait = 3 * time.Second

// awaitClientHello reads, by deadline, until the bytes after the handover
// show whether they start a TLS handshake. queued is the whole Telnet
// commands before it (answers the client had queued before it saw our
// FOLLOWS or ACCEPT); rest is everything from the first other byte on.
func awaitClientHello(nc net.Conn, buffered []byte, deadline time.Time) (queued, rest []byte, hello bool) {
	nc.SetReadDeadline(deadline)
	defer nc.SetReadDeadline(time.Time{})
	var b [512]byte
	for {
		n, more := protocol.SkipCommands(buffered)
		queued, buffered = append(queued, buffered[:n]...), buffered[n:]
		switch {
		case !more && len(buffered) > 0 && buffered[0] != 0x16:
			return queued, buffered, false
		case !more && len(buffered) >= 3:
			return queued, buffered, tlsconf.LooksLikeClientHello(buffered)
		}
		m, err := nc.Read(b[:])
		buffered = append(buffered, b[:m]...)
		if err != nil {
			return queued, buffered, false
		}
	}
}

// TLSSettings are cfg's tls settings as the TLS layer takes them.
func TLSSettings(cfg *config.Config) tlsconf.Settings {
	min := uint16(tls.VersionTLS12)
	if cfg.TLS.MinVersion == config.TLS13 {
		min = tls.VersionTLS13
	}
	return tlsconf.Settings{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, MinVersion: min, ClientCAFile: cfg.TLS.ClientCAFile}
}

// StartTLS reads the certificate cfg names and puts it in force; with
// none configured, TLS is off. The daemon calls it at start: a
// certificate that does not load is a configuration error.
func (s *Server) StartTLS(cfg *config.Config) error {
	if !cfg.TLS.Enabled() {
		s.tls.Store(nil)
		return nil
	}
	store, err := tlsconf.New(TLSSettings(cfg), s.log)
	if err != nil {
		return err
	}
	s.tls.Store(store)
	leaf := store.Leaf()
	s.log.Info("TLS certificate in force", "cert_file", cfg.TLS.CertFile, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "client_ca_file", cfg.TLS.ClientCAFile)
	return nil
}

// reloadTLS re-reads the certificate files for next. On error the
// certificate in force stays and the error names the file and why; next
// must then not go in force with settings the daemon cannot honour.
func (s *Server) reloadTLS(next *config.Config) error {
	cur := s.tls.Load()
	want := TLSSettings(next)
	if !next.TLS.Enabled() {
		s.tls.Store(nil)
		return nil
	}
	if cur != nil && cur.Settings() == want {
		if err := cur.Reload(); err != nil {
			return fmt.Errorf("TLS certificate not reloaded; the one in force stays: %w", err)
		}
		return nil
	}
	store, err := tlsconf.New(want, s.log)
	if err != nil {
		return fmt.Errorf("TLS settings refused; the ones in force stay: %w", err)
	}
	s.tls.Store(store)
	return nil
}
