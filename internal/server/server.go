// Package server is the Telnet daemon proper: listeners and limits, the
// login dialogue, the session registry and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/metrics"
	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/session"
	"github.com/tlntsvr/tlntsvr/internal/tlsconf"
)

// What a remote user is told. Short, and revealing nothing.
const (
	msgMaxConnections = "The server has reached its maximum number of connections. Try again later."
	msgLoginIncorrect = "Login incorrect"
	msgTooManyFails   = "Too many failed logons. Connection closed."
	msgLoginTimeout   = "Logon timed out. Connection closed."
	msgCannotStart    = session.CannotStartMessage
	msgShutdown       = "The Telnet server is shutting down. Your session is ending."
	msgPaused         = "The Telnet server is paused and accepts no new connections. Try again later."
	msgLockedOut      = "Too many failed logons. Logons are refused for a while; try again later."
	msgTooManyPending = "Too many connections from your address are logging on. Try again later."
	msgPenalised      = "Too many failed or abandoned logons from your address. Try again later."
)

// accessDenied is the design's message for a user outside the groups.
func accessDenied(group string) string {
	return fmt.Sprintf("Access denied: user is not a member of the %s group.", group)
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server closed")

// Server is a Telnet server. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	cfg   atomic.Pointer[config.Config]
	store *auth.Store
	log   *slog.Logger
	audit *slog.Logger

	sessions *Registry
	active   atomic.Int64 // connections, in logon or in session
	loggedOn atomic.Int64 // sessions, against max_connections
	lockout  *auth.Lockout
	tls      atomic.Pointer[tlsconf.Store] // nil without a certificate

	// Admission before logon (admission.go): the connections not yet
	// logged on, the sources' penalties, and the audit of refusals.
	startups  *startups
	penalties *penalties
	flood     *floodAudit

	mu        sync.Mutex
	listeners []listener
	adminSrv  *http.Server
	closed    bool
	wg        sync.WaitGroup // one per connection goroutine

	cfgMu   sync.Mutex // serialises config file edits
	paused  atomic.Bool
	started time.Time

	// Version is reported by the admin API and the metrics.
	Version string

	// The network edge: metrics, PROXY protocol, the service manager.
	metrics      *metrics.Metrics
	metricsSrv   *http.Server
	proxy        atomic.Pointer[proxyPolicy] // nil: no proxy_protocol
	proxyReading atomic.Int64                // connections whose PROXY header is being read
	lifecycle    Lifecycle
	sessionsSeen chan struct{} // a session started or ended (SessionChanges)

	ctx    context.Context // cancelled by Shutdown: ends every connection
	cancel context.CancelFunc
}

// New makes a server. audit receives the audit records (logons, failures,
// session ends); log the operational log.
func New(cfg *config.Config, store *auth.Store, log, audit *slog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		store: store, log: log, audit: audit,
		sessions: newRegistry(), started: time.Now(),
		startups: newStartups(), penalties: newPenalties(penaltyTableSize), flood: newFloodAudit(audit, floodInterval),
		ctx: ctx, cancel: cancel,
	}
	s.cfg.Store(cfg)
	s.lockout = auth.NewLockout(lockoutPolicy(cfg))
	s.metrics = metrics.New(s.liveMetrics)
	s.flood.counted = func(k floodKind) {
		switch {
		case k == evictedStartup:
			s.metrics.Evicted("least_progress")
		case k.metric != "":
			s.metrics.Refused(k.metric)
		}
	}
	s.sessionsSeen = make(chan struct{}, 1)
	s.setProxyPolicy(cfg)
	store.ObserveQueueWait(s.metrics.BcryptWait)
	store.ObserveChanges(s.auditAuthChange)
	return s
}

func lockoutPolicy(cfg *config.Config) auth.LockoutPolicy {
	return auth.LockoutPolicy{Attempts: cfg.Lockout.Attempts, Window: cfg.Lockout.Window, Duration: cfg.Lockout.Duration}
}

// Config returns the settings in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// SetConfig puts new settings in force for the next connection and logon,
// and closes the connections not yet logged on that allow and deny now
// refuse. Listen addresses change only on restart.
func (s *Server) SetConfig(cfg *config.Config) {
	old := s.cfg.Swap(cfg)
	// After the swap: a connection admitted under the old settings is
	// either in the pool for this sweep or sees cfg when admit looks
	// again.
	s.closeRefused(cfg)
	if old == nil || old.MaxConnections != cfg.MaxConnections {
		warnHostLimits(s.log, cfg.MaxConnections, readHostLimits(s.sessions.Len()))
	}
	s.lockout.SetPolicy(lockoutPolicy(cfg))
	s.setProxyPolicy(cfg)
}

// Sessions returns the session registry.
func (s *Server) Sessions() *Registry { return s.sessions }

// listener is one listening socket; tls: TLS from the first byte
// (listen_tls).
type listener struct {
	net.Listener
	tls bool
}

// Listen opens every configured address. Separate from Serve so a caller
// knows the ports are open (and which, for port 0) before it goes on.
func (s *Server) Listen() error {
	var lns []listener
	cfg := s.Config()
	all := slices.Concat(cfg.Listen, cfg.ListenTLS)
	for _, a := range slices.Concat(listenOn(cfg.Listen, false), listenOn(cfg.ListenTLS, true)) {
		ln, err := net.Listen(config.ListenNetwork(a.addr, all), a.addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen on %s: %w", a.addr, err)
		}
		lns = append(lns, listener{ln, a.tls})
	}
	s.mu.Lock()
	s.listeners = lns
	s.mu.Unlock()
	return nil
}

type listenAddr struct {
	addr string
	tls  bool
}

func listenOn(addrs []string, tls bool) []listenAddr {
	out := make([]listenAddr, len(addrs))
	for i, a := range addrs {
		out[i] = listenAddr{a, tls}
	}
	return out
}

// Addrs returns the addresses being listened on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Serve accepts connections on every listener until Shutdown. It returns
// ErrServerClosed after Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	lns := s.listeners
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("serve: no listeners (call Listen first)")
	}
	warnHostLimits(s.log, s.Config().MaxConnections, readHostLimits(s.sessions.Len()))
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		s.log.Info("listening", "addr", ln.Addr().String(), "tls", ln.tls)
		go func() { errc <- s.acceptLoop(ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		first = ErrServerClosed
	}
	return first
}

func (s *Server) acceptLoop(ln listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			// Out of descriptors (EMFILE), an aborted handshake: these
			// pass. Back off and go on rather than exit or spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accepted(nc, ln.tls)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// startConn starts the connection's goroutine; admission (admit) runs
// there, before the first byte. tlsFirst: the connection came to a
// listen_tls address.
func (s *Server) startConn(nc net.Conn, tlsFirst bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.active.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.active.Add(-1)
		s.serveConn(s.ctx, nc, tlsFirst)
	}()
}

// refuse tells a connection why in one line and closes it.
func refuse(nc net.Conn, msg string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write([]byte(msg + "\r\n"))
	nc.Close()
}

// serveConn runs one connection: TLS (from the first byte when
// tlsFirst), negotiation, logon, session.
//
// Everything up to the shell's start runs on a goroutine of its own, which
// this one waits for: a goroutine's stack grows to the deepest call it
// made (a TLS handshake, bcrypt, an audit record) and shrinks only at a
// garbage collection, by half, when it is mostly unused. The session,
// which may wait for months, then keeps a stack as small as its own
// calls need, not the logon's: stacks are most of what an idle session
// costs the daemon.
func (s *Server) serveConn(ctx context.Context, nc net.Conn, tlsFirst bool) {
	remote := nc.RemoteAddr().String()
	log := s.log.With(peerAttrs(remote, balancerOf(nc))...)
	defer nc.Close()
	defer recoverConn(log)
	var live *liveSession
	onOwnStack(func() {
		defer recoverConn(log)
		live = s.logOn(ctx, nc, tlsFirst, remote, log)
	})
	if live != nil {
		defer s.loggedOn.Add(-1)
		live.run()
	}
}

// recoverConn keeps one connection's bug from taking the daemon down.
func recoverConn(log *slog.Logger) {
	if r := recover(); r != nil {
		log.Error("panic in connection; connection closed", "panic", r, "stack", string(debug.Stack()))
	}
}

// onOwnStack runs f on a new goroutine and waits for it (see serveConn).
func onOwnStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// logOn admits the connection, secures and negotiates it, logs the client
// on and starts its session; nil if any of that ends the connection
// (which the caller closes). A session it returns holds a loggedOn count.
func (s *Server) logOn(ctx context.Context, nc net.Conn, tlsFirst bool, remote string, log *slog.Logger) (live *liveSession) {
	cfg := s.Config()
	st := s.admit(nc, cfg, tlsFirst)
	if st == nil {
		return nil
	}
	loggedOn := false
	removed := notRemoved
	endLogon := sync.OnceFunc(func() { removed = s.finishStartup(st, cfg, loggedOn, remoteAddr(nc)) })
	defer endLogon()
	limited := &preLogonConn{Conn: nc, st: st}

	// Until the shell starts, shutdown closes the socket, which ends any
	// read in progress; the session handles ctx itself after that. The
	// registration lives in the server-wide ctx and holds nc: every way
	// out of here must remove it, or each connection that never logs on
	// stays in memory until shutdown.
	stopClose := context.AfterFunc(ctx, func() { nc.Close() })
	defer stopClose()
	loginDeadline := time.Now().Add(cfg.LoginTimeout)
	conn, tc, via, err := s.secure(limited, cfg, tlsFirst, loginDeadline, st)
	if err != nil {
		s.auditFlood(err, st)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			st.ended(outcomeTimedOut)
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
			// The client left (or was evicted): nothing to charge
			// beyond what finishStartup finds.
		case stage(st.stage.Load()) > stageConnected:
			st.ended(outcomeFailed) // a TLS handshake or negotiation that failed on what it sent
		}
		log.Debug("negotiation failed", "err", err)
		return nil
	}
	nc.SetReadDeadline(loginDeadline)
	if tc == nil && cfg.TLS.Require {
		s.flood.record(refusedTLS, sourceName(st.source), st.peer()...)
		st.ended(outcomeFailed)
		conn.Write([]byte(msgTLSRequired + "\r\n"))
		return nil
	}

	// The login deadline bounds the wait for a bcrypt slot as well as the
	// reads: a logon flood must not hold a connection past it.
	logonCtx, cancelLogon := context.WithDeadline(ctx, loginDeadline)
	proxy := balancerOf(nc)
	lg := logonConn{conn: conn, tls: tc, via: via, remote: remote, proxy: proxy, log: log, st: st}
	id, typeahead, prot, ok := s.logon(logonCtx, lg, cfg)
	cancelLogon()
	loggedOn = ok
	endLogon()
	// A connection evicted or denied during its password check has been
	// closed: no session for it, even with the right password.
	if !ok || removed != notRemoved || !stopClose() {
		return nil
	}
	if !s.reserveSession(cfg) {
		// Sessions started by others while this one logged on.
		s.flood.record(refusedSessions, sourceName(st.source), st.peer("max_connections", cfg.MaxConnections)...)
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write([]byte(msgMaxConnections + "\r\n"))
		return nil
	}
	limited.unlimited.Store(true)
	nc.SetDeadline(time.Time{})
	// Deferred, so that a panic in startSession gives the slot back too.
	defer func() {
		if live == nil {
			s.loggedOn.Add(-1)
		}
	}()
	return s.startSession(ctx, conn, cfg, id, typeahead, log, remote, proxy, prot)
}

// hostOf returns the address part of host:port.
func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// testHookSessionAdded, when set (tests), runs once a session is in the
// registry: a stand-in for a bug between the shell's start and the
// session's run.
var testHookSessionAdded func()

// liveSession is a logged-on session whose shell has started, registered
// and audited: run bridges it until it ends.
type liveSession struct {
	s         *Server
	sess      *session.Session
	sid       int
	ctx       context.Context
	cancel    context.CancelCauseFunc
	typeahead []byte
	user      string
	remote    string
	proxy     string // the balancer the connection came through; "" for none
	// endObservers ends the recording and the shadows (observe).
	endObservers func()
}

// startSession starts the shell for a logged-on identity and registers
// the session; nil if it cannot start (the client has been told). proxy
// is the balancer the connection came through; "" for none.
func (s *Server) startSession(ctx context.Context, conn *protocol.Conn, cfg *config.Config, id auth.Identity, typeahead []byte, log *slog.Logger, remote, proxy string, prot *admin.TLS) *liveSession {
	log = log.With("user", id.User, "os_account", id.OSAccount)
	// refuse ends a logon whose password was right but whose session
	// cannot start: the audit trail records every refused logon, and the
	// client is told within a second (the login deadline no longer holds,
	// and a client that stopped reading must not keep this goroutine).
	refuse := func(reason error) {
		s.audit.Warn("logon refused", append([]any{"event", "logon_denied", "user", id.User, "remote", remote,
			"reason", reason.Error()}, proxyAttrs(proxy)...)...)
		s.metrics.Logon(metrics.LogonDenied)
		conn.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write([]byte(msgCannotStart + "\r\n"))
	}
	acct, err := session.LookupAccount(id.OSAccount)
	if err != nil {
		log.Error("cannot start session: OS account lookup failed", "err", err)
		refuse(err)
		return nil
	}
	if err := session.CheckAccount(acct, session.AccountPolicy{AllowRoot: cfg.AllowRoot, RefuseLocked: cfg.RefuseLockedAccounts}); err != nil {
		log.Warn("logon refused", "err", err)
		refuse(err)
		return nil
	}
	term := conn.Term()
	if cfg.Mode == config.ModeStream {
		term = "dumb"
	}
	cols, rows, _ := conn.WindowSize()
	// TSPEED: the terminal's transmit speed is the session's input speed.
	txSpeed, rxSpeed, _ := conn.TermSpeed()
	var clientEnv []string
	for k, v := range conn.Env() {
		clientEnv = append(clientEnv, k+"="+v)
	}
	sess, err := session.Start(conn, session.Spec{
		Account: acct, Shell: cfg.Shell, LoginScript: cfg.LoginScript, LoginScriptTimeout: cfg.LoginTimeout, Term: term,
		ClientEnv: clientEnv, Cols: cols, Rows: rows, Stream: cfg.Mode == config.ModeStream,
		EndTasks: cfg.EndTasksOnDisconnect, Logger: log,
		Limits:  session.Limits{Tasks: int64(cfg.SessionLimits.Tasks), Memory: cfg.SessionLimits.MemoryBytes()},
		InSpeed: txSpeed, OutSpeed: rxSpeed, Charset: conn.Charset(),
	})
	if err != nil {
		if errors.Is(err, session.ErrOtherAccount) {
			log.Error("logon refused: the daemon is not running as root, so it can only start sessions as its own account",
				"os_account", acct.Name, "uid", acct.UID, "daemon_uid", os.Geteuid())
		} else {
			log.Error("cannot start session", "err", err)
		}
		refuse(fmt.Errorf("cannot start session: %w", err))
		return nil
	}
	// A panic from here on (a bug) must not leave a shell no one ends,
	// or a registry entry no one removes: the session is ended as an
	// administrator's kill ends one, and the panic goes on to recoverConn.
	var live *liveSession
	sid := -1
	var cancel context.CancelCauseFunc
	defer func() {
		if live != nil {
			return
		}
		if sid >= 0 {
			s.sessions.remove(sid)
			s.sessionsChanged()
		}
		if cancel != nil {
			cancel(nil)
		}
		killed, kill := context.WithCancelCause(context.Background())
		kill(session.ErrKilled)
		sess.Run(killed, nil)
	}()
	e := &entry{
		info: SessionInfo{
			User: id.User, OSAccount: acct.Name, Remote: remote, Proxy: proxy,
			LogonTime: sess.Started(), Term: term, PID: sess.PID(), TLS: prot,
		},
		sess: sess, stream: cfg.Mode == config.ModeStream,
	}
	sctx, cancelSession := context.WithCancelCause(ctx)
	cancel = cancelSession
	e.cancel = cancel
	sid = s.sessions.add(e)
	if testHookSessionAdded != nil {
		testHookSessionAdded()
	}
	s.sessionsChanged()
	s.metrics.Logon(metrics.LogonOK)
	s.watchIdle(sctx, sid, e)
	s.audit.Info("logon", append([]any{"event", "logon", "session", sid, "user", id.User, "os_account", acct.Name,
		"remote", remote, "pid", sess.PID(), "term", term}, append(tlsAttrs(prot), proxyAttrs(proxy)...)...)...)
	endObservers := s.observe(cfg, sid, e, cols, rows, log)
	live = &liveSession{
		s: s, sess: sess, sid: sid, ctx: sctx, cancel: cancel, typeahead: typeahead, user: id.User, remote: remote, proxy: proxy,
		endObservers: endObservers,
	}
	return live
}

// run bridges the session until it ends, then unregisters it.
func (l *liveSession) run() {
	s, sess := l.s, l.sess
	defer l.cancel(nil)
	// Deferred first, so run last: after the session has left the
	// registry (see metrics.SessionEnded).
	defer func() {
		in, out := sess.Bytes()
		s.metrics.SessionEnded(time.Since(sess.Started()), in, out)
		s.sessionsChanged()
	}()
	defer s.sessions.remove(l.sid)

	reason := sess.Run(l.ctx, l.typeahead)
	l.endObservers()

	in, out := sess.Bytes()
	s.audit.Info("session ended", append([]any{"event", "session_end", "session", l.sid, "user", l.user,
		"remote", l.remote, "reason", string(reason),
		"duration", time.Since(sess.Started()).Round(time.Millisecond).String(),
		"bytes_in", in, "bytes_out", out}, proxyAttrs(l.proxy)...)...)
}

// Shutdown stops accepting, tells every session, ends them all, and waits
// for every connection's goroutine, or until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.wait(ctx)
	}
	s.closed = true
	for _, l := range s.listeners {
		l.Close()
	}
	if s.adminSrv != nil {
		s.adminSrv.Close()
	}
	if s.metricsSrv != nil {
		s.metricsSrv.Close()
	}
	s.mu.Unlock()

	s.sessions.End(0, msgShutdown, nil)
	s.cancel() // the connections still logging on
	err := s.wait(ctx)
	s.flood.flush() // the summaries of the interval in progress
	return err
}

func (s *Server) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown: %d connections still open: %w", s.active.Load(), ctx.Err())
	}
}
