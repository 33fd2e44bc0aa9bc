package e2e

// MUD clients in the interop matrix: TinTin++ and TinyFugue, the Debian
// packages tintin++ and tf5. They are line-based: they edit a line
// locally and send it whole, ending in CR LF, and cycle TTYPE answers the
// MTTS way (client name, then terminal types).

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mudClient is a MUD client run on a PTY of its own (startClient).
type mudClient struct {
	name string
	// argv is the command line against 127.0.0.1:port, home a directory
	// of its own for the files it writes; the client must exit when the
	// server closes the connection.
	argv func(t *testing.T, port, home string) []string
	// term is the terminal type the session must get; size and resized
	// what stty size must say on the 80x24 terminal and after a resize to
	// 120x40.
	term, size, resized string
	note                string
}

var mudClients = []mudClient{
	{
		name: "MUD client TinTin++",
		argv: func(t *testing.T, port, home string) []string {
			// -G: no greeting. The DISCONNECTED event ends the program
			// when the server closes the connection (by default it stays
			// in its own "gts" session).
			return []string{"/usr/bin/env", "HOME=" + home, gamesTool(t, "tt++", "tintin++"), "-G",
				"-e", "#event {SESSION DISCONNECTED} {#end}; #session mud 127.0.0.1 " + port}
		},
		// TinTin++ 2.02 answers the first TTYPE SEND with its name,
		// TINTIN++, the second with $TERM, the third with "MTTS <bits>".
		// tintin++ has no terminfo entry, so the daemon asks again and
		// stops at xterm-256color, which it has.
		term: "xterm-256color",
		// It sends NAWS with its terminal's size, and again on a resize.
		size: "24 80", resized: "40 120",
		note: "TinTin++ answers TTYPE with TINTIN++, then $TERM, then `MTTS <bits>`: the cycle stops at $TERM (xterm-256color here), a type the host knows; it offers NEW-ENVIRON but never answers SEND, so its `login:` comes after the negotiation timeout (1 s)",
	},
	{
		// An /addtelnet world has TF's lp flag on: it shows the
		// unterminated login: and password: prompts after a short wait,
		// or at once at the GA the daemon sends after them (it refuses
		// SGA).
		name: "MUD client TinyFugue",
		argv: tinyFugue("/addtelnet"),
		// TF 5.0b8 answers TTYPE with TINYFUGUE, ANSI-ATTR, ANSI,
		// whatever $TERM is: ansi is the first the host knows.
		term: "ansi",
		// Its NAWS gives one column less than the terminal has (it
		// never writes the last column), and it sends NAWS again on a
		// resize.
		size: "24 79", resized: "40 119",
		note: "TinyFugue answers TTYPE with TINYFUGUE, ANSI-ATTR, ANSI (TERM is ansi, whatever its terminal); its window size is one column short of its terminal; it refuses SGA and ECHO except while the password is typed, and shows the unterminated `login:` prompt in its `/addtelnet` (lp) mode",
	},
	{
		// A world added with /addworld, as a MUD is: TF shows a line
		// only once it ends, or at the GA that ends a prompt.
		name: "MUD client TinyFugue, MUD world",
		argv: tinyFugue("/addworld"),
		term: "ansi", size: "24 79", resized: "40 119",
		note: "TinyFugue with a MUD world (/addworld) shows the `login:` and `password:` prompts at the GA the daemon sends after them, since it refused SGA",
	},
}

// tinyFugue runs TinyFugue with a world added by command (/addtelnet or
// /addworld). -v keeps it out of its split-screen mode, so its output is
// lines; the DISCONNECT hook quits when the server closes.
func tinyFugue(command string) func(t *testing.T, port, home string) []string {
	return func(t *testing.T, port, home string) []string {
		rc := filepath.Join(home, "tfrc")
		writeFile(t, rc, "/def -hDISCONNECT = /quit -y\n"+command+" mud 127.0.0.1 "+port+"\n")
		return []string{"/usr/bin/env", "HOME=" + home, needTool(t, "tf5", "tf5"), "-f" + rc, "-v", "mud"}
	}
}

// gamesTool finds a program Debian installs in /usr/games, which is not
// on every PATH; otherwise it is needTool.
func gamesTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p := filepath.Join("/usr/games", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return needTool(t, name, pkg)
}

// runMUDClient logs on as alice with a MUD client against a daemon of its
// own (with a certificate, as the matrix's: the client is offered
// START_TLS and AUTH first), and checks the session's terminal type and
// size, a command, and the end of the session.
func runMUDClient(t *testing.T, mc mudClient) {
	d := startDaemon(t, daemonOpts{tls: true})
	t0 := time.Now()
	// TERM=xterm-256color: a MUD client may pass it on (TinTin++ does),
	// and the host has a terminfo entry for it.
	c := startClient(t, "xterm-256color", 80, 24, mc.argv(t, d.port, t.TempDir())...)
	c.expect(`login: `)
	record(mc.name, "connect → login:", time.Since(t0).Round(time.Millisecond).String())
	step(t, mc.name, "logon", func() error {
		c.send("alice\r")
		c.expect(`password: `)
		c.send(alicePass + "\r")
		// The line is typed and sent whole; resend it until the shell
		// answers (a line sent before the shell reads may be lost).
		if !c.retry("echo READY$((40+2))\r", `READY42`) {
			return fmt.Errorf("no shell")
		}
		// The client echoes typed lines itself, but not the password:
		// the daemon's WILL ECHO (TinTin++ keeps it; TinyFugue asks for
		// it again at the password prompt) turns that echo off.
		c.mu.Lock()
		shown := strings.Contains(string(c.out), alicePass)
		c.mu.Unlock()
		if shown {
			return fmt.Errorf("the password was shown: %q", c.rest())
		}
		// The computed marker: the echo of the typed line cannot match.
		c.send("echo MUD$((6*7))\r")
		c.expect(`MUD42`)
		return nil
	})
	step(t, mc.name, "TERM", func() error {
		list := d.sessions(t)
		if len(list) != 1 {
			return fmt.Errorf("sessions %+v, want 1", list)
		}
		if list[0].Term != mc.term {
			return fmt.Errorf("session term %q, want %q", list[0].Term, mc.term)
		}
		c.send("echo T$((0+1))=$TERM=\r")
		if got := c.expect(`T1=([^=\r\n]*)=`)[1]; got != mc.term {
			return fmt.Errorf("TERM=%q in the shell, want %q", got, mc.term)
		}
		return nil
	})
	step(t, mc.name, "stty size", func() error {
		if got := c.sttySize(); got != mc.size {
			return fmt.Errorf("stty size %q, want %q", got, mc.size)
		}
		return nil
	})
	step(t, mc.name, "resize", func() error {
		if err := setSize(c, 120, 40); err != nil {
			return err
		}
		deadline := time.Now().Add(expectTimeout)
		got := ""
		for time.Now().Before(deadline) {
			if got = c.sttySize(); got == mc.resized {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("stty size %q after the resize, want %q", got, mc.resized)
	})
	record(mc.name, "Ctrl-C", "n/a (client)")
	record(mc.name, "full screen", "n/a (client)")
	step(t, mc.name, "exit", func() error {
		c.send("exit\r")
		c.waitExit()
		d.auditHas(t, `"event":"session_end"`, `"user":"alice"`, `"reason":"exit"`)
		waitFor(t, "the session to leave the list", func() bool { return len(d.sessions(t)) == 0 })
		return nil
	})
}

// sttySize runs stty size and returns its answer. The client's own echo
// of the line, and the shell's, hold no digits between the markers.
func (c *client) sttySize() string {
	c.t.Helper()
	c.send("echo S$((0+1))S && stty size && echo E$((1+1))E\r")
	m := c.expect(`(?s)S1S(.*?)E2E`)
	if s := regexp.MustCompile(`\d+ \d+`).FindString(m[1]); s != "" {
		return s
	}
	return strings.TrimSpace(m[1])
}

// retry sends line until pattern appears in the output, for up to
// expectTimeout, waiting 2 s for each answer.
func (c *client) retry(line, pattern string) bool {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(expectTimeout)
	for time.Now().Before(deadline) {
		c.send(line)
		wait := time.After(2 * time.Second)
	waiting:
		for {
			c.mu.Lock()
			m := re.FindIndex(c.out[c.pos:])
			if m != nil {
				c.pos += m[1]
			}
			closed := c.closed
			c.mu.Unlock()
			if m != nil {
				return true
			}
			if closed {
				return false
			}
			select {
			case <-c.update:
			case <-wait:
				break waiting
			}
		}
	}
	return false
}
