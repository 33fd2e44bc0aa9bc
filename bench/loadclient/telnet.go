package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Telnet protocol bytes the client needs.
const (
	cSE   = 240
	cSB   = 250
	cWILL = 251
	cWONT = 252
	cDO   = 253
	cDONT = 254
	cIAC  = 255

	oEcho  = 1
	oSGA   = 3
	oTTYPE = 24
	oNAWS  = 31
)

// tconn is a minimal Telnet client: it agrees to what a terminal client
// must (the server echoes and suppresses go-ahead; we send our terminal
// type and window size), refuses everything else, and hands the decoded
// data stream to expect. Answers follow RFC 854's rule of never
// acknowledging a mode already in force, so no negotiation can loop.
type tconn struct {
	nc   net.Conn
	rbuf []byte

	// Parser state.
	st   int // 0 data, 1 IAC, 2 verb, 3 SB, 4 SB IAC
	verb byte
	sb   []byte
	cr   bool // the last data byte was CR: a following NUL is dropped

	us, him [256]bool
	out     []byte // replies not yet written

	data  []byte // decoded data not yet consumed by expect
	from  int    // expect has searched data[:from] already
	total int64  // decoded data bytes since connect
	// stray counts Telnet commands that make no sense in a data stream
	// (a lone IAC before a data byte, an endless subnegotiation): the
	// sign of a server that failed to double an IAC.
	stray int
}

// tlsScheme marks an address dialled with TLS from the first byte
// (telnets). The certificate is not checked: the bench measures cost.
const tlsScheme = "tls://"

// dialTelnet connects from the loopback address src ("" for any), so a
// test can look like many clients rather than one address opening
// hundreds of connections.
func dialTelnet(addr, src string, timeout time.Duration) (*tconn, error) {
	d := net.Dialer{Timeout: timeout}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	if host, ok := strings.CutPrefix(addr, tlsScheme); ok {
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{InsecureSkipVerify: true}}
		nc, err := td.Dial("tcp", host)
		if err != nil {
			return nil, err
		}
		return &tconn{nc: nc, rbuf: make([]byte, 64<<10)}, nil
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tconn{nc: nc, rbuf: make([]byte, 64<<10)}, nil
}

func (t *tconn) Close() error { return t.nc.Close() }

// send writes s as typed data (no IAC in what the benchmarks type).
func (t *tconn) send(s string, deadline time.Time) error {
	t.nc.SetWriteDeadline(deadline)
	_, err := t.nc.Write([]byte(s))
	return err
}

// errMarker is returned by expect when a failure marker appears.
type errMarker struct{ marker, tail string }

func (e *errMarker) Error() string {
	return fmt.Sprintf("got %q instead (output: %q)", e.marker, e.tail)
}

// expect reads until one of want appears in the data after the previous
// match and consumes the data up to its end. A marker in fail ends the
// wait with an error.
func (t *tconn) expect(deadline time.Time, want []string, fail ...string) (int, error) {
	maxLen := 0
	for _, m := range append(want, fail...) {
		maxLen = max(maxLen, len(m))
	}
	for {
		win := t.data[max(0, t.from-maxLen+1):]
		for _, m := range fail {
			if i := bytes.Index(win, []byte(m)); i >= 0 {
				return -1, &errMarker{m, tail(t.data)}
			}
		}
		best, bestEnd := -1, -1
		for k, m := range want {
			if i := bytes.Index(win, []byte(m)); i >= 0 && (bestEnd < 0 || i+len(m) < bestEnd) {
				best, bestEnd = k, i+len(m)
			}
		}
		if best >= 0 {
			off := len(t.data) - len(win)
			t.data = append(t.data[:0], t.data[off+bestEnd:]...)
			t.from = 0
			return best, nil
		}
		t.from = len(t.data)
		// Bulk output: keep only a tail, enough for a marker split across
		// reads and for an error message.
		if len(t.data) > 256<<10 {
			keep := 4 << 10
			t.data = append(t.data[:0], t.data[len(t.data)-keep:]...)
			t.from = len(t.data)
		}
		if err := t.fill(deadline); err != nil {
			return -1, fmt.Errorf("waiting for %q: %w (output: %q)", want, err, tail(t.data))
		}
	}
}

func tail(b []byte) string {
	if len(b) > 200 {
		b = b[len(b)-200:]
	}
	return string(b)
}

// fill does one network read, decodes it and sends the replies.
func (t *tconn) fill(deadline time.Time) error {
	t.nc.SetReadDeadline(deadline)
	n, err := t.nc.Read(t.rbuf)
	if n > 0 {
		t.decode(t.rbuf[:n])
		if len(t.out) > 0 {
			t.nc.SetWriteDeadline(deadline)
			_, werr := t.nc.Write(t.out)
			t.out = t.out[:0]
			if werr != nil {
				return werr
			}
		}
	}
	if n == 0 && err != nil {
		return err
	}
	return nil
}

var crnul = []byte{'\r', 0}

// maxStraySB bounds a subnegotiation: a server that sends a lone IAC SB in
// its data would otherwise swallow the rest of the stream.
const maxStraySB = 4096

func (t *tconn) decode(p []byte) {
	for len(p) > 0 {
		switch t.st {
		case 0:
			i := bytes.IndexByte(p, cIAC)
			if i < 0 {
				t.appendData(p)
				return
			}
			if i >= 64 {
				t.appendData(p[:i])
				p = p[i:]
			}
			p = p[t.dense(p):]
		case 1:
			b := p[0]
			p = p[1:]
			t.st = 0
			switch b {
			case cIAC:
				t.appendData([]byte{cIAC})
			case cWILL, cWONT, cDO, cDONT:
				t.verb = b
				t.st = 2
			case cSB:
				t.sb = t.sb[:0]
				t.st = 3
			case 241, 249: // NOP, GA
			default:
				if b < cSE {
					t.stray++ // IAC before a data byte: an undoubled IAC
				}
			}
		case 2:
			t.negotiate(t.verb, p[0])
			p = p[1:]
			t.st = 0
		case 3:
			i := bytes.IndexByte(p, cIAC)
			run := p
			if i >= 0 {
				run = p[:i]
				p = p[i+1:]
				t.st = 4
			} else {
				p = nil
			}
			t.sbAppend(run)
		case 4:
			b := p[0]
			p = p[1:]
			switch b {
			case cSE:
				t.subnegotiation(t.sb)
				t.st = 0
			case cIAC:
				t.sbAppend([]byte{cIAC})
				t.st = 3
			default:
				t.stray++
				t.st = 0
			}
		}
	}
}

func (t *tconn) sbAppend(b []byte) {
	if len(t.sb)+len(b) > maxStraySB {
		t.stray++
		t.st = 0 // give up on it: it was never a subnegotiation
		return
	}
	t.sb = append(t.sb, b...)
}

// appendData adds data bytes, turning CR NUL into CR (RFC 854).
func (t *tconn) appendData(run []byte) {
	if len(run) == 0 {
		return
	}
	n0 := len(t.data)
	if t.cr && run[0] == 0 {
		run = run[1:]
	}
	for len(run) > 0 {
		i := bytes.Index(run, crnul)
		if i < 0 {
			break
		}
		t.data = append(t.data, run[:i+1]...)
		run = run[i+2:]
	}
	t.data = append(t.data, run...)
	if len(t.data) > n0 {
		t.cr = t.data[len(t.data)-1] == '\r'
	}
	t.total += int64(len(t.data) - n0)
}

func (t *tconn) negotiate(verb, opt byte) {
	switch verb {
	case cDO:
		if t.us[opt] {
			return
		}
		if opt == oTTYPE || opt == oNAWS || opt == oSGA {
			t.us[opt] = true
			t.out = append(t.out, cIAC, cWILL, opt)
			if opt == oNAWS {
				t.out = append(t.out, cIAC, cSB, oNAWS, 0, 80, 0, 24, cIAC, cSE)
			}
			return
		}
		t.out = append(t.out, cIAC, cWONT, opt)
	case cDONT:
		if t.us[opt] {
			t.us[opt] = false
			t.out = append(t.out, cIAC, cWONT, opt)
		}
	case cWILL:
		if t.him[opt] {
			return
		}
		if opt == oEcho || opt == oSGA {
			t.him[opt] = true
			t.out = append(t.out, cIAC, cDO, opt)
			return
		}
		t.out = append(t.out, cIAC, cDONT, opt)
	case cWONT:
		if t.him[opt] {
			t.him[opt] = false
			t.out = append(t.out, cIAC, cDONT, opt)
		}
	}
}

func (t *tconn) subnegotiation(sb []byte) {
	if len(sb) >= 2 && sb[0] == oTTYPE && sb[1] == 1 && t.us[oTTYPE] { // SEND
		t.out = append(t.out, cIAC, cSB, oTTYPE, 0)
		t.out = append(t.out, "XTERM"...)
		t.out = append(t.out, cIAC, cSE)
	}
}

// Markers the shell computes, so the echo of the typed command line never
// matches: the command says $((6*7)), the output says 42. '@' is not in
// the base64 alphabet, and a 6-byte marker turns up by chance in 100 MB
// of random bytes with a probability of about 1e-6.
const (
	loginPrompt   = "login: "
	passwdPrompt  = "assword: "
	shellPrompt   = "tlnbench$ " // PS1 in the test account's ~/.profile
	loginFailed   = "incorrect"
	accessDenied  = "Access denied"
	doneCmdSuffix = "; echo @@$((6*7))@@\r\n"
	doneMarker    = "@@42@@"
)

// logon connects and logs on, returning the time from connect to the
// login prompt and from sending the password to the shell's prompt.
func logon(addr, src, user, pass string, timeout time.Duration) (t *tconn, toLogin, toShell time.Duration, err error) {
	start := time.Now()
	deadline := start.Add(timeout)
	t, err = dialTelnet(addr, src, timeout)
	if err != nil {
		return nil, 0, 0, err
	}
	fail := func(step string, err error) (*tconn, time.Duration, time.Duration, error) {
		t.Close()
		return nil, 0, 0, fmt.Errorf("%s: %w", step, err)
	}
	if _, err := t.expect(deadline, []string{loginPrompt}); err != nil {
		return fail("login prompt", err)
	}
	toLogin = time.Since(start)
	if err := t.send(user+"\r\n", deadline); err != nil {
		return fail("send user", err)
	}
	if _, err := t.expect(deadline, []string{passwdPrompt}); err != nil {
		return fail("password prompt", err)
	}
	sent := time.Now()
	if err := t.send(pass+"\r\n", deadline); err != nil {
		return fail("send password", err)
	}
	if _, err := t.expect(deadline, []string{shellPrompt}, loginFailed, accessDenied); err != nil {
		return fail("shell prompt", err)
	}
	toShell = time.Since(sent)
	return t, toLogin, toShell, nil
}

// command runs cmd in the shell and waits for it to finish and the next
// prompt to appear. It returns the time to the end marker and how many
// data bytes arrived meanwhile.
func (t *tconn) command(cmd string, timeout time.Duration) (time.Duration, int64, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	n0 := t.total
	if err := t.send(cmd+doneCmdSuffix, deadline); err != nil {
		return 0, 0, err
	}
	if _, err := t.expect(deadline, []string{doneMarker}); err != nil {
		return 0, 0, err
	}
	elapsed := time.Since(start)
	n := t.total - n0
	if _, err := t.expect(deadline, []string{shellPrompt}); err != nil {
		return 0, 0, err
	}
	return elapsed, n, nil
}

// echoLatency starts cat and times n keystrokes from write to echo. The
// terminal's line discipline echoes, as it does for anyone typing into a
// program reading a line. Every 64 keystrokes an Enter makes cat print the
// line (untimed), so the line buffer never fills.
func (t *tconn) echoLatency(n int, timeout time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(timeout)
	if err := t.send("echo @@$((5*5))@@; cat\r\n", deadline); err != nil {
		return nil, err
	}
	if _, err := t.expect(deadline, []string{"@@25@@"}); err != nil {
		return nil, err
	}
	samples := make([]time.Duration, 0, n)
	var line strings.Builder
	for i := 0; i < n; i++ {
		if time.Now().After(deadline) {
			return nil, errors.New("echo test timed out")
		}
		c := string(rune('a' + i%26))
		start := time.Now()
		if err := t.send(c, deadline); err != nil {
			return nil, err
		}
		if _, err := t.expect(deadline, []string{c}); err != nil {
			return nil, err
		}
		samples = append(samples, time.Since(start))
		line.WriteString(c)
		if line.Len() == 64 || i == n-1 {
			if err := t.send("\r\n", deadline); err != nil {
				return nil, err
			}
			// The echoed Enter, then cat's copy of the line.
			if _, err := t.expect(deadline, []string{"\r\n" + line.String() + "\r\n"}); err != nil {
				return nil, err
			}
			line.Reset()
		}
	}
	// Ctrl-D ends cat; the prompt comes back.
	if err := t.send("\x04", deadline); err != nil {
		return nil, err
	}
	if _, err := t.expect(deadline, []string{shellPrompt}); err != nil {
		return nil, err
	}
	return samples, nil
}
