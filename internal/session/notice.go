package session

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// A notice (an admin's message, the idle warning, the reason a session is
// ended) goes between two pieces of the shell's output. If the output so
// far stops inside an escape sequence or a multi-byte character, the
// notice's bytes would become part of it: the terminal would swallow or
// garble the text and draw what follows wrongly. So copyOut remembers the
// incomplete tail of what it wrote, and a notice waits (briefly) until
// there is none.

// noticeWait bounds how long a notice waits for the output to reach a
// clean point. A program that stops in the middle of a sequence for longer
// than this gets the notice anyway. (A variable so that a test on a busy
// machine can allow the shell more time.)
var noticeWait = 250 * time.Millisecond

const (
	// maxSequence is the longest CSI or nF sequence tracked; past it
	// the bytes are not a sequence a terminal is still collecting.
	maxSequence = 256
)

const (
	esc = 0x1b
	bel = 0x07
	can = 0x18
	sub = 0x1a
)

// Notice writes text to the client on lines of its own, at a point where
// the shell's output is not in the middle of an escape sequence or a
// UTF-8 character (waiting up to noticeWait for one).
func (s *Session) Notice(text string) error {
	msg := []byte("\r\n" + text + "\r\n")
	deadline := time.Now().Add(noticeWait)
	for {
		s.outMu.Lock()
		if len(s.outTail) == 0 || time.Now().After(deadline) {
			s.tapOutput(msg)
			_, err := s.conn.Write(msg)
			s.outTail = s.outTail[:0]
			s.outMu.Unlock()
			return err
		}
		s.outMu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// writeOutput writes shell output to the taps and the client, and
// records its incomplete tail for Notice.
func (s *Session) writeOutput(p []byte) error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.tapOutput(p)
	_, err := s.conn.Write(p)
	s.outTail = incompleteTail(s.outTail, p)
	return err
}

// incompleteTail returns what, at the end of the stream, is an escape
// sequence or UTF-8 character not yet complete: prev is that tail before
// p was written (it is reused for the result). Only the end of p is
// looked at, so plain output costs one backwards byte search. Inside a
// control string (a window title, a hyperlink, a clipboard copy, an
// image) only the string's introducer is kept: those run to any length,
// and all that matters is where they end.
func incompleteTail(prev, p []byte) []byte {
	if i := lastEsc(p); i >= 0 {
		return sequenceTail(prev[:0], p[i:])
	}
	if isString(prev) {
		// p is inside the string begun before it, or ends it with BEL.
		j := bytes.IndexByte(p, bel)
		if j < 0 {
			return prev
		}
		return utf8Tail(prev[:0], p[j+1:])
	}
	if len(prev) > 0 && prev[0] == esc {
		// p continues the sequence begun before it.
		if len(prev)+len(p) > maxSequence {
			return prev[:0]
		}
		return sequenceTail(prev[:0], append(prev, p...))
	}
	if len(prev) > 0 && len(p) < utf8.UTFMax {
		// A character begun in prev may end in p.
		return utf8Tail(prev[:0], append(prev, p...))
	}
	return utf8Tail(prev[:0], p)
}

// lastEsc is bytes.LastIndexByte(p, esc), which is a byte-at-a-time loop,
// sped up for the output that has no ESC for kilobytes: chunks from the
// end are first checked with the vectorised IndexByte, and only the chunk
// that has one is searched byte by byte.
func lastEsc(p []byte) int {
	const chunk = 512
	for end := len(p); end > 0; end -= chunk {
		start := max(0, end-chunk)
		if bytes.IndexByte(p[start:end], esc) >= 0 {
			return start + bytes.LastIndexByte(p[start:end], esc)
		}
	}
	return -1
}

// sequenceTail appends to dst what of b, which starts with ESC, is not
// complete yet: the sequence, the introducer of an unfinished control
// string, or a character cut short after a finished sequence.
func sequenceTail(dst, b []byte) []byte {
	switch {
	case sequenceComplete(b):
		return utf8Tail(dst, b)
	case isString(b):
		return append(dst, b[:2]...)
	default:
		return append(dst, b...)
	}
}

// isString reports whether b starts a control string: OSC, DCS, SOS, PM
// or APC, which run until ST (ESC \) or, in practice, BEL.
func isString(b []byte) bool {
	return len(b) >= 2 && b[0] == esc && bytes.IndexByte([]byte("]PX^_"), b[1]) >= 0
}

// utf8Tail appends to dst the start of a multi-byte character that b ends
// with, if b ends in the middle of one.
func utf8Tail(dst, b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		c := b[i]
		if c < 0x80 {
			return dst // ASCII: nothing is cut short
		}
		if c >= 0xC0 { // a lead byte
			if !utf8.FullRune(b[i:]) {
				return append(dst, b[i:]...)
			}
			return dst
		}
	}
	return dst
}

// sequenceComplete reports whether b, which starts with ESC, holds a whole
// escape sequence (ECMA-48: CSI, control strings, nF and two-byte
// escapes). Terminals decode UTF-8 first, so a character ends a CSI. A
// CSI or nF sequence longer than maxSequence counts as complete: no
// terminal is still collecting it.
func sequenceComplete(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	if isString(b) {
		s := b[2:]
		return bytes.IndexByte(s, bel) >= 0 || bytes.Contains(s, []byte{esc, '\\'})
	}
	if len(b) > maxSequence {
		return true
	}
	switch c := b[1]; {
	case c == '[': // CSI: parameters and intermediates, then a final byte
		for _, x := range b[2:] {
			switch {
			case x >= 0x40 && x <= 0x7E:
				return true // the final byte
			case x >= 0x20 && x <= 0x3F, x < 0x20 && x != can && x != sub, x == 0x7F:
				// Parameters and intermediates; C0 controls are carried
				// out inside the sequence, DEL is ignored.
			default:
				return true // CAN or SUB cancel it; a character ends it
			}
		}
		return false
	case c >= 0x20 && c <= 0x2F: // nF: intermediates, then a final byte
		for _, x := range b[2:] {
			if x >= 0x30 && x <= 0x7E {
				return true
			}
		}
		return false
	default: // a two-byte escape
		return true
	}
}
