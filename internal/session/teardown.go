package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"
)

// Timings of the teardown. They are deadlines, not sleeps: each ends early
// when what it waits for happens.
const (
	// drainTimeout bounds how long output is still forwarded after the
	// shell exits while some background process keeps the terminal open.
	drainTimeout = 2 * time.Second
	// drainLimit bounds it in all, for a background process that keeps
	// writing.
	drainLimit = 30 * time.Second
	// killGrace is how long processes get between SIGHUP and SIGKILL.
	killGrace = 2 * time.Second
	// exitWait bounds the wait for a killed shell to be reaped. SIGKILL
	// takes effect at once unless the process sleeps uninterruptibly (a
	// hung NFS or FUSE mount, a stuck device); such a shell must not hold
	// its connection, registry entry and max_connections slot until then:
	// the daemon's reaper (reaper.go) reaps it whenever it ends.
	exitWait = 10 * time.Second
	// closeTimeout bounds waiting for the client to close its side after
	// we closed ours, so the last output is not lost to a reset.
	closeTimeout = time.Second
	// lastWriteTimeout bounds the last write to the client when the
	// session ends.
	lastWriteTimeout = 5 * time.Second
)

// teardown ends the session once Run knows why (reason): the session's
// processes when EndTasks is set or ctx was cancelled with ErrKilled, the
// terminal, then the connection, after the last output has gone out.
// outDone is closed when copyOut has returned; in is the client's input,
// read here until the client closes its side (unless that has ended).
func (s *Session) teardown(ctx context.Context, reason Reason, outDone <-chan struct{}, in *input) {
	endAll := s.spec.EndTasks || errors.Is(context.Cause(ctx), ErrKilled)
	if endAll {
		s.endTasks()
	}
	// Closing the master hangs the terminal up (SIGHUP to what is left
	// when tasks are not ended) and ends copyOut, once its last write is
	// done: a client that has stopped reading gets lastWriteTimeout to
	// take it, so the session still ends.
	s.master.Close()
	s.conn.NetConn().SetWriteDeadline(time.Now().Add(lastWriteTimeout))
	<-outDone
	s.closeConn()
	s.copyIn(in) // the terminal is gone: what comes is read and dropped
	in.release()
	s.conn.Close()
	status := "still running (end_tasks_on_disconnect is off)"
	if endAll {
		status = "not gone after SIGKILL (in uninterruptible sleep: a hung file system or device?); reaped when it ends"
		t := time.NewTimer(exitWait)
		select {
		case <-s.exited:
		case <-t.C:
			s.log.Warn("session ended, but its shell did not exit after SIGKILL", "pid", s.pid, "waited", exitWait)
		}
		t.Stop()
	}
	select {
	case <-s.exited:
		status = fmt.Sprint(s.status)
	default:
	}
	if s.cg != nil {
		// Removed now if empty; else (end_tasks_on_disconnect off, or a
		// process in uninterruptible sleep) once it is, at a later
		// session's end.
		s.cg.remove()
		s.cg.host.sweep()
	}
	s.log.Debug("session ended", "reason", reason, "shell", status)
}

// closeConn closes our side first and waits (bounded) for the client to
// close its side: closing a socket with unread input makes the kernel send
// a reset, which can destroy the last output in flight.
func (s *Session) closeConn() {
	nc := s.conn.NetConn()
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(closeTimeout))
		return // copyIn drains until EOF or the deadline; teardown then closes
	}
	nc.Close()
}

// endTasks ends every process of the session: the shell's session ID is
// its PID, and every job it started keeps that session ID even when it has
// a process group of its own. SIGHUP first, then SIGKILL for whatever is
// still there when killGrace has passed, or sooner, once all that is left
// ignores SIGHUP.
//
// The processes are found by their session ID in all of /proc, never by
// following the shell's children: a job started as `(cmd &)`, or a server
// started by a script that has returned, belongs to init while still in
// the session, and so do all the shell's children once it has exited
// (perhaps not yet reaped: a zombie has no children any more). Each signal
// goes out right after the scan that checked the PID is in the session, so
// a PID reused by another process meanwhile is not hit.
func (s *Session) endTasks() {
	if s.cg != nil {
		s.endCgroup()
		return
	}
	sid := s.PID()
	pids := sessionMembers(sid)
	if len(pids) == 0 {
		// Only a member can bring a process into a session (by fork), so
		// none can appear now.
		return
	}
	signalAll(s.Leader(), pids, syscall.SIGHUP)
	// A stopped job must run to see SIGHUP; each PID, since jobs have
	// process groups of their own.
	signalAll(s.Leader(), pids, syscall.SIGCONT)
	s.awaitHangup(func() []int { return sessionMembers(sid) })
	// Scan again each round, for what was forked since; and wait (briefly)
	// until the killed are gone, so that when the session is over,
	// nothing of it is still running.
	deadline := time.Now().Add(time.Second)
	for {
		left := sessionMembers(sid)
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
		signalAll(s.Leader(), left, syscall.SIGKILL)
		time.Sleep(5 * time.Millisecond)
	}
}

// endCgroup ends every process in the session's cgroup, as endTasks does
// by session ID, but with nothing able to leave: SIGHUP and SIGCONT to
// each, the grace, then cgroup.kill, which kills whatever is in the cgroup
// at that moment, forks in flight included.
func (s *Session) endCgroup() {
	cg := s.cg
	if !cg.populated() {
		return
	}
	cg.signal(syscall.SIGHUP)
	cg.signal(syscall.SIGCONT)
	s.awaitHangup(cg.members)
	cg.kill(time.Second)
}

// awaitHangup waits, after SIGHUP and SIGCONT, for the shell to exit, and
// until the grace ends for the members (as listed by members) still in
// their SIGHUP handlers. The shell usually goes at once; a job may still
// be in its handler (an editor writing its recovery file), and gets the
// rest of the grace to finish. What ignores SIGHUP (nohup) is not waited
// for: it will not end by itself, and the client waits for the session
// to end.
func (s *Session) awaitHangup(members func() []int) {
	graceEnd := time.Now().Add(killGrace)
	t := time.NewTimer(killGrace)
	select {
	case <-s.exited:
	case <-t.C:
	}
	t.Stop()
	for time.Now().Before(graceEnd) && slices.ContainsFunc(members(), heedsHangup) {
		time.Sleep(20 * time.Millisecond)
	}
}
