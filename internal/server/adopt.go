package server

import (
	"errors"
	"net"
)

// Adopt serves on listeners someone else opened (systemd's socket
// activation) instead of the listen and listen_tls addresses: plain ones
// as listen's, tlsFirst ones as listen_tls's. Call it instead of Listen.
func (s *Server) Adopt(plain, tlsFirst []net.Listener) error {
	if len(plain)+len(tlsFirst) == 0 {
		return errors.New("no listening sockets were passed")
	}
	if len(tlsFirst) > 0 && s.tls.Load() == nil {
		return errors.New("a telnets socket was passed, but no certificate is configured: set tls.cert_file and tls.key_file")
	}
	var lns []listener
	for _, ln := range plain {
		lns = append(lns, listener{ln, false})
	}
	for _, ln := range tlsFirst {
		lns = append(lns, listener{ln, true})
	}
	s.mu.Lock()
	s.listeners = lns
	s.mu.Unlock()
	return nil
}
