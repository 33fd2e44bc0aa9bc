package server

import (
	"context"
	"fmt"
	"time"
)

// idleRecheck bounds how long the idle watch sleeps, so a changed
// idle_timeout (tlntadmn config timeout=...) reaches running sessions.
const idleRecheck = 10 * time.Second

// watchIdle ends a session that has had no input from its client for
// idle_timeout, with a warning idle_warning before. Input resets both.
// idle_timeout 0 (timeoutactive=no) turns it off. It runs on a timer, not
// a goroutine of its own, so an idle session parks one stack fewer.
func (s *Server) watchIdle(ctx context.Context, id int, e *entry) {
	w := &idleWatch{s: s, ctx: ctx, id: id, e: e}
	w.t = time.AfterFunc(time.Hour, w.check)
	w.t.Reset(0)
	context.AfterFunc(ctx, func() { w.t.Stop() })
}

type idleWatch struct {
	s      *Server
	ctx    context.Context
	id     int
	e      *entry
	t      *time.Timer
	warned bool // touched only by check, which the timer runs one at a time
}

func (w *idleWatch) check() {
	s, e := w.s, w.e
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in idle watch; ending the session", "session", w.id, "panic", r)
			e.cancel(nil)
		}
	}()
	if w.ctx.Err() != nil {
		return
	}
	cfg := s.Config()
	timeout, warning := cfg.IdleTimeout, cfg.IdleWarning
	wait := idleRecheck
	if timeout > 0 {
		idle := time.Since(e.sess.LastInput())
		switch {
		case idle >= timeout:
			notify([]*entry{e}, fmt.Sprintf("Your session has been idle for %s and is being disconnected.", human(timeout)))
			s.audit.Info("idle timeout", append([]any{"event", "idle_timeout", "session", w.id, "user", e.info.User,
				"remote", e.info.Remote, "idle_timeout", timeout.String()}, proxyAttrs(e.info.Proxy)...)...)
			e.cancel(nil)
			return
		case idle >= timeout-warning:
			if !w.warned {
				notify([]*entry{e}, fmt.Sprintf("Your session has been idle and will be disconnected in %s unless you type something.", human(timeout-idle)))
				w.warned = true
			}
			wait = min(wait, timeout-idle)
		default:
			w.warned = false
			wait = min(wait, timeout-warning-idle)
		}
	}
	w.t.Reset(wait)
}

// human writes a duration the way a person would say it: "1 hour",
// "90 seconds", "2 minutes".
func human(d time.Duration) string {
	d = d.Round(time.Second)
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	default:
		return unit(int64(d/time.Second), "second")
	}
}
