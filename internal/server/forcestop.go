package server

import "github.com/tlntsvr/tlntsvr/internal/session"

// SessionLeaders returns the session IDs of the logged-on sessions: each
// session's shell leads a Unix session of its own, and every process it
// starts keeps that session ID, whatever its process group.
func (s *Server) SessionLeaders() []int {
	var out []int
	for _, si := range s.sessions.List() {
		if si.PID > 1 {
			out = append(out, si.PID)
		}
	}
	return out
}

// KillSessionProcesses sends SIGKILL to every live process of the
// sessions sids, and returns how many it signalled: at the end of a
// shutdown, everything, when the wait for the sessions' own teardown was
// cut short; the programs that ignored the hangup, when
// end_tasks_on_disconnect is off.
func KillSessionProcesses(sids []int) int { return session.KillSessions(sids) }
