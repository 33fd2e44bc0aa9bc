package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/protocol"
)

// logon runs the login dialogue. ok is false when the connection is to be
// closed; the client has been told why.
func (s *Server) logon(ctx context.Context, conn *protocol.Conn, cfg *config.Config, log *slog.Logger, remote string) (id auth.Identity, typeahead []byte, ok bool) {
	say := func(line string) { conn.Write([]byte(line + "\r\n")) }
	if cfg.Mode != config.ModeStream && cfg.Banner != "" {
		say(strings.ReplaceAll(cfg.Banner, "\n", "\r\n"))
		say("")
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
			return id, nil, false
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
			return id, nil, false
		}
		say("")
		id, err = s.authenticate(ctx, cfg, hostOf(remote), user, password)
		var lo *lockedOutError
		switch {
		case errors.As(err, &lo):
			// Refused without looking at the password: no bcrypt time is
			// spent on a locked-out address or account.
			failures++
			s.audit.Warn("logon refused", "event", "logon_locked_out", "user", printable(user), "remote", remote,
				"until", lo.until.UTC().Format(time.RFC3339))
			say(msgLockedOut)
			say("")
		case err == nil:
			return id, lr.typeahead(), true
		case errors.Is(err, auth.ErrNotMember):
			say(accessDenied(cfg.ClientsGroup))
			s.audit.Warn("logon refused", "event", "logon_denied", "user", user, "remote", remote,
				"reason", "not a member of "+cfg.ClientsGroup+" or "+cfg.AdminsGroup)
			return id, nil, false
		case errors.Is(err, auth.ErrBadCredentials):
			failures++
			s.audit.Warn("logon failed", "event", "logon_failed", "user", printable(user), "remote", remote,
				"failures", failures)
			say(msgLoginIncorrect)
			say("")
		case errors.Is(err, context.DeadlineExceeded):
			// The login deadline passed while waiting for a bcrypt slot.
			readErr(os.ErrDeadlineExceeded)
			return id, nil, false
		default: // context cancelled (shutdown) or an internal error
			log.Error("authentication error", "err", err)
			return id, nil, false
		}
	}
	say(msgTooManyFails)
	s.audit.Warn("connection dropped", "event", "max_failed_logons", "remote", remote,
		"max_failed_logons", cfg.MaxFailedLogons)
	return id, nil, false
}

// lockedOutError is authenticate's refusal of a locked-out address or
// account, until the lock ends.
type lockedOutError struct{ until time.Time }

func (e *lockedOutError) Error() string { return "locked out" }

// authenticate checks one password, with the attempt reserved in the
// lockout table first: parallel attempts must not run more checks than
// lockout.attempts allows, which looking at the lock, then checking, then
// recording the failure let them do.
func (s *Server) authenticate(ctx context.Context, cfg *config.Config, address, user, password string) (auth.Identity, error) {
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
	id, err := s.store.Authenticate(ctx, user, password)
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
