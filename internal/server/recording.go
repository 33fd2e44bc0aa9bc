package server

import (
	"log/slog"

	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/recording"
	"github.com/tlntsvr/tlntsvr/internal/session"
	"github.com/tlntsvr/tlntsvr/internal/shadow"
)

// observe sets up what watches session sid (entry e): the shadow hub
// always, and a recording when record.dir is set. A recording that cannot
// be made is audited and the session goes on without one. It returns
// what ends them when the session ends.
func (s *Server) observe(cfg *config.Config, sid int, e *entry, cols, rows int, log *slog.Logger) (end func()) {
	e.hub = &shadow.Hub{}
	if cfg.Record.Dir == "" {
		e.sess.Observe(nil, e.hub)
		return e.hub.End
	}
	rec, err := recording.Create(recording.Options{
		Dir: cfg.Record.Dir, MaxBytes: int64(cfg.Record.MaxBytes), Session: sid,
		User: e.info.User, OSAccount: e.info.OSAccount, Remote: e.info.Remote,
		Term: e.info.Term, Cols: cols, Rows: rows, Start: e.info.LogonTime,
		Stopped: func(why string) {
			s.audit.Warn("recording stopped", "event", "recording_stopped", "session", sid,
				"user", e.info.User, "path", e.recording.Load(), "reason", why)
		},
	})
	if err != nil {
		log.Error("session not recorded", "err", err)
		s.audit.Error("recording failed", "event", "recording_failed", "session", sid,
			"user", e.info.User, "reason", err.Error())
		e.sess.Observe(nil, e.hub)
		return e.hub.End
	}
	e.recording.Store(rec.Path())
	var input func([]byte)
	if cfg.Record.Input {
		input = rec.Input
	}
	e.sess.Observe(input, e.hub, rec)
	s.audit.Info("recording", "event", "recording_start", "session", sid, "user", e.info.User, "path", rec.Path(),
		"input", cfg.Record.Input)
	return func() {
		e.hub.End()
		rec.Close()
	}
}

// Compile-time checks that both are taps.
var (
	_ session.Tap = (*shadow.Hub)(nil)
	_ session.Tap = (*recording.Recorder)(nil)
)
