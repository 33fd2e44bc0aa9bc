package e2e

// The adversarial regression suite: each test sends the exact bytes of a
// known Telnet daemon hole or a class of hostile input, then checks the
// daemon is up, its memory stayed bounded, no shell was given without a
// password, and a normal logon still works.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
)

// Telnet bytes used below.
const (
	iac, dont, do, wont, will, sb, se = 255, 254, 253, 252, 251, 250, 240
	ayt, ao, ip, ec, el, brk          = 246, 245, 244, 247, 248, 243
	optEcho, optTTYPE, optLinemode    = 1, 24, 34
	optEncrypt, optNewEnviron         = 38, 39
)

// memoryBound is how much the daemon's resident memory may grow during one
// attack. The attacks send tens of megabytes; buffering them would show.
const memoryBound = 24 << 20

func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

// survive runs attack against d and checks what every adversarial test
// must show afterwards.
func survive(t *testing.T, d *daemon, attack func()) {
	t.Helper()
	before := d.rss(t)
	logons := strings.Count(auditLog(t, d), `"event":"logon"`)
	attack()
	d.alive(t)
	if grew := d.rss(t) - before; grew > memoryBound {
		t.Errorf("daemon memory grew by %d MiB during the attack", grew>>20)
	}
	if n := strings.Count(auditLog(t, d), `"event":"logon"`) - logons; n != d.expectedLogons {
		t.Fatalf("the attack produced %d logons, want %d", n, d.expectedLogons)
	}
	d.expectedLogons = 0
	dialRaw(t, d, "").logon()
	d.alive(t)
}

// CVE-2026-24061: inetutils telnetd passed NEW-ENVIRON USER="-f root" to
// login(1), which skipped the password. We never run login and never take
// USER from the client.
func TestCVE_2026_24061_EnvironUserDashF(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		r.send(cat(iac, will, optNewEnviron, iac, sb, optNewEnviron, 0, 0, "USER", 1, "-f root",
			3, "USER", 1, "-f root", iac, se))
		r.expect("login: ") // asked, not let in
		r.sendString("root\r\n")
		r.expect("password: ")
		r.sendString("\r\n")
		r.expect("Login incorrect")
	})
	// And a real session never sees the client's USER.
	r := dialRaw(t, d, "")
	r.send(cat(iac, will, optNewEnviron, iac, sb, optNewEnviron, 0, 0, "USER", 1, "-f root", iac, se))
	r.logon()
	r.sendString("echo U=[$USER]\r\n")
	r.expect("U=[" + osAlice + "]")
}

// CVE-2026-28372: CREDENTIALS_DIRECTORY through NEW-ENVIRON disabled
// util-linux login's checks. Nothing outside accept_env gets through, and
// no login program is run at all.
func TestCVE_2026_28372_CredentialsDirectory(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	r := dialRaw(t, d, "")
	r.send(cat(iac, will, optNewEnviron, iac, sb, optNewEnviron, 0,
		0, "CREDENTIALS_DIRECTORY", 1, "/tmp", 0, "LD_PRELOAD", 1, "/tmp/x.so", 0, "LANG", 1, "C.UTF-8", iac, se))
	r.logon()
	r.sendString("echo C=[$CREDENTIALS_DIRECTORY][$LD_PRELOAD][$LANG]\r\n")
	r.expect("C=[][][C.UTF-8]")
}

// CVE-2026-32746: an unbounded SLC reply buffer overflowed before logon.
// We refuse LINEMODE here and cap every subnegotiation.
func TestCVE_2026_32746_SLCFlood(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		slc := bytes.Repeat([]byte{3, 2, 0x7f}, 200000) // SLC triplets
		r.nc.Write(cat(iac, will, optLinemode, iac, sb, optLinemode, 3, slc, iac, se))
		r.waitClosed() // cut off: far more than any logon sends
		// Within the pre-logon limit, the subnegotiation is dropped and
		// the logon goes on.
		r2 := dialRaw(t, d, "")
		r2.send(cat(iac, will, optLinemode, iac, sb, optLinemode, 3, slc[:30000], iac, se))
		r2.expect("login: ")
		r2.sendString("x\r\n")
		r2.expect("password: ")
	})
}

// CVE-2022-39028: EC and EL before the terminal was set up crashed
// inetutils telnetd. Every NVT command before logon does nothing harmful.
func TestCVE_2022_39028_CommandsBeforeSetup(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		r.send(cat(iac, ec, iac, el, iac, ip, iac, ao, iac, brk, iac, 236, iac, 237, iac, 238))
		r.expect("login: ")
		r.send(cat(iac, ec, iac, el, "x", iac, el, iac, ec))
	})
}

// CVE-2020-10188: netkit telnetd's output queue overran on floods of option
// requests plus AO. Our replies are bounded by real state changes and by a
// refusal count per option, and a client that does not read gets back
// pressure, not buffering.
func TestCVE_2020_10188_OptionFloodWithAO(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		var flood []byte
		for i := 0; i < 20000; i++ {
			o := byte(i % 256)
			flood = append(flood, iac, do, o, iac, will, o, iac, dont, o, iac, wont, o, iac, ao)
		}
		r.nc.Write(flood) // the server may cut the connection off mid-flood
		r.nc.Write([]byte("x\r\n"))
		r.waitClosed()
		// The connection is cut off after 64 KiB; replies never exceed
		// what was asked.
		if got := len(r.received()); got > 64<<10+1024 {
			t.Errorf("a %d-byte flood got %d bytes of replies", len(flood), got)
		}
	})
}

// CVE-2011-4862: BSD telnetd's ENCRYPT key id overflowed. ENCRYPT is
// refused and its subnegotiations ignored.
func TestCVE_2011_4862_EncryptKeyID(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		r.send(cat(iac, will, optEncrypt, iac, do, optEncrypt))
		r.expect(string(cat(iac, dont, optEncrypt)))
		r.send(cat(iac, sb, optEncrypt, 7, bytes.Repeat([]byte{0x41}, 5000), iac, se)) // ENC_KEYID
		r.send(cat(iac, sb, optEncrypt, 8, bytes.Repeat([]byte{0x41}, 5000), iac, se)) // DEC_KEYID
		r.expect("login: ")
	})
}

// Every byte value after every parser state, on one connection each.
func TestEveryByteInEveryParserState(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	prefixes := map[string][]byte{
		"data": nil, "IAC": {iac}, "IAC WILL": {iac, will}, "IAC WONT": {iac, wont},
		"IAC DO": {iac, do}, "IAC DONT": {iac, dont}, "IAC SB": {iac, sb},
		"IAC SB TTYPE": {iac, sb, optTTYPE}, "IAC SB TTYPE IAC": {iac, sb, optTTYPE, iac},
		"IAC SB NEW-ENVIRON IS": {iac, sb, optNewEnviron, 0}, "CR": {'\r'},
	}
	survive(t, d, func() {
		for name, prefix := range prefixes {
			r := dialRaw(t, d, "")
			var b []byte
			for v := 0; v < 256; v++ {
				b = append(b, prefix...)
				b = append(b, byte(v))
				b = append(b, iac, se, iac, nop) // leave any subnegotiation
			}
			// The logon goes on (or, for the runs that type control
			// bytes or ask to be logged out, ends cleanly, perhaps before
			// all of this is sent); either way the daemon is up.
			err := r.trySend(b)
			if err == nil {
				err = r.trySend([]byte("x\r\n"))
			}
			if err != nil {
				t.Logf("%s: the server closed the connection while we sent (%v)", name, err)
			} else if !r.expectOrClosed("password: ") {
				t.Logf("%s: the server closed the connection", name)
			}
			d.alive(t)
		}
	})
}

const nop = 241

// Unterminated and degenerate subnegotiations, and EXOPL.
func TestDegenerateSubnegotiations(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		r.send(cat(iac, sb, iac, se, iac, sb, se, iac, sb, iac, iac, se, iac, se, iac, sb, optTTYPE, iac, se))
		r.send(cat(iac, will, 255, iac, do, 255, iac, sb, 255, "x", iac, se))
		// 40 MB of a subnegotiation that never ends: the connection is
		// cut off once it has sent more than a logon ever does.
		r.send(cat(iac, sb, optTTYPE, 0))
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for i := 0; i < 40; i++ {
			if _, err := r.nc.Write(chunk); err != nil {
				break
			}
		}
		r.waitClosed()
		if !strings.Contains(auditLog(t, d), `"event":"prelogon_flood"`) {
			t.Error("no audit record of the flood")
		}
	})
}

// Floods of Are-You-There get one answer per run, not one per request.
func TestAYTFlood(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		r.expect("login: ")
		r.send(bytes.Repeat([]byte{iac, ayt}, 10000)) // within the pre-logon limit
		r.sendString("x\r\n")
		r.expect("password: ")
		if n := bytes.Count(r.received(), []byte("tlntsvr: yes")); n == 0 || n > 100 {
			t.Errorf("%d AYT answers to 10000 requests", n)
		}
		r2 := dialRaw(t, d, "")
		r2.nc.Write(bytes.Repeat([]byte{iac, ayt}, 500000))
		r2.waitClosed()
	})
}

// Thousands of flip-flopping requests get a bounded number of replies and
// never a loop.
func TestOptionFlipFlop(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		var b []byte
		for i := 0; i < 2500; i++ {
			b = append(b, iac, will, optTTYPE, iac, wont, optTTYPE, iac, do, optEcho, iac, dont, optEcho)
		}
		r.send(b)
		r.sendString("x\r\n")
		r.expect("password: ")
		// RFC 1143: a reply only for a real change of state, so never
		// more reply than request, and nothing once the requests stop.
		got := len(r.received())
		if got > len(b)+512 {
			t.Errorf("%d bytes of flip-flops got %d bytes of replies", len(b), got)
		}
		time.Sleep(200 * time.Millisecond)
		if after := len(r.received()); after != got {
			t.Errorf("replies went on after the requests stopped: %d more bytes", after-got)
		}
	})
}

// Every byte of a logon in its own TCP segment.
func TestLogonOneBytePerSegment(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	r := dialRaw(t, d, "")
	r.expect("login: ")
	for _, b := range []byte("alice\r\n") {
		r.send([]byte{b})
		time.Sleep(time.Millisecond) // separate segments (TCP_NODELAY is Go's default)
	}
	r.expect("password: ")
	for _, b := range []byte(alicePass + "\r\n") {
		r.send([]byte{b})
		time.Sleep(time.Millisecond)
	}
	for _, b := range []byte("echo ONE$((1))BYTE\r\n") {
		r.send([]byte{b})
	}
	r.expect("ONE1BYTE")
}

// Hostile terminal types never reach TERM.
func TestHostileTTYPE(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	r := dialRaw(t, d, "")
	r.send(cat(iac, will, optTTYPE))
	r.expect(string(cat(iac, sb, optTTYPE, 1, iac, se)))
	r.send(cat(iac, sb, optTTYPE, 0, "xterm\x1b]0;pwned\x07", iac, se))
	r.send(cat(iac, sb, optTTYPE, 0, "../../../etc/passwd", iac, se))
	r.send(cat(iac, sb, optTTYPE, 0, strings.Repeat("X", 5000), iac, se))
	r.logon()
	r.sendString("echo T=[$TERM]\r\n")
	r.expect("T=[")
	r.expect("]")
	got := string(r.received())
	if strings.Contains(got, "pwned") || strings.Contains(got, "etc/passwd") || strings.Contains(got, "XXXX") {
		t.Errorf("hostile terminal type reached the session: %q", got[len(got)-200:])
	}
}

// Hostile user names are refused like wrong passwords, and logged safely.
func TestHostileUsernames(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "max_failed_logons: 10\n"})
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		for _, name := range []string{"-f root", "-froot", "root\x1b[2J", "../../etc/passwd", "alice/..",
			strings.Repeat("a", 300), "al\x00ice", "%s%n%x"} {
			r.expect("login: ")
			r.sendString(name + "\r\n")
			r.expect("password: ")
			r.sendString(alicePass + "\r\n")
			r.expect("Login incorrect")
		}
	})
	if strings.Contains(auditLog(t, d), "\x1b") {
		t.Error("an escape sequence reached the audit log")
	}
}

// Names typed before logon reach the audit file and the daemon's log with
// C1 controls, bidi overrides and bytes that are not UTF-8 escaped, not
// raw (issue 16 item 4): in each JSON record, every string decodes to
// printable text, and the name is there in its escaped form.
func TestHostileNamesEscapedInLogs(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "max_failed_logons: 10\n"})
	names := map[string]string{ // typed → as logged
		"ad\u009b2Jmin":   `ad\u009b2Jmin`,
		"evil\u202etxt":   `evil\u202etxt`,
		"raw\x9bcsi":      "raw\ufffdcsi", // not UTF-8: replaced before it is logged
		"zw\u200bj\u2066": `zw\u200bj\u2066`,
	}
	survive(t, d, func() {
		r := dialRaw(t, d, "")
		for name := range names {
			r.expect("login: ")
			r.sendString(name + "\r\n")
			r.expect("password: ")
			r.sendString(alicePass + "\r\n")
			r.expect("Login incorrect")
		}
	})
	audit := auditLog(t, d)
	for _, raw := range []string{"\xc2\x9b", "\u202e", "\u200b", "\u2066", "\x9bcsi"} {
		if strings.Contains(audit, raw) {
			t.Errorf("audit log holds %q raw", raw)
		}
		if strings.Contains(d.logs(), raw) {
			t.Errorf("daemon log holds %q raw", raw)
		}
	}
	logged := map[string]bool{}
	for what, text := range map[string]string{"audit log": audit, "daemon log": d.logs()} {
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("%s: %v: %q", what, err, line)
				continue
			}
			for k, v := range rec {
				s, _ := v.(string)
				for _, r := range s {
					if r < 0x20 || r >= 0x7f && r <= 0x9f || unicode.Is(unicode.Cf, r) {
						t.Errorf("%s: %s = %q", what, k, s)
						break
					}
				}
			}
			if what == "audit log" && rec["event"] == "logon_failed" {
				logged[rec["user"].(string)] = true
			}
		}
	}
	for typed, want := range names {
		if !logged[want] {
			t.Errorf("no logon_failed record with user %s (typed %q); users logged: %v", want, typed, logged)
		}
	}
}

// TLS and HTTP on the Telnet port.
func TestTLSAndHTTPOnTelnetPort(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	survive(t, d, func() {
		// A TLS 1.2 ClientHello's first bytes (record header, handshake
		// header, version, some random), then binary noise.
		hello := cat(0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, bytes.Repeat([]byte{0xff, 0x00, 0x0d}, 100))
		r := dialRaw(t, d, "")
		r.send(hello)
		r.waitClosed() // by max_failed_logons: binary noise is empty logins
		h := dialRaw(t, d, "")
		h.sendString("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: scanner\r\nAccept: */*\r\n\r\nGET /admin HTTP/1.1\r\n\r\n")
		h.waitClosed()
	})
}

// Hundreds of silent connections from one address cannot keep others out.
func TestSlowloris(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "max_connections: 64\n"})
	survive(t, d, func() {
		var conns []*rawConn
		for i := 0; i < 300; i++ {
			conns = append(conns, dialRaw(t, d, "127.0.0.2"))
		}
		// Meanwhile another address logs on (survive does it again after).
		dialRaw(t, d, "127.0.0.1").logon()
		d.expectedLogons = 1
		for _, c := range conns {
			c.nc.Close()
		}
	})
	// Each refusal is audited on its connection's own goroutine (admit),
	// which nothing the test has waited on follows.
	waitFor(t, "the audit record of refused pending connections", func() bool {
		return strings.Contains(auditLog(t, d), "too many pending logons")
	})
}

// Brute force: after lockout.attempts failures the address is refused
// without a password check, and it is audited; another address is not.
func TestLockout(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "lockout: {attempts: 3, window: 1m, duration: 1m}\nmax_failed_logons: 5\n"})
	r := dialRaw(t, d, "127.0.0.3")
	for i := 0; i < 3; i++ {
		r.expect("login: ")
		r.sendString(fmt.Sprintf("user%d\r\n", i))
		r.expect("password: ")
		r.sendString("wrong\r\n")
		r.expect("Login incorrect")
	}
	r.expect("login: ")
	r.sendString("alice\r\n")
	r.expect("password: ")
	r.sendString(alicePass + "\r\n") // right password, but the address is locked
	r.expect("Logons are refused for a while")
	log := auditLog(t, d)
	if !strings.Contains(log, `"event":"lockout"`) || !strings.Contains(log, `"event":"logon_locked_out"`) {
		t.Errorf("audit log lacks lockout records:\n%s", log)
	}
	dialRaw(t, d, "127.0.0.1").logon()
}

// wrongPassword tries alice with a wrong password from the address from,
// once, and says whether the lockout refused it.
func wrongPassword(t *testing.T, d *daemon, from string) (lockedOut bool) {
	t.Helper()
	r := dialRaw(t, d, from)
	defer r.nc.Close()
	r.expect("login: ")
	r.sendString("alice\r\n")
	r.expect("password: ")
	r.sendString("wrong\r\n")
	r.expect("\r\n\r\n")
	got := string(r.received())
	return strings.Contains(got, "Logons are refused for a while")
}

// One address typing wrong passwords at a known name cannot keep its
// owner out: it locks the name for its own network only. Failures from
// many networks lock the account for every source, and then the owner's
// client certificate still logs on.
func TestLockoutCannotKeepOwnerOut(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, tlsConfig: "  client_ca_file: clients-ca.pem\n",
		extraConfig: "lockout: {attempts: 2, window: 1m, duration: 1m}\n"})
	for i := range 3 {
		if locked := wrongPassword(t, d, "127.0.5.1"); locked != (i == 2) {
			t.Fatalf("attempt %d from one address: locked out %v", i+1, locked)
		}
	}
	dialRaw(t, d, "127.0.5.2").logon() // the owner, elsewhere

	// Five times the limit, from as many networks, locks alice for all.
	for i := range 10 {
		if wrongPassword(t, d, fmt.Sprintf("127.0.6.%d", i+1)) {
			t.Fatalf("failure %d of 10 from distinct networks refused", i+1)
		}
	}
	if !wrongPassword(t, d, "127.0.5.3") {
		t.Fatal("alice not locked for everyone after failures from 10 networks")
	}
	d.auditHas(t, `"event":"lockout"`, `"locked":"account"`)
	r := newRawConn(t, dialTLS(t, d.tlsAddr, pki.alice))
	r.send([]byte{255, 252, 24, 255, 252, 31, 255, 252, 39})
	r.sendString("echo CERT=$(id -un)=$((6*7))\r\n")
	r.expect("CERT=" + osAlice + "=42")
}

// Accept survives descriptor exhaustion (EMFILE): it backs off, and once
// descriptors are free again logons work.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{maxFiles: 48, extraConfig: "max_connections: 200\n"})
	var conns []*rawConn
	for i := 0; i < 60; i++ {
		conns = append(conns, dialRaw(t, d, fmt.Sprintf("127.0.4.%d", 1+i%4)))
	}
	waitFor(t, "the daemon to run out of descriptors", func() bool {
		return strings.Contains(d.logs(), "accept failed; retrying")
	})
	d.alive(t)
	for _, c := range conns {
		c.nc.Close()
	}
	dialRaw(t, d, "").logon()
}
