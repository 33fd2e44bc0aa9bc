package server

import "github.com/tlntsvr/tlntsvr/internal/session"

// SessionLeaders names the Unix sessions of the logged-on sessions: each
// session's shell leads a Unix session of its own, and every process it
// starts keeps that session ID, whatever its process group.
func (s *Server) SessionLeaders() []session.Leader {
	var out []session.Leader
	for _, e := range s.sessions.lookup(0) {
		if l := e.sess.Leader(); l.SID > 1 {
			out = append(out, l)
		}
	}
	return out
}

// KillSessionProcesses sends SIGKILL to every live process of the
// sessions leaders, and returns how many it signalled: at the end of a
// shutdown, everything, when the wait for the sessions' own teardown was
// cut short; the programs that ignored the hangup, when
// end_tasks_on_disconnect is off.
func KillSessionProcesses(leaders []session.Leader) int { return session.KillSessions(leaders) }
