package protocol

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// Tests of the options beyond the opening set: STATUS, TIMING-MARK,
// LOGOUT, EOR, TSPEED, LFLOW, XDISPLOC, OLD-ENVIRON, CHARSET, and the ones
// refused (LINEMODE, START-TLS); then Synch and the data path.

// exchange is one client write and what must come of it.
type exchange struct {
	in, out, data string
}

// runExchanges feeds each exchange in turn to e (appStream's form for the
// data) and checks the replies and data.
func runExchanges(t *testing.T, e *engine, steps []exchange) {
	t.Helper()
	for i, s := range steps {
		data, out := appStream(e, wire(t, s.in))
		if want := wire(t, s.out); !bytes.Equal(out, want) {
			t.Errorf("step %d (%s): replies %s, want %s", i, s.in, formatWire(out), formatWire(want))
		}
		if want := AppendEscaped(nil, wire(t, s.data)); !bytes.Equal(data, want) {
			t.Errorf("step %d (%s): data %s, want %s", i, s.in, formatWire(data), formatWire(want))
		}
	}
}

func TestTimingMark(t *testing.T) {
	e := startedEngine(testConfig())
	feedAll(e, wire(t, acceptAll))
	runExchanges(t, e, []exchange{
		// Every DO is answered with WILL, never WONT, and the option is
		// back at NO: RFC 860.
		{in: `IAC DO TIMING-MARK`, out: `IAC WILL TIMING-MARK`},
		{in: `IAC DO TIMING-MARK`, out: `IAC WILL TIMING-MARK`},
		{in: `"a" IAC DO TIMING-MARK "b" IAC DO TIMING-MARK`, out: `IAC WILL TIMING-MARK IAC WILL TIMING-MARK`, data: `"ab"`},
		// Its DONT finds it at NO already.
		{in: `IAC DONT TIMING-MARK`},
		// We never send timing marks for the client to answer.
		{in: `IAC WILL TIMING-MARK`, out: `IAC DONT TIMING-MARK`},
		{in: `IAC WONT TIMING-MARK`},
	})
	if st := e.us[OptTimingMark].state; st != qNo {
		t.Errorf("TIMING-MARK left %v", st)
	}
	// The answer after an interrupt comes once the interrupt was handed
	// over: the feed stops at IP and parses the DO only when fed again.
	e = startedEngine(testConfig())
	handleCommands(e)
	buf := wire(t, `IAC IP IAC DO TIMING-MARK`)
	if r := e.feed(buf); r.n != 0 || r.used != 2 || r.stop != stopCommand || r.arg != IP || len(e.out) != 0 {
		t.Fatalf("feed = %d, %d; stop %v cmd %s out %s", r.n, r.used, r.stop, CommandName(r.arg), formatWire(e.out))
	}
	e.takeOut()
	if _, out := appStream(e, buf[2:]); !bytes.Equal(out, wire(t, `IAC WILL TIMING-MARK`)) {
		t.Errorf("after IP: %s", formatWire(out))
	}
}

func TestLogout(t *testing.T) {
	e := startedEngine(testConfig())
	feedAll(e, wire(t, acceptAll))
	e.takeOut()
	buf := wire(t, `"bye" IAC DO LOGOUT "after" IAC DO 99`)
	r := e.feed(buf)
	if string(buf[:r.n]) != "bye" || r.used != 6 || r.stop != stopEnd || r.arg != OptLogout || e.ended != OptLogout {
		t.Fatalf("feed = %q, used %d, stop %v %s, ended %s", buf[:r.n], r.used, r.stop, OptionName(r.arg), OptionName(e.ended))
	}
	if out := e.takeOut(); !bytes.Equal(out, wire(t, `IAC WILL LOGOUT`)) {
		t.Errorf("replies %s", formatWire(out))
	}
	// Nothing after the end is parsed, however often it is fed.
	if r := e.feed(buf[r.used:]); r.n != 0 || r.used != 0 || r.stop != stopEnd || len(e.out) != 0 {
		t.Errorf("feed after the end = %d, used %d, stop %v, replies %s", r.n, r.used, r.stop, formatWire(e.out))
	}
	// The client does not get to log us out, or to ask twice.
	e = startedEngine(testConfig())
	runExchanges(t, e, []exchange{{in: `IAC WILL LOGOUT`, out: `IAC DONT LOGOUT`}})
	if e.ended != 0 {
		t.Error("WILL LOGOUT logged out")
	}
}

func TestEOR(t *testing.T) {
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		{in: `IAC DO EOR`, out: `IAC WILL EOR`},
		{in: `IAC WILL EOR`, out: `IAC DO EOR`},
		// The client's record marks are not data.
		{in: `"a" IAC EOR "b"`, data: `"ab"`},
		{in: `IAC DONT EOR`, out: `IAC WONT EOR`},
	})
	if !e.dirty {
		t.Error("EOR changes not published")
	}
	if st := e.snapshot(); st.Us(OptEOR) || !st.Him(OptEOR) {
		t.Errorf("snapshot: us EOR %v, him EOR %v; want off, on", st.Us(OptEOR), st.Him(OptEOR))
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		want  string // after IAC SB STATUS IS
	}{
		{"fresh", ``, `WILL STATUS`},
		{"client answered everything", acceptAll + ` IAC DO CHARSET`,
			`WILL ECHO WILL SGA WILL STATUS DO TTYPE DO NAWS DO NEW-ENVIRON WILL CHARSET`},
		{"binary both ways, EOR, LFLOW", `IAC DO BINARY IAC WILL BINARY IAC DO EOR IAC WILL LFLOW IAC DONT ECHO`,
			`WILL BINARY DO BINARY WILL STATUS WILL EOR DO LFLOW`}, // SGA still unanswered
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			feedAll(e, wire(t, tt.setup+` IAC DO STATUS`))
			_, out := feedAll(e, wire(t, `IAC SB STATUS SEND IAC SE`))
			if want := wire(t, `IAC SB STATUS IS `+tt.want+` IAC SE`); !bytes.Equal(out, want) {
				t.Errorf("STATUS IS %s\nwant      %s", formatWire(out), formatWire(want))
			}
		})
	}
	// Not agreed: SEND ignored. Agreed the other way (the client's
	// STATUS): its IS is read and ignored, never answered.
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		{in: `IAC SB STATUS SEND IAC SE`},
		{in: `IAC WILL STATUS`, out: `IAC DO STATUS`},
		{in: `IAC SB STATUS SEND IAC SE`},
		{in: `IAC SB STATUS IS WILL ECHO DO NAWS SB NAWS 0 80 0 24 SE IAC SE`},
		{in: `IAC DO STATUS IAC SB STATUS 7 IAC SE`, out: `IAC WILL STATUS`},
	})
	if e.cols != 0 {
		t.Error("a STATUS IS set the window size")
	}
	// SE and IAC are doubled where they are option codes.
	e = startedEngine(testConfig())
	e.us[SE].state, e.him[IAC].state = qYes, qYes
	got := e.appendStatus(nil)
	if want := wire(t, `IAC SB STATUS IS WILL 240 240 DO 255 255 IAC SE`); !bytes.Equal(got, want) {
		t.Errorf("escaped STATUS IS %s", formatWire(got))
	}
	if len(got) > maxStatusReply {
		t.Errorf("%d bytes, maxStatusReply %d", len(got), maxStatusReply)
	}
}

func TestTermSpeed(t *testing.T) {
	for _, tt := range []struct {
		in     string
		tx, rx int
	}{
		{"38400,38400", 38400, 38400},
		{"9600,2400", 9600, 2400},
		{"4000000,1", 4000000, 1},
		{"4000001,9600", 0, 0},
		{"0,9600", 0, 0},
		{"9600", 0, 0},
		{"9600,", 0, 0},
		{",9600", 0, 0},
		{"9600,9600,9600", 0, 0},
		{" 9600,9600", 0, 0},
		{"+9600,9600", 0, 0},
		{"-1,9600", 0, 0},
		{"99999999999999999999,1", 0, 0},
		{"", 0, 0},
	} {
		tx, rx, ok := decodeTermSpeed([]byte(tt.in))
		if tx != tt.tx || rx != tt.rx || ok != (tt.tx > 0) {
			t.Errorf("decodeTermSpeed(%q) = %d, %d, %v", tt.in, tx, rx, ok)
		}
	}
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		// Unasked: ignored.
		{in: `IAC SB TSPEED IS "9600,9600" IAC SE`},
		{in: `IAC WILL TSPEED`, out: `IAC DO TSPEED IAC SB TSPEED SEND IAC SE`},
		{in: `IAC SB TSPEED SEND IAC SE`},
		{in: `IAC SB TSPEED IS "19200,38400" IAC SE`},
		// Only the answer to our SEND counts.
		{in: `IAC SB TSPEED IS "50,50" IAC SE`},
	})
	if e.txSpeed != 19200 || e.rxSpeed != 38400 {
		t.Errorf("speeds %d,%d", e.txSpeed, e.rxSpeed)
	}
}

func TestDisplay(t *testing.T) {
	long := strings.Repeat("h", MaxDisplayLen-2) + ":0"
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"workstation:0.0", true},
		{"localhost:10.0", true},
		{"[::1]:0", true},
		{"unix/:0", true},
		{"host.example.com:0", true},
		{long, true},
		{long + "0", false},
		{"nocolon", false},
		{"", false},
		{"host:0; rm -rf /", false},
		{"host:0\n", false},
		{"$(id):0", false},
		{"h\xc3\xa9:0", false},
	} {
		got, ok := decodeDisplay([]byte(tt.in))
		if ok != tt.ok || ok && got != tt.in {
			t.Errorf("decodeDisplay(%q) = %q, %v", tt.in, got, ok)
		}
	}
	// Agreed only when DISPLAY may be kept.
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{{in: `IAC WILL XDISPLOC`, out: `IAC DONT XDISPLOC`}})
	cfg := testConfig()
	cfg.EnvAllowed = allowList("DISPLAY")
	e = startedEngine(cfg)
	feedAll(e, wire(t, `IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NAWS IAC WONT NEW-ENVIRON IAC WONT OLD-ENVIRON`))
	runExchanges(t, e, []exchange{
		{in: `IAC WILL XDISPLOC`, out: `IAC DO XDISPLOC IAC SB XDISPLOC SEND IAC SE`},
	})
	if !e.negotiating() {
		t.Error("not waiting for the display")
	}
	runExchanges(t, e, []exchange{{in: `IAC SB XDISPLOC IS "ws:0.0" IAC SE`}})
	if e.negotiating() || !maps.Equal(e.env, map[string]string{"DISPLAY": "ws:0.0"}) {
		t.Errorf("negotiating %v, env %q", e.negotiating(), e.env)
	}
}

func TestOldEnviron(t *testing.T) {
	// RFC 1408 codes: VAR 0, VALUE 1; BSD's: VAR 1, VALUE 0. Both read.
	for _, tt := range []struct {
		name string
		in   []byte
		want map[string]string
	}{
		{"RFC codes", []byte("\x00LANG\x01C\x00TERM\x01vt100"), map[string]string{"LANG": "C", "TERM": "vt100"}},
		{"BSD codes", []byte("\x01LANG\x00C\x01TERM\x00vt100"), map[string]string{"LANG": "C", "TERM": "vt100"}},
		{"BSD, no value", []byte("\x01LANG\x01TERM\x00vt100"), map[string]string{"LANG": "", "TERM": "vt100"}},
		{"RFC, USERVAR first", []byte("\x03LC_X\x01a\x00LANG\x01C"), map[string]string{"LC_X": "a", "LANG": "C"}},
		{"BSD, USERVAR first", []byte("\x03LC_X\x00a\x01LANG\x00C"), map[string]string{"LC_X": "a", "LANG": "C"}},
		// USERVAR A 1 B: both readings fit; only RFC's gives A a value.
		{"USERVAR with a value", []byte("\x03LC_X\x01C"), map[string]string{"LC_X": "C"}},
		// USERVAR A 1 B 1 C: two 1s in a row can only be VARs.
		{"two names", []byte("\x03LC_X\x01LANG\x01LC_Y"), map[string]string{"LC_X": "", "LANG": "", "LC_Y": ""}},
		// USERVAR A: nothing tells; BSD's reading is taken, to no effect.
		{"USERVAR alone", []byte("\x03LC_X"), map[string]string{"LC_X": ""}},
		{"ESC-quoted code left alone", []byte("\x01LA\x02\x00NG\x00C"), map[string]string{}},
		{"ESC-quoted letter", []byte("\x01LA\x02NG\x00C"), map[string]string{"LANG": "C"}},
		{"empty", nil, map[string]string{}},
	} {
		got := map[string]string{}
		for _, v := range decodeOldEnviron(tt.in) {
			got[v.name] = v.value
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := swapVarValue([]byte("\x00a\x01b\x02\x00\x02\x01\x03c\x02")); !bytes.Equal(got, []byte("\x01a\x00b\x02\x00\x02\x01\x03c\x02")) {
		t.Errorf("swapVarValue: %q", got)
	}

	// Asked for once, when the client refuses NEW-ENVIRON; waited for
	// once agreed; one environment option at a time.
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		{in: `IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NAWS`},
		{in: `IAC WONT NEW-ENVIRON`, out: `IAC DO OLD-ENVIRON`},
	})
	if e.negotiating() {
		t.Error("waiting for the answer to DO OLD-ENVIRON")
	}
	runExchanges(t, e, []exchange{
		{in: `IAC WILL OLD-ENVIRON`, out: `IAC SB OLD-ENVIRON SEND IAC SE`},
		{in: `IAC WILL NEW-ENVIRON IAC WONT NEW-ENVIRON`, out: `IAC DO NEW-ENVIRON IAC SB NEW-ENVIRON SEND IAC SE IAC DONT NEW-ENVIRON`},
	})
	if !e.negotiating() {
		t.Error("not waiting for OLD-ENVIRON IS")
	}
	runExchanges(t, e, []exchange{{in: `IAC SB OLD-ENVIRON IS 1 "LANG" 0 "de_DE.UTF-8" 1 "USER" 0 "-f root" IAC SE`}})
	if e.negotiating() || !maps.Equal(e.env, map[string]string{"LANG": "de_DE.UTF-8"}) {
		t.Errorf("negotiating %v env %q", e.negotiating(), e.env)
	}
	// A client that agreed to NEW-ENVIRON cannot add the old one.
	e = startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		{in: `IAC WILL NEW-ENVIRON`, out: `IAC SB NEW-ENVIRON SEND IAC SE`},
		{in: `IAC WILL OLD-ENVIRON`, out: `IAC DONT OLD-ENVIRON`},
		// Withdrawing NEW-ENVIRON is not refusing it: OLD is not asked for.
		{in: `IAC WONT NEW-ENVIRON`, out: `IAC DONT NEW-ENVIRON`},
	})
}

func TestCharset(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{";UTF-8", "UTF-8"},
		{" ISO-8859-1 utf-8 US-ASCII", "utf-8"},
		{";KOI8-R;UTF8", "UTF8"},
		{"[TTABLE]\x01;UTF-8", "UTF-8"},
		{"[TTABLE ]\x01 UTF-8", "UTF-8"},
		{"[TTABLE]", ""},
		{";KOI8-R", ""},
		{";UTF-16", ""},
		{";", ""},
		{"", ""},
		{"UTF-8", ""}, // 'U' is the separator
		{";UTF-8 ", ""},
	} {
		name, ok := pickCharset([]byte(tt.in))
		if string(name) != tt.want || ok != (tt.want != "") {
			t.Errorf("pickCharset(%q) = %q, %v", tt.in, name, ok)
		}
	}

	// Our REQUEST, once the client agrees; negotiation waits for the answer.
	for _, tt := range []struct {
		answer, charset string
	}{
		{`ACCEPTED "UTF-8"`, "UTF-8"},
		{`ACCEPTED "utf-8"`, "UTF-8"},
		{`ACCEPTED "KOI8-R"`, ""},
		{`REJECTED`, ""},
	} {
		e := startedEngine(testConfig())
		feedAll(e, wire(t, acceptAll+` IAC SB NAWS 0 80 0 24 IAC SE IAC SB TTYPE IS "XTERM" IAC SE IAC SB NEW-ENVIRON IS IAC SE`))
		if e.negotiating() {
			t.Fatal("waiting for the answer to WILL CHARSET")
		}
		runExchanges(t, e, []exchange{{in: `IAC DO CHARSET`, out: `IAC SB CHARSET REQUEST ";UTF-8" IAC SE`}})
		if !e.negotiating() {
			t.Error("not waiting for the answer to REQUEST")
		}
		runExchanges(t, e, []exchange{{in: `IAC SB CHARSET ` + tt.answer + ` IAC SE`}})
		if e.negotiating() || e.charset != tt.charset {
			t.Errorf("%s: negotiating %v, charset %q", tt.answer, e.negotiating(), e.charset)
		}
		// Asked once: flip-flops do not repeat the REQUEST.
		runExchanges(t, e, []exchange{{in: `IAC DONT CHARSET IAC DO CHARSET`, out: `IAC WONT CHARSET IAC WILL CHARSET`}})
	}

	// The client's REQUEST, once it performs CHARSET.
	e := startedEngine(testConfig())
	runExchanges(t, e, []exchange{
		{in: `IAC DONT CHARSET`},
		{in: `IAC SB CHARSET REQUEST ";UTF-8" IAC SE`},
		{in: `IAC WILL CHARSET`, out: `IAC DO CHARSET`},
		{in: `IAC SB CHARSET REQUEST " ISO-8859-15" IAC SE`, out: `IAC SB CHARSET REJECTED IAC SE`},
		{in: `IAC SB CHARSET REQUEST ",CP437,Utf-8" IAC SE`, out: `IAC SB CHARSET ACCEPTED "Utf-8" IAC SE`},
	})
	if e.charset != "UTF-8" {
		t.Errorf("charset %q", e.charset)
	}
}

// LINEMODE (RFC 1184) is refused: clients then stay in character mode,
// driven by our WILL ECHO and WILL SGA (BSD's "kludge" line mode). START-TLS
// is not offered and refused. Their subnegotiations are ignored.
func TestRefusedOptions(t *testing.T) {
	for _, opt := range []string{"LINEMODE", "START-TLS"} {
		e := startedEngine(testConfig())
		feedAll(e, wire(t, acceptAll))
		before := snapshot(e)
		runExchanges(t, e, []exchange{
			{in: `IAC WILL ` + opt + ` IAC DO ` + opt, out: `IAC DONT ` + opt + ` IAC WONT ` + opt},
			{in: `IAC SB ` + opt + ` 1 3 IAC SE IAC SB ` + opt + ` 3 "\x03\x02\x7f"*300 IAC SE IAC SB ` + opt + ` 1 IAC SE "ok"`, data: `"ok"`},
		})
		if after := snapshot(e); after != before {
			t.Errorf("%s changed the engine:\n%s\n%s", opt, before, after)
		}
	}
}

func TestSynch(t *testing.T) {
	e := startedEngine(testConfig())
	feedAll(e, wire(t, acceptAll))
	handleCommands(e)
	e.synch = true
	// Data (IAC IAC included) is discarded up to the DM; commands are
	// obeyed, questions answered and negotiation goes on meanwhile.
	data, out := appStream(e, wire(t, `"typed ahead" CR LF IAC IAC IAC IP IAC AYT IAC DO 99 "more" IAC DM "kept" CR LF`))
	if want := wire(t, `IAC IP IAC DM "kept" CR`); !bytes.Equal(data, want) {
		t.Errorf("data %s, want %s", formatWire(data), formatWire(want))
	}
	if want := append(append([]byte{}, AYTReply...), wire(t, `IAC WONT 99`)...); !bytes.Equal(out, want) {
		t.Errorf("replies %s", formatWire(out))
	}
	if e.synch {
		t.Error("still discarding after the DM")
	}
	// The feed stops right after the DM, for Conn to ask whether more
	// urgent data is pending, and the data before it is discarded.
	e.discardToMark()
	buf := wire(t, `"x" IAC DM "y"`)
	if r := e.feed(buf); r.n != 0 || r.used != 3 || r.stop != stopMark || e.synch {
		t.Errorf("feed = %d, %d, stop %v, synch %v", r.n, r.used, r.stop, e.synch)
	}
}

// Terminal fidelity: in character mode every byte but IAC and the CR of a
// CR LF or CR NUL pair reaches the program as it is (8-bit clean, UTF-8
// included); with BINARY, CR too; IAC arrives doubled and is undoubled.
func TestEightBitClean(t *testing.T) {
	var all []byte
	for b := range 255 {
		all = append(all, byte(b))
	}
	for _, binary := range []bool{false, true} {
		e := startedEngine(testConfig())
		if binary {
			feedAll(e, wire(t, `IAC WILL BINARY`))
		}
		in := append(bytes.Clone(all), IAC, IAC, '\r', 'x')
		data, _ := feedAll(e, in)
		want := append(bytes.Clone(all), IAC, '\r', 'x')
		if !bytes.Equal(data, want) {
			t.Errorf("binary=%v: %d bytes in, %d out; differ at %d", binary, len(want), len(data), mismatch(data, want))
		}
	}
	// UTF-8 split anywhere, even mid-character, is rejoined byte for byte.
	text := []byte("naïve café — 日本語 🐧\r\n")
	for cut := range text {
		e := startedEngine(testConfig())
		d1, _ := feedAll(e, text[:cut])
		d2, _ := feedAll(e, text[cut:])
		if got := append(d1, d2...); !bytes.Equal(got, []byte("naïve café — 日本語 🐧\r")) {
			t.Fatalf("cut at %d: %q", cut, got)
		}
	}
}

func mismatch(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFlipFlopEveryOption: thousands of alternating requests for every
// option, in one piece: the replies never outnumber the requests (three
// bytes each, plus each option's one-time SEND or REQUEST), and nothing
// is sent once they stop.
func TestFlipFlopEveryOption(t *testing.T) {
	cfg := testConfig()
	cfg.EnvAllowed = func(string) bool { return true }
	for o := range 256 {
		opt := byte(o)
		if opt == OptLogout {
			continue // DO LOGOUT ends the connection: TestLogout
		}
		e := startedEngine(cfg)
		var in []byte
		for range 1000 {
			in = append(in, IAC, WILL, opt, IAC, WONT, opt, IAC, DO, opt, IAC, DONT, opt)
		}
		_, out := feedAll(e, in)
		if limit := len(in) + 2*len(charsetRequest); len(out) > limit {
			t.Errorf("%s: %d reply bytes to %d request bytes", OptionName(opt), len(out), len(in))
		}
		if _, again := feedAll(e, nil); len(again) != 0 {
			t.Errorf("%s: replies went on: %s", OptionName(opt), formatWire(again))
		}
		for _, q := range []qSide{e.us[opt], e.him[opt]} {
			if q.pending() {
				t.Errorf("%s: left waiting (%v)", OptionName(opt), q.state)
			}
		}
	}
}

func TestOptionNames(t *testing.T) {
	for _, o := range []byte{OptStatus, OptTimingMark, OptLogout, OptEOR, OptTSpeed, OptLFlow, OptLinemode,
		OptXDispLoc, OptOldEnviron, OptCharset, OptStartTLS} {
		if n := OptionName(o); n == fmt.Sprint(o) {
			t.Errorf("option %d has no name", o)
		}
	}
}
