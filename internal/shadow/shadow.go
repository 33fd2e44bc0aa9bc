// Package shadow lets administrators watch a session's output live.
//
// A Hub keeps the session's recent output, so that a watcher who joins
// sees the screen as it is, and hands each new piece of output to every
// watcher. It never waits for a watcher: each has a bounded buffer, and
// one that falls behind by more than that is dropped (its stream ends
// with ErrDropped) while the session goes on.
//
// The screen is redrawn from the last keep bytes of output (a ring of up
// to 16 KiB, grown as output comes, so an idle session holds little),
// from the last point in them where the screen was cleared (ESC [ 2 J,
// ESC [ H ESC [ J, ESC c); without one, from the first line that starts
// in them, after clearing the watcher's screen. That redraws a shell, a
// pager or an editor that has redrawn its screen since, and the recent
// lines of anything else. No terminal is emulated: the cost on the
// session's data path is one copy of what it writes, at most keep bytes.
package shadow

import (
	"bytes"
	"errors"
	"sync"
)

// keep is how much recent output a Hub keeps for the redraw.
const keep = 16 << 10

// watcherCap is how far a watcher may fall behind before it is dropped.
const watcherCap = 256 << 10

// ErrDropped ends the stream of a watcher that fell behind.
var ErrDropped = errors.New("the view fell behind the session's output and was dropped")

// ErrEnded ends every stream when the session ends.
var ErrEnded = errors.New("the session ended")

// Hub is one session's output, for its watchers. The zero value is ready.
type Hub struct {
	mu       sync.Mutex
	ring     []byte // the recent output: grows to keep, then wraps at w
	w        int
	full     bool
	watchers []*Watcher
	ended    bool
}

// Output takes what the session wrote to its client. It copies p and
// never waits for a watcher.
func (h *Hub) Output(p []byte) {
	h.mu.Lock()
	h.remember(p)
	for _, w := range h.watchers {
		w.push(p)
	}
	h.mu.Unlock()
}

// Resize is part of the session's tap; the watcher's terminal keeps its
// own size.
func (h *Hub) Resize(cols, rows int) {}

// remember adds p to the ring.
func (h *Hub) remember(p []byte) {
	if len(p) >= keep {
		h.ring = append(h.ring[:0], p[len(p)-keep:]...)
		h.w, h.full = 0, true
		return
	}
	if !h.full {
		if len(h.ring)+len(p) <= keep {
			h.ring = append(h.ring, p...)
			return
		}
		n := keep - len(h.ring)
		h.ring = append(h.ring, p[:n]...)
		p = p[n:]
		h.w, h.full = 0, true
	}
	n := copy(h.ring[h.w:], p)
	if n < len(p) {
		h.w = copy(h.ring, p[n:])
	} else if h.w += n; h.w == keep {
		h.w = 0
	}
}

// screen returns what redraws the session's screen: the recent output
// from its last clear, or from its first whole line after a clear of
// the watcher's own.
func (h *Hub) screen() []byte {
	recent := append(append([]byte(nil), h.ring[h.w:]...), h.ring[:h.w]...)
	if !h.full {
		recent = append([]byte(nil), h.ring...)
	}
	at := -1
	for _, clear := range [][]byte{[]byte("\x1b[2J"), []byte("\x1b[H\x1b[J"), []byte("\x1bc")} {
		at = max(at, bytes.LastIndex(recent, clear))
	}
	if at >= 0 {
		// A cursor-home just before the clear belongs with it.
		if home := []byte("\x1b[H"); at >= len(home) && bytes.Equal(recent[at-len(home):at], home) {
			at -= len(home)
		}
		return recent[at:]
	}
	if h.full {
		// The ring may start inside a line, a sequence or a character.
		if i := bytes.IndexByte(recent, '\n'); i >= 0 {
			recent = recent[i+1:]
		}
	}
	return append([]byte("\x1b[H\x1b[2J"), recent...)
}

// Watch adds a watcher; its stream starts with what redraws the screen.
// It returns nil when the session has ended.
func (h *Hub) Watch() *Watcher {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return nil
	}
	w := &Watcher{hub: h, wake: make(chan struct{}, 1), buf: h.screen()}
	w.wake <- struct{}{}
	h.watchers = append(h.watchers, w)
	return w
}

// Watchers returns how many watch now.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// End ends every watcher's stream (with ErrEnded, after what it has not
// read yet), and keeps new ones from joining.
func (h *Hub) End() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	for _, w := range h.watchers {
		w.end(ErrEnded)
	}
	h.watchers = nil
}

// Watcher is one administrator's view of a session.
type Watcher struct {
	hub  *Hub
	wake chan struct{}

	mu  sync.Mutex
	buf []byte // what the watcher has not read yet
	err error  // the stream's end, after buf
}

// push adds p to the watcher's buffer, or drops the watcher when it is
// too far behind. Called with the hub's lock held.
func (w *Watcher) push(p []byte) {
	w.mu.Lock()
	if w.err == nil {
		if len(w.buf)+len(p) > watcherCap {
			w.err, w.buf = ErrDropped, nil
		} else {
			w.buf = append(w.buf, p...)
		}
	}
	w.mu.Unlock()
	w.signal()
}

func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Watcher) end(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.signal()
}

// Wait returns a channel that is ready when Next may have something.
func (w *Watcher) Wait() <-chan struct{} { return w.wake }

// Next appends what has come since the last call to dst, or returns the
// stream's end (ErrDropped, ErrEnded) once all before it was read. Call it
// after Wait's channel is ready; it returns dst unchanged and a nil error
// when nothing came.
func (w *Watcher) Next(dst []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		dst = append(dst, w.buf...)
		w.buf = w.buf[:0]
		if cap(w.buf) > 64<<10 {
			w.buf = nil // after a burst, let the large buffer go
		}
		if w.err != nil {
			w.signal()
		}
		return dst, nil
	}
	return dst, w.err
}

// Stop removes the watcher from its hub.
func (w *Watcher) Stop() {
	h := w.hub
	h.mu.Lock()
	for i, x := range h.watchers {
		if x == w {
			h.watchers = append(h.watchers[:i], h.watchers[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	w.end(ErrEnded)
}
