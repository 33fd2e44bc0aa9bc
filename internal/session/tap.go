package session

import (
	"github.com/tlntsvr/tlntsvr/internal/pty"
	"golang.org/x/sys/unix"
)

// Tap sees a session's terminal traffic: a recording, administrators
// watching. Its methods are called on the data path, so they must not
// block for long and must not keep p.
type Tap interface {
	// Output gets what the client is sent: the shell's output, before
	// Telnet escaping, and the notices written between it.
	Output(p []byte)
	// Resize gets each change of the window size.
	Resize(cols, rows int)
}

// Observe gives the session what sees its traffic; call it before Run.
// input, if not nil, gets what the user types, but only while the
// terminal echoes it: a password typed to a program that turned echo off
// (sudo, passwd, ssh) never reaches it.
func (s *Session) Observe(input func(p []byte), taps ...Tap) {
	s.input = input
	s.taps = taps
}

// tapOutput gives p to the taps.
func (s *Session) tapOutput(p []byte) {
	for _, t := range s.taps {
		t.Output(p)
	}
}

// tapInput gives what the user typed to the input observer when the
// terminal echoes it now. The line discipline echoes (or not) as it
// takes the bytes, so its settings at this moment decide.
func (s *Session) tapInput(p []byte) {
	if s.input == nil {
		return
	}
	t, err := pty.Termios(s.master)
	if err != nil || t.Lflag&unix.ECHO == 0 {
		return
	}
	s.input(p)
}
