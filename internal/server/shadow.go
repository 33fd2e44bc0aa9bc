package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/shadow"
)

// shadowWriteTimeout bounds one write of a watcher's stream: a tlntadmn
// that is stopped, or a terminal that does not take its output, loses
// its view (the hub drops it once it is watcherCap behind anyway).
const shadowWriteTimeout = 10 * time.Second

// Why a watcher's stream ended, for the audit record.
var errDetached = errors.New("detached")

// handleShadow streams a session's output to an administrator: what
// redraws its screen, then its output as it comes, until the admin
// detaches (closes the connection), falls behind, or the session ends.
func (s *Server) handleShadow(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("session %q: want a session ID (a number from tlntadmn sessions)", r.PathValue("id")))
		return
	}
	es := s.sessions.lookup(id)
	var wt *shadow.Watcher
	if len(es) == 1 && es[0].hub != nil {
		wt = es[0].hub.Watch()
	}
	if wt == nil {
		err := fmt.Errorf("%w %d", errNoSession, id)
		s.auditAdmin(r, "shadow", err, "session", id)
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	e := es[0]
	p := peerOf(r.Context())
	s.audit.Info("shadow started", "event", "shadow_start", "session", id, "user", e.info.User,
		"peer_user", p.Name, "peer_uid", p.UID, "peer_pid", p.PID)
	notice := s.Config().ShadowNotice && !e.stream
	if notice {
		go s.shadowNotice(e, p.Name+" is viewing this session.")
	}

	rc := http.NewResponseController(w)
	// The request is read; what is left of the connection is the stream,
	// which lasts as long as the watching.
	rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	end := s.streamShadow(w, rc, r, wt)
	wt.Stop()

	result := end.Error()
	s.audit.Info("shadow stopped", "event", "shadow_stop", "session", id, "user", e.info.User,
		"peer_user", p.Name, "peer_uid", p.UID, "peer_pid", p.PID, "reason", result)
	if notice && !errors.Is(end, shadow.ErrEnded) {
		go s.shadowNotice(e, p.Name+" stopped viewing this session.")
	}
}

// streamShadow copies the watcher's stream to w and returns why it ended.
func (s *Server) streamShadow(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, wt *shadow.Watcher) error {
	var buf []byte
	for {
		select {
		case <-r.Context().Done():
			return errDetached
		case <-wt.Wait():
		}
		var end error
		buf, end = wt.Next(buf[:0])
		if end != nil {
			// Said on a line of its own, then the stream ends.
			buf = append(buf, "\r\n[tlntsvr: "+end.Error()+"]\r\n"...)
		}
		if len(buf) > 0 {
			rc.SetWriteDeadline(time.Now().Add(shadowWriteTimeout))
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("writing to the watcher failed: %w", err)
			}
			if err := rc.Flush(); err != nil {
				return fmt.Errorf("writing to the watcher failed: %w", err)
			}
		}
		if end != nil {
			return end
		}
		if cap(buf) > 64<<10 {
			buf = nil
		}
	}
}

// shadowNotice tells the session's user about a watcher; the notices of
// one session go out one at a time, in order.
func (s *Server) shadowNotice(e *entry, text string) {
	e.shadowMu.Lock()
	defer e.shadowMu.Unlock()
	e.sess.Notice(text)
}
