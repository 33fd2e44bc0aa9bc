package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
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
	remote string
	log    *slog.Logger
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
	prot = tlsInfo(lc.tls, "")
	if lc.tls != nil {
		if id, prot, done, ok := s.certificateLogon(ctx, lc, cfg, say); done {
			return id, nil, prot, ok
		}
	}
	lr := &lineReader{conn: conn}
	readErr := func(err error) {
		s.auditFlood(err, remote)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			conn.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
			say("")
			say(msgLoginTimeout)
			s.audit.Info("logon timed out", "event", "logon_timeout", "remote", remote)
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
		say("")
		conn.WritePrompt([]byte("password: "))
		password, err := lr.readLine(false)
		if err != nil {
			readErr(err)
			return id, nil, nil, false
		}
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
			s.audit.Warn("logon refused", "event", "logon_locked_out", "user", printable(user), "remote", remote,
				"until", lo.until.UTC().Format(time.RFC3339))
			s.metrics.Logon(metrics.LogonLocked)
			say(msgLockedOut)
			say("")
		case err == nil:
			return id, lr.typeahead(), prot, true
		case errors.Is(err, auth.ErrNotMember):
			say(accessDenied(cfg.ClientsGroup))
			s.audit.Warn("logon refused", "event", "logon_denied", "user", user, "remote", remote,
				"reason", "not a member of "+cfg.ClientsGroup+" or "+cfg.AdminsGroup)
			s.metrics.Logon(metrics.LogonDenied)
			return id, nil, nil, false
		case errors.Is(err, auth.ErrBadCredentials):
			failures++
			s.audit.Warn("logon failed", "event", "logon_failed", "user", printable(user), "remote", remote,
				"failures", failures)
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
	s.audit.Warn("connection dropped", "event", "max_failed_logons", "remote", remote,
		"max_failed_logons", cfg.MaxFailedLogons)
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
	prot = tlsInfo(lc.tls, subject)
	fail := func(event, msg, reason string) (auth.Identity, *admin.TLS, bool, bool) {
		say(msg)
		s.audit.Warn("logon failed", append([]any{"event", event, "user", printable(user), "remote", lc.remote,
			"reason", reason}, tlsAttrs(prot)...)...)
		s.metrics.Logon(logonResult[event])
		return auth.Identity{}, nil, true, false
	}
	if err != nil {
		return fail("logon_failed", err.Error(), "client certificate refused: "+err.Error())
	}
	id, err = s.authenticate(ctx, cfg, hostOf(lc.remote), user, func() (auth.Identity, error) {
		return s.store.AuthenticateCertificate(user)
	})
	var lo *lockedOutError
	switch {
	case err == nil:
		return id, prot, true, true
	case errors.As(err, &lo):
		return fail("logon_locked_out", msgLockedOut, "locked out until "+lo.until.UTC().Format(time.RFC3339))
	case errors.Is(err, auth.ErrNotMember):
		return fail("logon_denied", accessDenied(cfg.ClientsGroup), "not a member of "+cfg.ClientsGroup+" or "+cfg.AdminsGroup)
	case errors.Is(err, auth.ErrBadCredentials):
		return fail("logon_failed", msgCertNoUser, "client certificate names no user of the users file")
	default: // the login deadline, shutdown
		lc.log.Debug("certificate logon ended", "err", err)
		return auth.Identity{}, nil, true, false
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
func (s *Server) authenticate(ctx context.Context, cfg *config.Config, address, user string, check func() (auth.Identity, error)) (auth.Identity, error) {
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
