package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/metrics"
	"github.com/tlntsvr/tlntsvr/internal/protocol"
)

// logonConn is a connection at the login dialogue.
type logonConn struct {
	conn   *protocol.Conn
	tls    *tls.Conn // nil for clear text
	via    string    // how it came to TLS (viaTelnets, ...)
	remote string
	proxy  string // the balancer it came through (host:port); "" without a PROXY header
	log    *slog.Logger
	st     *startup // its place in the startup pool: progress, outcome
}

// logon runs the login dialogue: a certificate logon when the client
// presented a client certificate over TLS, else the login and password
// prompts. ok is false when the connection is to be closed; the client
// has been told why. prot is the connection's encryption for the session
// and the audit trail.
func (s *Server) logon(ctx context.Context, lc logonConn, cfg *config.Config) (id auth.Identity, typeahead []byte, prot *admin.TLS, ok bool) {
	conn, log, remote := lc.conn, lc.log, lc.remote
	say := func(line string) { conn.Write([]byte(line + "\r\n")) }
	if cfg.Mode != config.ModeStream && cfg.Banner != "" {
		say(strings.ReplaceAll(cfg.Banner, "\n", "\r\n"))
		say("")
	}
	prot = tlsInfo(lc.tls, lc.via, "")
	if lc.tls != nil {
		if id, prot, done, ok := s.certificateLogon(ctx, lc, cfg, say); done {
			return id, nil, prot, ok
		}
	}
	lr := &lineReader{conn: conn}
	readErr := func(err error) {
		s.auditFlood(err, lc.st)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			lc.st.ended(outcomeTimedOut)
			conn.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
			say("")
			say(msgLoginTimeout)
			s.audit.Info("logon timed out", append([]any{"event", "logon_timeout", "remote", remote}, proxyAttrs(lc.proxy)...)...)
		}
		log.Debug("logon ended", "err", err)
	}
	empty := 0
	for failures := 0; failures < cfg.MaxFailedLogons; {
		conn.WritePrompt([]byte("login: "))
		user, err := lr.readLine(true)
		if err != nil {
			readErr(err)
			return id, nil, nil, false
		}
		if user == "" {
			// A person pressing Enter gets the prompt again; a stream of
			// empty lines (binary noise, a TLS hello) counts as failures.
			if empty++; empty > maxEmptyLogins {
				failures++
			}
			say("")
			continue
		}
		lc.st.advance(stageNamed)
		say("")
		conn.WritePrompt([]byte("password: "))
		password, err := lr.readLine(false)
		if err != nil {
			readErr(err)
			return id, nil, nil, false
		}
		lc.st.advance(stageChecking)
		say("")
		id, err = s.authenticate(ctx, cfg, hostOf(remote), user, func() (auth.Identity, error) {
			return s.store.Authenticate(ctx, user, password)
		})
		var lo *lockedOutError
		switch {
		case errors.As(err, &lo):
			// Refused without looking at the password: no bcrypt time is
			// spent on a locked-out address or account.
			failures++
			lc.st.ended(outcomeFailed)
			s.flood.record(refusedLockedOut, sourceName(lc.st.source), append([]any{"user", printable(user), "remote", remote,
				"until", lo.until.UTC().Format(time.RFC3339)}, proxyAttrs(lc.proxy)...)...)
			s.metrics.Logon(metrics.LogonLocked)
			say(msgLockedOut)
			say("")
		case err == nil:
			return id, lr.typeahead(), prot, true
		case errors.Is(err, auth.ErrNotMember):
			lc.st.ended(outcomeFailed)
			say(accessDenied(cfg.ClientsGroup))
			s.audit.Warn("logon refused", append([]any{"event", "logon_denied", "user", user, "remote", remote,
				"reason", "not a member of " + cfg.ClientsGroup + " or " + cfg.AdminsGroup}, proxyAttrs(lc.proxy)...)...)
			s.metrics.Logon(metrics.LogonDenied)
			return id, nil, nil, false
		case errors.Is(err, auth.ErrBadCredentials):
			failures++
			lc.st.ended(outcomeFailed)
			s.audit.Warn("logon failed", append([]any{"event", "logon_failed", "user", printable(user), "remote", remote,
				"failures", failures}, proxyAttrs(lc.proxy)...)...)
			s.metrics.Logon(metrics.LogonFailed)
			say(msgLoginIncorrect)
			say("")
		case errors.Is(err, context.DeadlineExceeded):
			// The login deadline passed while waiting for a bcrypt slot.
			readErr(os.ErrDeadlineExceeded)
			return id, nil, nil, false
		default: // context cancelled (shutdown) or an internal error
			log.Error("authentication error", "err", err)
			return id, nil, nil, false
		}
	}
	say(msgTooManyFails)
	lc.st.ended(outcomeFailed)
	s.flood.record(droppedFailures, sourceName(lc.st.source), lc.st.peer("max_failed_logons", cfg.MaxFailedLogons)...)
	return id, nil, nil, false
}

// certificateLogon logs on the user a client certificate names (its
// common name), when tls.client_ca_file is set and the client presented
// one. done is false when there is no certificate to judge: the password
// dialogue runs as usual. Otherwise the certificate decides, and ok says
// whether the user is logged on; the client has been told why not.
func (s *Server) certificateLogon(ctx context.Context, lc logonConn, cfg *config.Config, say func(string)) (id auth.Identity, prot *admin.TLS, done, ok bool) {
	store := s.tls.Load()
	if store == nil || store.ClientCA() == nil {
		return id, nil, false, false
	}
	user, present, err := store.ClientCA().Identity(lc.tls.ConnectionState(), time.Now())
	if !present {
		return id, nil, false, false
	}
	subject := lc.tls.ConnectionState().PeerCertificates[0].Subject.String()
	prot = tlsInfo(lc.tls, lc.via, subject)
	fail := func(event, msg, reason string) (auth.Identity, *admin.TLS, bool, bool) {
		lc.st.ended(outcomeFailed)
		say(msg)
		s.audit.Warn("logon failed", append([]any{"event", event, "user", printable(user), "remote", lc.remote,
			"reason", reason}, append(tlsAttrs(prot), proxyAttrs(lc.proxy)...)...)...)
		s.metrics.Logon(logonResult[event])
		return auth.Identity{}, nil, true, false
	}
	if err != nil {
		return fail("logon_failed", err.Error(), "client certificate refused: "+err.Error())
	}
	// Not through the lockout: it is there to stop guessing, and a
	// certificate our CA signed cannot be guessed. A lock that others'
	// wrong passwords put on the account does not keep out its owner's
	// certificate, and a certificate that names no user is no guess.
	id, err = s.store.AuthenticateCertificate(user)
	switch {
	case err == nil:
		return id, prot, true, true
	case errors.Is(err, auth.ErrNotMember):
		return fail("logon_denied", accessDenied(cfg.ClientsGroup), "not a member of "+cfg.ClientsGroup+" or "+cfg.AdminsGroup)
	default:
		return fail("logon_failed", msgCertNoUser, "client certificate names no user of the users file")
	}
}

// lockedOutError is authenticate's refusal of a locked-out address or
// account, until the lock ends.
type lockedOutError struct{ until time.Time }

func (e *lockedOutError) Error() string { return "locked out" }

// authenticate runs one check of user's credentials (a password, or a
// client certificate), with the attempt reserved in the lockout table
// first: parallel attempts must not run more checks than
// lockout.attempts allows, which looking at the lock, then checking, then
// recording the failure let them do.
//
// A source penalty_exempt names (the administrators' own network) skips
// the lockout, neither refused by it nor counted, as a certificate logon
// does: a lock that others set on an account must not keep its owner out
// from there.
func (s *Server) authenticate(ctx context.Context, cfg *config.Config, address, user string, check func() (auth.Identity, error)) (auth.Identity, error) {
	if a, err := netip.ParseAddr(address); err == nil && cfg.PenaltyExempt.Contains(a) {
		return check()
	}
	attempt, until, err := s.lockout.BeginWait(ctx, address, user)
	if errors.Is(err, auth.ErrLockedOut) {
		return auth.Identity{}, &lockedOutError{until}
	}
	if err != nil {
		return auth.Identity{}, err // the login deadline, or shutdown
	}
	// Ends it on any other outcome (the deadline, shutdown, a non-member,
	// a panic); a no-op after Success or Failure.
	defer attempt.Release()
	id, err := check()
	switch {
	case err == nil:
		attempt.Success()
	case errors.Is(err, auth.ErrBadCredentials):
		for _, what := range attempt.Failure() {
			s.audit.Warn("lockout", "event", "lockout", "locked", what, "user", printable(user),
				"address", address, "duration", cfg.Lockout.Duration.String(),
				"attempts", cfg.Lockout.Attempts, "window", cfg.Lockout.Window.String())
		}
	}
	return id, err
}

// maxEmptyLogins is how many empty answers to login: are free.
const maxEmptyLogins = 5

// printable makes a user-typed name safe to log.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
