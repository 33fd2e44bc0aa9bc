package server

import (
	"errors"
	"io"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
)

// maxLoginField caps what a client can type at login: or password:.
// Anything past it is dropped (and the logon then fails).
const maxLoginField = 256

// errLoginAbandoned is returned when the client ends the logon (Ctrl-D on
// an empty line).
var errLoginAbandoned = errors.New("client ended the logon")

// lineReader reads the login dialogue's answers a byte at a time: the
// client is in character mode, so the server does the echo and the line
// editing (backspace, Ctrl-U) itself, the way a terminal's line discipline
// would. Bytes after the end of a line are kept, and handed to the shell as
// typeahead when the logon succeeds.
type lineReader struct {
	conn    *protocol.Conn
	buf     [512]byte
	pending []byte
	lastCR  bool // the previous line ended in CR: a following LF is part of it
}

// readLine reads one line. echoWanted says whether to show what is typed,
// which is done while the client leaves echoing to us: that is asked
// again for every byte, since on a slow link the client's DO ECHO can
// arrive after negotiation's deadline, while the user is typing.
func (lr *lineReader) readLine(echoWanted bool) (string, error) {
	var line []byte
	for {
		if len(lr.pending) == 0 {
			n, err := lr.conn.Read(lr.buf[:])
			if n == 0 && err != nil {
				return "", err
			}
			lr.pending = lr.buf[:n]
		}
		for len(lr.pending) > 0 {
			echo := echoWanted && lr.conn.Echoing()
			b := lr.pending[0]
			lr.pending = lr.pending[1:]
			wasCR := lr.lastCR
			lr.lastCR = false
			switch {
			case b == '\n' && wasCR:
				// second half of CR LF
			case b == '\r' || b == '\n':
				lr.lastCR = b == '\r'
				return string(line), nil
			case b == 0x7f || b == 0x08: // DEL, BS
				if len(line) > 0 {
					line = line[:len(line)-1]
					lr.echo(echo, "\b \b")
				}
			case b == 0x15: // Ctrl-U: erase the line
				for range line {
					lr.echo(echo, "\b \b")
				}
				line = line[:0]
			case b == 0x04 && len(line) == 0: // Ctrl-D
				return "", errLoginAbandoned
			default:
				// Other control bytes stay in the line, unechoed, so that
				// username validation refuses them rather than a name
				// being silently rewritten into another.
				if len(line) < maxLoginField {
					line = append(line, b)
					if echo && b >= 0x20 {
						lr.conn.Write([]byte{b})
					}
				}
			}
		}
	}
}

func (lr *lineReader) echo(on bool, s string) {
	if on {
		io.WriteString(lr.conn, s)
	}
}

// typeahead returns what the client sent after the last line, dropping the
// LF of a CR LF pair.
func (lr *lineReader) typeahead() []byte {
	p := lr.pending
	if lr.lastCR && len(p) > 0 && p[0] == '\n' {
		p = p[1:]
	}
	return append([]byte(nil), p...)
}
