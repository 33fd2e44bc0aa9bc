package server

import (
	"net"
	"net/netip"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// admission is what a connection passes before the login dialogue, in
// this order, cheapest and most certain first: allow and deny (nothing
// is sent to a denied address), pause, max_connections (no room for a
// session), the source's penalties, per_source_max_startups, and the
// startup pool (max_startups), which evicts rather than refuses.
//
// It runs before the connection's first byte, and costs a few map look-ups
// under a mutex and, with the pool full, one pass over it.

// remoteAddr is the client's IP address; invalid for a connection that
// is not over IP (a test's pipe).
func remoteAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// allowed applies allow and deny: deny wins; an empty allow lets in every
// address not denied.
func allowed(cfg *config.Config, a netip.Addr) bool {
	if cfg.Deny.Contains(a) {
		return false
	}
	return len(cfg.Allow) == 0 || cfg.Allow.Contains(a)
}

// sourceName is a source as the audit trail writes it: the address when
// the block is one address, else the block.
func sourceName(src netip.Prefix) string {
	if !src.IsValid() {
		return "unknown"
	}
	if src.Bits() == src.Addr().BitLen() {
		return src.Addr().String()
	}
	return src.String()
}

// admit decides whether nc may go on to the login dialogue. On refusal
// the client has been told (unless it is denied, or speaks TLS from the
// first byte), nc is closed and it returns nil. Otherwise nc holds a
// place in the startup pool until finishStartup.
func (s *Server) admit(nc net.Conn, cfg *config.Config, tlsFirst bool) *startup {
	remote := nc.RemoteAddr().String()
	addr := remoteAddr(nc)
	src := cfg.SourceNetblock.Source(addr)
	name := sourceName(src)
	balancer := balancerOf(nc)
	peer := func(more ...any) []any { return peerAttrs(remote, balancer, more...) }
	refuse := refuse
	if tlsFirst {
		// A client that speaks TLS from its first byte could not read
		// a line in clear text.
		refuse = func(nc net.Conn, _ string) { nc.Close() }
	}
	if !allowed(cfg, addr) {
		s.flood.record(refusedDenied, name, peer()...)
		nc.Close()
		return nil
	}
	if s.Paused() {
		s.flood.record(refusedPaused, name, peer()...)
		refuse(nc, msgPaused)
		return nil
	}
	if s.loggedOn.Load() >= int64(cfg.MaxConnections) {
		s.flood.record(refusedSessions, name, peer("max_connections", cfg.MaxConnections)...)
		refuse(nc, msgMaxConnections)
		return nil
	}
	if until, ok := s.penalties.refusedUntil(src, time.Now()); ok {
		s.flood.record(refusedPenalised, name, peer("until", until.UTC().Format(time.RFC3339))...)
		refuse(nc, msgPenalised)
		return nil
	}
	st := newStartup(src, addr, remote, func() { nc.Close() })
	st.proxy = balancer
	victims, ok := s.startups.admit(st, cfg.MaxStartups, cfg.PerSourceMaxStartups)
	if !ok {
		s.flood.record(refusedPerSource, name, peer("per_source_max_startups", cfg.PerSourceMaxStartups)...)
		refuse(nc, msgTooManyPending)
		return nil
	}
	for _, v := range victims {
		// Closed without a word: its goroutine ends on the closed
		// socket, and a write here could wait on a client that does
		// not read.
		v.end()
		s.flood.record(evictedStartup, sourceName(v.source), v.peer("max_startups", cfg.MaxStartups,
			"stage", stageName(stage(v.stage.Load())))...)
	}
	if now := s.Config(); now != cfg {
		// The config changed since cfg was read, and its sweep of the
		// pool may have run before st was in it: sweep again, or a
		// connection accepted just before a deny would slip past it.
		// st's logon then ends on its closed socket.
		s.closeRefused(now)
	}
	return st
}

// closeRefused closes every connection not yet logged on whose address
// cfg's allow and deny refuse, at once and without a word (as an
// eviction: a write could wait on a client that does not read). A deny
// added by a reload must stop a password guesser now, not at its
// connections' login timeout. Logged-on sessions are left alone: an
// administrator ends those with tlntadmn kill.
func (s *Server) closeRefused(cfg *config.Config) {
	gone := s.startups.removeRefused(func(a netip.Addr) bool { return !allowed(cfg, a) })
	for _, st := range gone {
		st.end()
		s.flood.record(refusedDenied, sourceName(st.source), st.peer("at", "reload",
			"stage", stageName(stage(st.stage.Load())))...)
	}
}

// finishStartup takes st out of the startup pool once its logon has
// ended, and charges its source for a logon that ended badly. It returns
// whether an eviction or a deny had taken st out before (and closed its
// connection).
func (s *Server) finishStartup(st *startup, cfg *config.Config, loggedOn bool, addr netip.Addr) removal {
	removed := s.startups.release(st)
	if loggedOn {
		return removed
	}
	var charge time.Duration
	switch {
	case removed == removedDenied:
		// Refused by allow or deny from now on: a penalty adds nothing,
		// and would outlast a deny lifted again.
		return removed
	case removed == removedEvicted && stage(st.stage.Load()) < stageNamed:
		charge = penaltySilent
	case removed == removedEvicted:
		return removed
	case outcome(st.outcome.Load()) == outcomeTimedOut:
		charge = penaltyTimeout
	case outcome(st.outcome.Load()) == outcomeFailed:
		charge = penaltyFailed
	case stage(st.stage.Load()) == stageConnected:
		charge = penaltySilent
	default:
		return removed
	}
	if cfg.PenaltyExempt.Contains(addr) || s.isClosed() {
		return removed
	}
	name := sourceName(st.source)
	until, full := s.penalties.charge(st.source, charge, time.Now())
	switch {
	case full:
		s.flood.record(penaltyTableFull, name, "source", name, "table_size", penaltyTableSize)
	case !until.IsZero():
		s.flood.record(penaltyBegins, name, "source", name, "until", until.UTC().Format(time.RFC3339))
	}
	return removed
}

// reserveSession takes one of max_connections' places for a session; it
// reports false when they are all taken.
func (s *Server) reserveSession(cfg *config.Config) bool {
	for {
		n := s.loggedOn.Load()
		if n >= int64(cfg.MaxConnections) {
			return false
		}
		if s.loggedOn.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func stageName(st stage) string {
	switch st {
	case stageConnected:
		return "connected"
	case stageTalking:
		return "negotiating"
	case stageNamed:
		return "login name typed"
	default:
		return "password typed"
	}
}
