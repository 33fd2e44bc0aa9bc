package server

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/tlsconf"
)

// What a client is told about encryption.
const (
	msgTLSRequired = "This server requires an encrypted connection: telnets on port 992, or a client with START_TLS."
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
func (s *Server) tlsHandshake(store *tlsconf.Store, nc net.Conn, buffered []byte, deadline time.Time, remote, via string) (*tls.Conn, error) {
	tc := tls.Server(tlsconf.WithPrefix(nc, buffered), store.Config())
	nc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		reason := err.Error()
		if errors.Is(err, errPreLogonFlood) {
			reason = "client sent too much before logging on"
		}
		s.audit.Warn("TLS handshake failed", "event", "tls_handshake_failed", "remote", remote, "via", via,
			"reason", printable(reason))
		return nil, err
	}
	return tc, nil
}

// tlsInfo is the admin API's and the audit trail's view of a TLS
// connection; nil for clear text.
func tlsInfo(tc *tls.Conn, clientSubject string) *admin.TLS {
	if tc == nil {
		return nil
	}
	cs := tc.ConnectionState()
	return &admin.TLS{
		Version:           strings.ReplaceAll(tls.VersionName(cs.Version), " ", ""),
		CipherSuite:       tls.CipherSuiteName(cs.CipherSuite),
		ClientCertificate: clientSubject,
	}
}

// tlsAttrs are the audit attributes of a connection's encryption.
func tlsAttrs(t *admin.TLS) []any {
	if t == nil {
		return []any{"tls", "none"}
	}
	attrs := []any{"tls", t.Version, "cipher_suite", t.CipherSuite}
	if t.ClientCertificate != "" {
		attrs = append(attrs, "client_certificate", t.ClientCertificate)
	}
	return attrs
}
