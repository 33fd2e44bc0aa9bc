package session

import (
	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/pty"
	"golang.org/x/sys/unix"
)

// command carries out an NVT command (RFC 854, RFC 1184) on the terminal,
// in its place among the client's data: copyIn has written what came
// before it. Interrupt Process, Break/Abort and Suspend signal the
// foreground process group; Abort Output discards pending output;
// Erase Character, Erase Line and End of File are the terminal's own
// characters for them, so the line discipline acts as if they were typed.
func (s *Session) command(cmd byte) {
	switch cmd {
	case protocol.IP:
		s.interrupt(unix.SIGINT, unix.VINTR)
	case protocol.BRK, protocol.ABORT:
		s.interrupt(unix.SIGQUIT, unix.VQUIT)
	case protocol.SUSP:
		s.interrupt(unix.SIGTSTP, unix.VSUSP)
	case protocol.AO:
		// What the program wrote and we have not sent is dropped here; the
		// Synch makes the client drop what is already on its way.
		if err := pty.FlushOutput(s.master); err != nil {
			s.log.Debug("abort output: flush", "err", err)
		}
		s.conn.SendSynch()
	case protocol.EC:
		s.typeChar(unix.VERASE)
	case protocol.EL:
		s.typeChar(unix.VKILL)
	case protocol.EOF:
		s.typeChar(unix.VEOF)
	}
}

// interrupt sends sig to the foreground process group, flushing pending
// input and output first unless the terminal has NOFLSH, as the line
// discipline does for a typed interrupt character. A program that turned
// ISIG off reads the keyboard raw (an editor, ssh, tmux, a nested telnet)
// and gets the character instead: what the key would have done.
func (s *Session) interrupt(sig unix.Signal, cc int) {
	t, err := pty.Termios(s.master)
	if err != nil {
		s.log.Debug("interrupt: terminal attributes", "err", err)
		return
	}
	if t.Lflag&unix.ISIG == 0 {
		s.typeChar(cc)
		return
	}
	if t.Lflag&unix.NOFLSH == 0 {
		pty.FlushInput(s.master)
		pty.FlushOutput(s.master)
	}
	if err := pty.Signal(s.master, sig); err != nil {
		s.log.Debug("interrupt: signal", "err", err)
	}
}

// typeChar writes the terminal's character cc (read now: programs change
// them), unless it is disabled.
func (s *Session) typeChar(cc int) {
	t, err := pty.Termios(s.master)
	if err != nil {
		return
	}
	if c := t.Cc[cc]; c != 0 { // 0 is _POSIX_VDISABLE on Linux
		s.writeInput([]byte{c})
	}
}
