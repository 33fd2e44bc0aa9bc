package shadow

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// drain reads what a watcher has now.
func drain(w *Watcher) (string, error) {
	var out []byte
	for {
		select {
		case <-w.Wait():
		default:
			return string(out), nil
		}
		var err error
		out, err = w.Next(out)
		if err != nil {
			return string(out), err
		}
	}
}

func TestScreenFromLastClear(t *testing.T) {
	var h Hub
	h.Output([]byte("old stuff\r\n\x1b[H\x1b[2Jtop of screen\r\n"))
	h.Output([]byte("more"))
	w := h.Watch()
	got, _ := drain(w)
	if want := "\x1b[H\x1b[2Jtop of screen\r\nmore"; got != want {
		t.Errorf("redraw %q, want %q", got, want)
	}
	h.Output([]byte(" live"))
	if got, _ := drain(w); got != " live" {
		t.Errorf("live %q", got)
	}
}

func TestScreenWithoutClear(t *testing.T) {
	var h Hub
	h.Output([]byte("$ ls\r\na b\r\n$ "))
	got, _ := drain(h.Watch())
	if want := "\x1b[H\x1b[2J$ ls\r\na b\r\n$ "; got != want {
		t.Errorf("redraw %q, want %q", got, want)
	}
	// Once the ring has wrapped, the redraw starts at a whole line.
	var line bytes.Buffer
	for i := 0; line.Len() < 3*keep; i++ {
		line.WriteString(strings.Repeat("x", 70) + "\r\n")
		h.Output(line.Bytes()[line.Len()-72:])
	}
	got, _ = drain(h.Watch())
	body := strings.TrimPrefix(got, "\x1b[H\x1b[2J")
	if !strings.HasPrefix(body, strings.Repeat("x", 70)+"\r\n") || len(body) > keep {
		t.Errorf("wrapped redraw starts %q, %d bytes", body[:80], len(body))
	}
}

func TestRingKeepsTheLatest(t *testing.T) {
	var h Hub
	var all []byte
	for i := range 5000 {
		p := []byte(strings.Repeat(string(rune('a'+i%26)), i%37+1))
		all = append(all, p...)
		h.Output(p)
	}
	h.Output(bytes.Repeat([]byte("z"), keep+5))
	all = append(all, bytes.Repeat([]byte("z"), keep+5)...)
	h.Output([]byte("tail"))
	all = append(all, "tail"...)
	h.mu.Lock()
	got := append(append([]byte(nil), h.ring[h.w:]...), h.ring[:h.w]...)
	h.mu.Unlock()
	if !bytes.Equal(got, all[len(all)-keep:]) {
		t.Error("the ring does not hold the last keep bytes")
	}
}

func TestSlowWatcherDropped(t *testing.T) {
	var h Hub
	slow, fast := h.Watch(), h.Watch()
	chunk := bytes.Repeat([]byte("y"), 32<<10)
	for range 2 * watcherCap / len(chunk) {
		h.Output(chunk) // never waits
		drain(fast)
	}
	_, err := drain(slow)
	if !errors.Is(err, ErrDropped) {
		t.Errorf("slow watcher: %v, want ErrDropped", err)
	}
	h.Output([]byte("still"))
	if got, err := drain(fast); got != "still" || err != nil {
		t.Errorf("fast watcher: %q, %v", got, err)
	}
	h.End()
	if _, err := drain(fast); !errors.Is(err, ErrEnded) {
		t.Errorf("after End: %v", err)
	}
	if h.Watch() != nil {
		t.Error("a watcher joined an ended session")
	}
}

func TestStopRemoves(t *testing.T) {
	var h Hub
	w := h.Watch()
	w.Stop()
	if n := h.Watchers(); n != 0 {
		t.Errorf("%d watchers after Stop", n)
	}
}
