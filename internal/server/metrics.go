package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/metrics"
)

// Metrics returns the server's metrics, for the hooks of code outside
// this file (admission counts its evictions and penalties there).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// logonResult is the metrics' result of a logon's audit event.
var logonResult = map[string]string{
	"logon_failed":     metrics.LogonFailed,
	"logon_locked_out": metrics.LogonLocked,
	"logon_denied":     metrics.LogonDenied,
}

// liveMetrics is the server's state at a scrape: each logged-on session
// and how many connections have not logged on yet.
func (s *Server) liveMetrics() ([]metrics.Session, int) {
	r := s.sessions
	r.mu.Lock()
	out := make([]metrics.Session, 0, len(r.entries))
	for _, e := range r.entries {
		ms := metrics.Session{Mode: "console", TLS: "none"}
		if e.stream {
			ms.Mode = "stream"
		}
		if e.info.TLS != nil {
			ms.TLS = e.info.TLS.Version
		}
		ms.BytesIn, ms.BytesOut = e.sess.Bytes()
		out = append(out, ms)
	}
	r.mu.Unlock()
	s.metrics.SetPenalties(s.penalties.len())
	// active counts every connection, logged on or not.
	return out, int(s.active.Load()) - len(out)
}

// ServeMetrics opens metrics_listen, when set, and serves the metrics on
// it until Shutdown. Like Listen, it returns once the port is open.
func (s *Server) ServeMetrics() error {
	addr := s.Config().MetricsListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen(config.ListenNetwork(addr, nil), addr) // 0.0.0.0: IPv4 only
	if err != nil {
		return fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	return s.serveMetricsOn(ln)
}

func (s *Server) serveMetricsOn(ln net.Listener) error {
	s.metrics.SetBuildInfo(s.Version)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	srv := &http.Server{
		Handler: mux,
		// A scraper sends a few hundred bytes and reads a few dozen KiB.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.metricsSrv = srv
	s.mu.Unlock()
	s.log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}
