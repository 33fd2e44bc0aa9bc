package server

// Lifecycle is told of what a service manager follows beyond start and
// stop: reloads (systemd's RELOADING=1, then READY=1). Its methods run on
// the reloading goroutine and must not block for long.
type Lifecycle interface {
	Reloading()
	Reloaded(err error)
}

// SetLifecycle sets who is told of reloads. Call it before Serve and
// ServeAdmin.
func (s *Server) SetLifecycle(l Lifecycle) { s.lifecycle = l }

// SessionChanges receives when a session has started or ended since it
// was last read (one signal for any number of changes), for a status line
// that shows the session count without polling.
func (s *Server) SessionChanges() <-chan struct{} { return s.sessionsSeen }

func (s *Server) sessionsChanged() {
	select {
	case s.sessionsSeen <- struct{}{}:
	default:
	}
}
