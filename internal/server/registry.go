package server

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/session"
	"github.com/tlntsvr/tlntsvr/internal/shadow"
)

// SessionInfo is what the registry tells about one logged-on session.
type SessionInfo struct {
	ID           int
	User         string // Telnet user name
	OSAccount    string
	Remote       string // client address
	Proxy        string // the load balancer's address (PROXY protocol); "" for a direct connection
	LogonTime    time.Time
	LastActivity time.Time // last input from the client
	Term         string
	Cols, Rows   int
	PID          int // the shell's process ID
	// TLS is the connection's encryption; nil for clear text. Shared,
	// never modified once the session is registered.
	TLS *admin.TLS
	// Recording is the session's recording file; "" when not recorded.
	Recording string
}

// entry is a registered session.
type entry struct {
	info   SessionInfo // the fixed fields
	sess   *session.Session
	cancel context.CancelCauseFunc
	// stream: the session runs in stream mode, whose client gets nothing
	// but its program's bytes (design.md), so it is given no notices:
	// they would land in the middle of a script's data.
	stream bool
	// noticing: a notice to this session is still being written. One at
	// a time: to a client that is not reading, more would only pile up.
	noticing atomic.Bool
	// hub is the session's output for administrators who watch it;
	// recording its recording's path (a string; nil when none). Both
	// are set before Run.
	hub       *shadow.Hub
	recording atomic.Value
	// shadowMu orders the notices of watchers joining and leaving.
	shadowMu sync.Mutex
}

// Registry holds the logged-on sessions. IDs count up from 1 and are not
// reused while the daemon runs, so an ID an admin typed never names a
// different session.
type Registry struct {
	mu      sync.Mutex
	next    int
	entries map[int]*entry
}

func newRegistry() *Registry { return &Registry{entries: map[int]*entry{}} }

func (r *Registry) add(e *entry) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	e.info.ID = r.next
	r.entries[e.info.ID] = e
	return e.info.ID
}

func (r *Registry) remove(id int) {
	r.mu.Lock()
	delete(r.entries, id)
	r.mu.Unlock()
}

// List returns every session, in ID order, with its live fields filled in.
func (r *Registry) List() []SessionInfo {
	r.mu.Lock()
	es := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		es = append(es, e)
	}
	r.mu.Unlock()
	out := make([]SessionInfo, 0, len(es))
	for _, e := range es {
		out = append(out, e.snapshot())
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return a.ID - b.ID })
	return out
}

func (e *entry) snapshot() SessionInfo {
	si := e.info
	si.LastActivity = e.sess.LastInput()
	si.Cols, si.Rows, _ = e.sess.WindowSize()
	si.Recording, _ = e.recording.Load().(string)
	return si
}

// Len returns the number of logged-on sessions.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// lookup returns the sessions an admin named: one ID, or all when id is 0.
func (r *Registry) lookup(id int) []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id != 0 {
		if e, ok := r.entries[id]; ok {
			return []*entry{e}
		}
		return nil
	}
	out := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e)
	}
	return out
}

// Message writes text to the terminals of session id (0 = all), on lines
// of its own, and returns how many sessions there were, how many took it
// within noticeTimeout, and how many were in stream mode and not sent it.
func (r *Registry) Message(id int, text string) (found, reached, stream int) {
	es := r.lookup(id)
	for _, e := range es {
		if e.stream {
			stream++
		}
	}
	return len(es), notify(es, text), stream
}

// End tells session id (0 = all) why, then ends it, with cause as its
// context's cause (session.ErrKilled: every process of it ends); it
// returns how many sessions it ended. The session's own goroutine does
// the teardown.
func (r *Registry) End(id int, why string, cause error) int {
	es := r.lookup(id)
	if why != "" {
		notify(es, why)
	}
	for _, e := range es {
		e.cancel(cause)
	}
	return len(es)
}

// noticeTimeout bounds how long telling sessions something may take, so
// that a client that has stopped reading (its notice waits behind output
// the socket cannot take) holds up neither the others nor a kill or a
// shutdown.
const noticeTimeout = 2 * time.Second

// notify gives text to every session in es at once, stream-mode ones
// apart, and returns how many took it within noticeTimeout. A notice still
// blocked then finishes or fails by itself: the session's end unblocks
// it. A session with a notice still blocked does not get another.
func notify(es []*entry, text string) int {
	var reached atomic.Int64
	var wg sync.WaitGroup
	for _, e := range es {
		if e.stream || !e.noticing.CompareAndSwap(false, true) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.noticing.Store(false)
			if e.sess.Notice(text) == nil {
				reached.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(noticeTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
	return int(reached.Load())
}
