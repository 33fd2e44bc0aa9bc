package protocol

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// startedEngine returns an engine whose opening offers have been sent.
func startedEngine(cfg Config) *engine {
	e := newEngine(cfg)
	e.start()
	return e
}

// feedAll feeds p in one piece (on a copy) the way Conn does, feeding the
// rest again after each stop, and returns the data and replies. Commands
// the engine stopped at are left out; appStream shows them.
func feedAll(e *engine, p []byte) (data, out []byte) {
	feedStops(e, p, func(d []byte, _ stopReason, _ byte) { data = append(data, d...) })
	return data, e.takeOut()
}

// appStream is feedAll with the data in Telnet's own encoding (IAC
// doubled) and, in their places among it, the commands the application
// was handed as IAC cmd and the ends of Synchs as IAC DM: what the
// application sees, in one comparable string.
func appStream(e *engine, p []byte) (stream, out []byte) {
	feedStops(e, p, func(d []byte, stop stopReason, cmd byte) {
		stream = AppendEscaped(stream, d)
		switch stop {
		case stopCommand:
			stream = append(stream, IAC, cmd)
		case stopMark:
			stream = append(stream, IAC, DM)
		}
	})
	return stream, e.takeOut()
}

// feedStops feeds a copy of p, calling f with each stretch of data and the
// stop that ended it (and its argument), feeding the rest again after
// each stop, as Conn does; nothing more is read once the stream ended
// (no more urgent data is pending after a DM, as far as it knows).
func feedStops(e *engine, p []byte, f func(data []byte, stop stopReason, arg byte)) {
	buf := bytes.Clone(p)
	for len(buf) > 0 {
		r := e.feed(buf)
		f(buf[:r.n], r.stop, r.arg)
		buf = buf[r.used:]
		if r.stop == stopEnd {
			return
		}
	}
}

// feedEach feeds each piece in turn and returns everything delivered.
func feedEach(e *engine, pieces ...[]byte) (data, out []byte) {
	for _, p := range pieces {
		d, o := feedAll(e, p)
		data = append(data, d...)
		out = append(out, o...)
	}
	return data, out
}

// handleCommands makes the engine stop at every NVT command, as a
// session's Conn does.
func handleCommands(e *engine) {
	for _, c := range NVTCommands() {
		e.cmdHandled[c] = true
	}
}

func testConfig() Config {
	return Config{
		KnownTerm:  func(n string) bool { return slices.Contains([]string{"xterm", "vt100", "ansi"}, n) },
		EnvAllowed: allowList("TERM", "LANG", "LC_*"),
	}
}

// acceptAll is a client agreeing to every offer of start() that is waited
// for; like most clients, it leaves WILL CHARSET unanswered.
const acceptAll = `IAC DO ECHO IAC DO SGA IAC WILL TTYPE IAC WILL NAWS IAC WILL NEW-ENVIRON`

func TestStart(t *testing.T) {
	e := newEngine(Config{})
	want := wire(t, `IAC WILL ECHO IAC WILL SGA IAC DO TTYPE IAC DO NAWS IAC DO NEW-ENVIRON IAC WILL CHARSET`)
	if got := e.start(); !bytes.Equal(got, want) {
		t.Errorf("start() = %s, want %s", formatWire(got), formatWire(want))
	}
	if !e.negotiating() {
		t.Error("not negotiating after start")
	}
	if got := e.start(); len(got) != 0 {
		t.Errorf("second start() = %s, want nothing", formatWire(got))
	}
}

func TestFeedData(t *testing.T) {
	tests := []struct {
		name  string
		setup string   // client bytes first; their data and replies are discarded
		cmds  bool     // the session has started: commands are handled
		feeds []string // fed one after another
		data  string   // what the application gets (appStream's form with cmds)
		out   string   // what the client gets
	}{
		{name: "plain", feeds: []string{`"hello, world"`}, data: `"hello, world"`},
		{name: "empty feed", feeds: []string{``, `"a"`, ``}, data: `"a"`},
		{name: "high bytes", feeds: []string{`"h\xc3\xa9" 0x80 0xfe`}, data: `"h\xc3\xa9" 0x80 0xfe`},
		{name: "IAC IAC", feeds: []string{`"a" IAC IAC "b"`}, data: `"a" 0xff "b"`},
		{name: "IAC IAC split", feeds: []string{`"a" IAC`, `IAC "b"`}, data: `"a" 0xff "b"`},
		{name: "IAC IAC IAC IAC", feeds: []string{`IAC IAC IAC IAC`}, data: `0xff 0xff`},
		{name: "CR LF", feeds: []string{`"a" CR LF "b"`}, data: `"a" CR "b"`},
		{name: "CR NUL", feeds: []string{`"a" CR NUL "b"`}, data: `"a" CR "b"`},
		{name: "CR x", feeds: []string{`"a" CR "x"`}, data: `"a" CR "x"`},
		{name: "CR CR LF", feeds: []string{`CR CR LF`}, data: `CR CR`},
		{name: "CR LF LF", feeds: []string{`CR LF LF`}, data: `CR LF`},
		{name: "CR at the end", feeds: []string{`"a" CR`}, data: `"a" CR`},
		{name: "CR | LF", feeds: []string{`"a" CR`, `LF "b"`}, data: `"a" CR "b"`},
		{name: "CR | NUL", feeds: []string{`"a" CR`, `NUL "b"`}, data: `"a" CR "b"`},
		{name: "CR | x", feeds: []string{`"a" CR`, `"x"`}, data: `"a" CR "x"`},
		{name: "CR | empty | LF", feeds: []string{`CR`, ``, `LF`}, data: `CR`},
		{name: "bare LF", feeds: []string{`"a" LF "b"`}, data: `"a" LF "b"`},
		{name: "bare NUL", feeds: []string{`NUL "b"`}, data: `NUL "b"`},
		{name: "CR IAC IAC", feeds: []string{`CR IAC IAC`}, data: `CR 0xff`},
		{name: "binary CR LF", setup: `IAC WILL BINARY`, feeds: []string{`"a" CR LF CR NUL "b"`}, data: `"a" CR LF CR NUL "b"`},
		{name: "binary CR | LF", setup: `IAC WILL BINARY`, feeds: []string{`CR`, `LF`}, data: `CR LF`},
		{name: "binary off again", setup: `IAC WILL BINARY IAC WONT BINARY`, feeds: []string{`CR LF`}, data: `CR`},
		{name: "our binary is not theirs", setup: `IAC DO BINARY`, feeds: []string{`CR LF`}, data: `CR`},
		{name: "binary in the same feed", feeds: []string{`CR LF IAC WILL BINARY CR LF`}, data: `CR CR LF`, out: `IAC DO BINARY`},
		{
			name:  "commands removed",
			feeds: []string{`"a" IAC NOP "b" IAC GA "c" IAC DM "d" IAC 0x01 "e" IAC SE "f" IAC EOR "g" IAC 200 "h"`},
			data:  `"abcdefgh"`,
		},
		{
			name:  "commands dropped before the session",
			feeds: []string{`"a" IAC IP IAC EC IAC EL IAC BRK IAC ABORT IAC EOF IAC SUSP IAC AO "b"`},
			data:  `"ab"`,
		},
		{
			name:  "commands handed over in place",
			cmds:  true,
			feeds: []string{`"a" IAC IP "b" IAC EC "c" IAC EL IAC BRK IAC ABORT IAC EOF IAC SUSP IAC AO "d" IAC NOP "e"`},
			data:  `"a" IAC IP "b" IAC EC "c" IAC EL IAC BRK IAC ABORT IAC EOF IAC SUSP IAC AO "de"`,
		},
		{name: "command split", cmds: true, feeds: []string{`"a" IAC`, `IP "b"`}, data: `"a" IAC IP "b"`},
		{name: "command after CR", cmds: true, feeds: []string{`CR IAC IP`}, data: `CR IAC IP`},
		{name: "command between CR and LF", cmds: true, feeds: []string{`CR IAC IP LF`}, data: `CR IAC IP LF`},
		{name: "data IAC with commands on", cmds: true, feeds: []string{`IAC IAC IAC IP IAC IAC`}, data: `IAC IAC IAC IP IAC IAC`},
		{name: "DM without urgent data is nothing", cmds: true, feeds: []string{`"a" IAC DM "b"`}, data: `"ab"`},
		{name: "AYT", feeds: []string{`"x" IAC AYT "y"`}, data: `"xy"`, out: `CR LF "[tlntsvr: yes]" CR LF`},
		{name: "AYT split", feeds: []string{`IAC`, `AYT`}, out: `CR LF "[tlntsvr: yes]" CR LF`},
		{name: "AYT stays ours in a session", cmds: true, feeds: []string{`IAC AYT`}, out: `CR LF "[tlntsvr: yes]" CR LF`},
		{name: "negotiation amid data", feeds: []string{`"a" IAC DO 99 "b"`}, data: `"ab"`, out: `IAC WONT 99`},
		{name: "negotiation split", feeds: []string{`"a" IAC`, `DO`, `99`, `"b"`}, data: `"ab"`, out: `IAC WONT 99`},
		{name: "subnegotiation amid data", feeds: []string{`"a" IAC SB 99 "junk" IAC SE "b"`}, data: `"ab"`},
		{name: "SB IAC IAC SE is not the end", feeds: []string{`IAC SB 99 IAC IAC SE "x" IAC SE "b"`}, data: `"b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			feedAll(e, wire(t, tt.setup))
			var data, out []byte
			if tt.cmds {
				handleCommands(e)
				for _, f := range tt.feeds {
					d, o := appStream(e, wire(t, f))
					data, out = append(data, d...), append(out, o...)
				}
			} else {
				var pieces [][]byte
				for _, f := range tt.feeds {
					pieces = append(pieces, wire(t, f))
				}
				data, out = feedEach(e, pieces...)
			}
			if want := wire(t, tt.data); !bytes.Equal(data, want) {
				t.Errorf("data = %s, want %s", formatWire(data), formatWire(want))
			}
			if want := wire(t, tt.out); !bytes.Equal(out, want) {
				t.Errorf("replies = %s, want %s", formatWire(out), formatWire(want))
			}
		})
	}
}

func TestBinary(t *testing.T) {
	e := startedEngine(Config{})
	if _, out := feedAll(e, wire(t, `IAC WILL BINARY`)); !bytes.Equal(out, wire(t, `IAC DO BINARY`)) {
		t.Errorf("WILL BINARY: %s", formatWire(out))
	}
	if !e.binaryIn() {
		t.Error("binaryIn false after WILL BINARY")
	}
	if _, out := feedAll(e, wire(t, `IAC DO BINARY`)); !bytes.Equal(out, wire(t, `IAC WILL BINARY`)) {
		t.Errorf("DO BINARY: %s", formatWire(out))
	}
	if _, out := feedAll(e, wire(t, `IAC WONT BINARY`)); !bytes.Equal(out, wire(t, `IAC DONT BINARY`)) {
		t.Errorf("WONT BINARY: %s", formatWire(out))
	}
	if e.binaryIn() {
		t.Error("binaryIn true after WONT BINARY")
	}
}

// The options we agree to, per side, with testConfig (which does not allow
// DISPLAY, so XDISPLOC is refused). Everything else is refused.
var (
	acceptedHim = []byte{OptBinary, OptSGA, OptStatus, OptTTYPE, OptEOR, OptNAWS, OptTSpeed, OptLFlow,
		OptOldEnviron, OptNewEnviron, OptCharset}
	acceptedUs = []byte{OptBinary, OptEcho, OptSGA, OptStatus, OptTimingMark, OptLogout, OptEOR, OptCharset}
)

// TestRefuseUnsupported: every option we do not support is refused, one
// refusal per request (RFC 1143: in state NO every WILL/DO is answered,
// which BSD telnet's repeated DO TIMING-MARK relies on); a refusal echoed
// back is not answered, so nothing loops.
func TestRefuseUnsupported(t *testing.T) {
	e := startedEngine(testConfig())
	for o := range 256 {
		opt := byte(o)
		if !slices.Contains(acceptedHim, opt) {
			for i := range 2 {
				if _, out := feedAll(e, []byte{IAC, WILL, opt}); !bytes.Equal(out, []byte{IAC, DONT, opt}) {
					t.Errorf("WILL %s (#%d) -> %s, want DONT", OptionName(opt), i+1, formatWire(out))
				}
				if _, out := feedAll(e, []byte{IAC, WONT, opt}); len(out) != 0 {
					t.Errorf("WONT %s after our DONT -> %s, want nothing", OptionName(opt), formatWire(out))
				}
			}
		}
		if !slices.Contains(acceptedUs, opt) {
			for i := range 2 {
				if _, out := feedAll(e, []byte{IAC, DO, opt}); !bytes.Equal(out, []byte{IAC, WONT, opt}) {
					t.Errorf("DO %s (#%d) -> %s, want WONT", OptionName(opt), i+1, formatWire(out))
				}
				if _, out := feedAll(e, []byte{IAC, DONT, opt}); len(out) != 0 {
					t.Errorf("DONT %s after our WONT -> %s, want nothing", OptionName(opt), formatWire(out))
				}
			}
		}
	}
	// Pipelined duplicates of a refused request: one refusal each.
	_, out := feedAll(e, wire(t, `IAC WILL 99 IAC WILL 99 IAC WILL 99`))
	if want := wire(t, `IAC DONT 99 IAC DONT 99 IAC DONT 99`); !bytes.Equal(out, want) {
		t.Errorf("three WILL 99 -> %s", formatWire(out))
	}
}

// TestAcceptOnce: an accepted request is acknowledged once; repeating it
// gets no reply, whichever side asked first.
func TestAcceptOnce(t *testing.T) {
	tests := []struct {
		req, first string
	}{
		{`IAC WILL BINARY`, `IAC DO BINARY`},
		{`IAC WILL SGA`, `IAC DO SGA`},
		{`IAC DO BINARY`, `IAC WILL BINARY`},
		{`IAC DO ECHO`, ``}, // answers our WILL ECHO
		{`IAC DO SGA`, ``},
		{`IAC WILL NAWS`, ``},
		{`IAC WILL TTYPE`, `IAC SB TTYPE SEND IAC SE`},
		{`IAC WILL NEW-ENVIRON`, `IAC SB NEW-ENVIRON SEND IAC SE`},
		{`IAC DO STATUS`, `IAC WILL STATUS`},
		{`IAC WILL STATUS`, `IAC DO STATUS`},
		{`IAC DO EOR`, `IAC WILL EOR`},
		{`IAC WILL EOR`, `IAC DO EOR`},
		{`IAC WILL TSPEED`, `IAC DO TSPEED IAC SB TSPEED SEND IAC SE`},
		{`IAC WILL LFLOW`, `IAC DO LFLOW`},
		{`IAC WILL OLD-ENVIRON`, `IAC DO OLD-ENVIRON IAC SB OLD-ENVIRON SEND IAC SE`},
		{`IAC DO CHARSET`, `IAC SB CHARSET REQUEST ";UTF-8" IAC SE`}, // answers our WILL CHARSET
		{`IAC WILL CHARSET`, `IAC DO CHARSET`},
	}
	for _, tt := range tests {
		e := startedEngine(testConfig())
		if _, out := feedAll(e, wire(t, tt.req)); !bytes.Equal(out, wire(t, tt.first)) {
			t.Errorf("%s -> %s, want %s", tt.req, formatWire(out), tt.first)
		}
		for range 3 {
			if _, out := feedAll(e, wire(t, tt.req)); len(out) != 0 {
				t.Errorf("repeated %s -> %s, want nothing", tt.req, formatWire(out))
			}
		}
	}
}

func TestEncryptAuthenticationRefused(t *testing.T) {
	for _, opt := range []string{"ENCRYPT", "AUTHENTICATION"} {
		e := startedEngine(testConfig())
		feedAll(e, wire(t, acceptAll))
		_, out := feedAll(e, wire(t, `IAC WILL `+opt+` IAC DO `+opt))
		if want := wire(t, `IAC DONT `+opt+` IAC WONT `+opt); !bytes.Equal(out, want) {
			t.Errorf("%s: %s, want %s", opt, formatWire(out), formatWire(want))
		}
		before := snapshot(e)
		data, out := feedAll(e, wire(t, `IAC SB `+opt+` SEND 0 1 2 IAC SE IAC SB `+opt+` IS 6 0 "key" IAC SE IAC SB `+opt+` 3 IAC IAC IAC SE "ok"`))
		if !bytes.Equal(data, []byte("ok")) || len(out) != 0 {
			t.Errorf("%s subnegotiations: data %s replies %s", opt, formatWire(data), formatWire(out))
		}
		if after := snapshot(e); after != before {
			t.Errorf("%s subnegotiations changed the engine:\n%s\n%s", opt, before, after)
		}
	}
}

// snapshot summarises what the client could have changed.
func snapshot(e *engine) string {
	return fmt.Sprintf("types=%q env=%v size=%dx%d naws=%v ttypeDone=%v asked=%v envDone=%v "+
		"speed=%d,%d charset=%q logout=%v synch=%v us=%s him=%s",
		e.termTypes, e.env, e.cols, e.rows, e.nawsSeen, e.ttypeDone, e.ttypeAsked, e.envDone,
		e.txSpeed, e.rxSpeed, e.charset, e.ended == OptLogout, e.synch,
		optionStates(&e.us), optionStates(&e.him))
}

// optionStates lists the options not in the initial state (NO, EMPTY).
func optionStates(sides *[256]qSide) string {
	var parts []string
	for o, q := range sides {
		if q != (qSide{}) {
			parts = append(parts, fmt.Sprintf("%s:%v/%s", OptionName(byte(o)), q.state, queueName(q.opposite)))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ttypeClient answers each TTYPE SEND with the next name, repeating the
// last one, as RFC 1091 clients do. It returns how many answers it gave.
func ttypeClient(t *testing.T, e *engine, names []string) int {
	t.Helper()
	send := wire(t, `IAC SB TTYPE SEND IAC SE`)
	_, out := feedAll(e, wire(t, `IAC WILL TTYPE`))
	answers := 0
	for bytes.Contains(out, send) {
		if answers > 100 {
			t.Fatal("TTYPE cycle does not end")
		}
		name := names[min(answers, len(names)-1)]
		answers++
		reply := append([]byte{IAC, SB, OptTTYPE, sbIS}, name...)
		_, out = feedAll(e, append(reply, IAC, SE))
	}
	return answers
}

func TestTermTypeCycle(t *testing.T) {
	windows := []string{"ANSI", "VT100", "VT52", "VTNT"}
	mtts := []string{"MUDLET", "XTERM-256COLOR", "MTTS 137"}
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("T%d", i))
	}
	var manyLower []string
	for _, n := range many[:MaxTermTypes] {
		manyLower = append(manyLower, strings.ToLower(n))
	}
	long := strings.Repeat("x", MaxTermTypeLen)
	tests := []struct {
		name    string
		known   []string // nil: KnownTerm is nil
		names   []string
		types   []string
		term    string
		answers int
	}{
		{"known at once", []string{"xterm"}, []string{"XTERM"}, []string{"xterm"}, "xterm", 1},
		{"nil KnownTerm: until a repeat", nil, []string{"XTERM"}, []string{"xterm"}, "xterm", 2},
		{"none known: until a repeat", []string{"linux"}, []string{"XTERM", "VT100"}, []string{"xterm", "vt100"}, "xterm", 3},
		{"windows, both known: first", []string{"ansi", "vt100"}, windows, []string{"ansi"}, "ansi", 1},
		{"windows, vt100 known", []string{"vt100"}, windows, []string{"ansi", "vt100"}, "vt100", 2},
		{"windows, none known", []string{"xterm"}, windows, []string{"ansi", "vt100", "vt52", "vtnt"}, "ansi", 5},
		{"mtts, nil KnownTerm", nil, mtts, []string{"mudlet", "xterm-256color"}, "mudlet", 3},
		{"mtts, xterm-256color known", []string{"xterm-256color"}, mtts, []string{"mudlet", "xterm-256color"}, "xterm-256color", 2},
		{"capped at MaxTermTypes", nil, many, manyLower, "t0", MaxTermTypes},
		{"lower-cased", []string{"xterm-256color"}, []string{"XTerm-256Color"}, []string{"xterm-256color"}, "xterm-256color", 1},
		{"allowed punctuation", []string{"a-b_c.d+e/f"}, []string{"A-B_C.D+E/F"}, []string{"a-b_c.d+e/f"}, "a-b_c.d+e/f", 1},
		{"longest name", []string{long}, []string{long}, []string{long}, long, 1},
		{"too long", nil, []string{long + "x"}, nil, "", 1},
		{"empty", nil, []string{""}, nil, "", 1},
		{"space", nil, []string{"MTTS 137"}, nil, "", 1},
		{"control byte", nil, []string{"VT\x01100"}, nil, "", 1},
		{"escape sequence", nil, []string{"xterm\x1b[31m"}, nil, "", 1},
		{"DEL", nil, []string{"xterm\x7f"}, nil, "", 1},
		{"high byte", nil, []string{"xt\xc3\xa9rm"}, nil, "", 1},
		{"shell characters", nil, []string{"xterm;rm"}, nil, "", 1},
		{"bad name ends the cycle", nil, []string{"XTERM", "bad name", "VT100"}, []string{"xterm"}, "xterm", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			var asked []string
			if tt.known != nil {
				cfg.KnownTerm = func(n string) bool {
					asked = append(asked, n)
					return slices.Contains(tt.known, n)
				}
			}
			e := startedEngine(cfg)
			answers := ttypeClient(t, e, tt.names)
			if answers != tt.answers {
				t.Errorf("client answered %d SENDs, want %d", answers, tt.answers)
			}
			if !slices.Equal(e.termTypes, tt.types) {
				t.Errorf("termTypes = %q, want %q", e.termTypes, tt.types)
			}
			if got := e.term(); got != tt.term {
				t.Errorf("term() = %q, want %q", got, tt.term)
			}
			if !e.ttypeDone {
				t.Error("cycle not marked done")
			}
			for _, n := range asked {
				if n != strings.ToLower(n) {
					t.Errorf("KnownTerm asked about %q", n)
				}
			}
		})
	}
}

func TestTermTypeUnsolicited(t *testing.T) {
	is := wire(t, `IAC SB TTYPE IS "XTERM" IAC SE`)
	// Before the client agreed to TTYPE.
	e := startedEngine(testConfig())
	feedAll(e, is)
	if len(e.termTypes) != 0 {
		t.Errorf("TTYPE IS before WILL TTYPE kept: %q", e.termTypes)
	}
	// After the cycle ended.
	feedAll(e, wire(t, `IAC WILL TTYPE`))
	feedAll(e, is)
	feedAll(e, wire(t, `IAC SB TTYPE IS "VT100" IAC SE`))
	if !slices.Equal(e.termTypes, []string{"xterm"}) {
		t.Errorf("termTypes = %q, want [xterm]", e.termTypes)
	}
	// After the client withdrew it.
	e = startedEngine(Config{})
	feedAll(e, wire(t, `IAC WILL TTYPE IAC WONT TTYPE`))
	feedAll(e, is)
	if len(e.termTypes) != 0 {
		t.Errorf("TTYPE IS after WONT TTYPE kept: %q", e.termTypes)
	}
}

func TestNAWS(t *testing.T) {
	tests := []struct {
		name       string
		payload    string // between IAC SB NAWS and IAC SE, on the wire
		cols, rows int    // 0: refused
	}{
		{"80x24", `0 80 0 24`, 80, 24},
		{"255 wide, IAC doubled", `0 IAC IAC 0 24`, 255, 24},
		{"255x255", `0 IAC IAC 0 IAC IAC`, 255, 255},
		{"256 wide", `1 0 0 24`, 256, 24},
		{"4096x4096", `16 0 16 0`, 4096, 4096},
		{"1x1", `0 1 0 1`, 1, 1},
		// busybox does not double IAC here; the bare IAC is kept.
		{"255 wide, IAC not doubled", `0 IAC 0 24`, 255, 24},
		{"255 high, IAC not doubled", `0 80 0 IAC`, 80, 255},
		{"255x255, IAC not doubled", `0 IAC 0 IAC`, 255, 255},
		{"511 high, IAC not doubled", `0 80 1 IAC`, 80, 511},
		{"zero width", `0 0 0 24`, 0, 0},
		{"zero height", `0 80 0 0`, 0, 0},
		{"zero (unknown)", `0 0 0 0`, 0, 0},
		{"4097 wide", `16 1 0 24`, 0, 0},
		{"absurd", `IAC IAC IAC IAC IAC IAC IAC IAC`, 0, 0},
		{"3 bytes", `0 80 0`, 0, 0},
		{"5 bytes", `0 80 0 24 0`, 0, 0},
		{"empty", ``, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			feedAll(e, wire(t, `IAC WILL NAWS`))
			e.snapshot()
			buf := wire(t, `IAC SB NAWS `+tt.payload+` IAC SE "z"`)
			r := e.feed(buf)
			data, out := buf[:r.n], e.takeOut()
			if string(data) != "z" || len(out) != 0 || r.used != len(buf) || r.stop != stopNone {
				t.Errorf("data %s replies %s, used %d, stop %v; want \"z\" and nothing", formatWire(data), formatWire(out), r.used, r.stop)
			}
			if e.cols != tt.cols || e.rows != tt.rows {
				t.Errorf("size %dx%d, want %dx%d", e.cols, e.rows, tt.cols, tt.rows)
			}
			if r.resized != (tt.cols > 0) || r.changed != (tt.cols > 0) {
				t.Errorf("resized = %v, changed = %v", r.resized, r.changed)
			}
			if st := e.snapshot(); st.Cols != e.cols || st.Rows != e.rows {
				t.Errorf("snapshot size %dx%d", st.Cols, st.Rows)
			}
			// Any NAWS answers our DO, usable or not.
			if !e.nawsSeen {
				t.Error("NAWS not counted as an answer")
			}
		})
	}

	// A refused size leaves the last good one; NAWS after WONT NAWS is ignored.
	e := startedEngine(testConfig())
	feedAll(e, wire(t, `IAC WILL NAWS IAC SB NAWS 0 80 0 24 IAC SE`))
	feedAll(e, wire(t, `IAC SB NAWS 0 0 0 0 IAC SE`))
	if e.cols != 80 || e.rows != 24 {
		t.Errorf("after a 0x0: %dx%d", e.cols, e.rows)
	}
	feedAll(e, wire(t, `IAC WONT NAWS IAC SB NAWS 0 100 0 50 IAC SE`))
	if e.cols != 80 || e.rows != 24 {
		t.Errorf("NAWS after WONT NAWS used: %dx%d", e.cols, e.rows)
	}
	// Sent before its WILL NAWS (our DO is out): taken.
	e = startedEngine(testConfig())
	feedAll(e, wire(t, `IAC SB NAWS 0 90 0 30 IAC SE`))
	if e.cols != 90 || e.rows != 30 {
		t.Errorf("NAWS before WILL NAWS: %dx%d", e.cols, e.rows)
	}
}

func TestNewEnviron(t *testing.T) {
	tests := []struct {
		name    string
		allow   func(string) bool
		payload string // after IAC SB NEW-ENVIRON
		want    map[string]string
	}{
		{name: "kept", payload: `IS VAR "LANG" VALUE "en_US.UTF-8" USERVAR "LC_ALL" VALUE "C"`,
			want: map[string]string{"LANG": "en_US.UTF-8", "LC_ALL": "C"}},
		{name: "USER -f root dropped", payload: `IS VAR "USER" VALUE "-f root"`, want: map[string]string{}},
		{name: "mixed", payload: `IS VAR "TERM" VALUE "xterm" VAR "USER" VALUE "-f root" USERVAR "LD_PRELOAD" VALUE "/tmp/x.so" VAR "LANG" VALUE "C"`,
			want: map[string]string{"TERM": "xterm", "LANG": "C"}},
		{name: "nil EnvAllowed keeps none", allow: func(string) bool { return false }, payload: `IS VAR "LANG" VALUE "C"`,
			want: map[string]string{}},
		// RFC 1572: a name with no VALUE is undefined, not empty.
		{name: "no value", payload: `IS VAR "LANG"`, want: map[string]string{}},
		{name: "no value among others", payload: `IS VAR "LANG" VAR "LC_ALL" VALUE "C"`, want: map[string]string{"LC_ALL": "C"}},
		{name: "empty value", payload: `IS VAR "LANG" VALUE`, want: map[string]string{"LANG": ""}},
		{name: "empty IS", payload: `IS`, want: map[string]string{}},
		{name: "UTF-8 value", payload: `IS VAR "LC_NAME" VALUE "Zoë"`, want: map[string]string{"LC_NAME": "Zoë"}},
		{name: "value with IAC", payload: `IS VAR "LANG" VALUE "a" IAC IAC "b"`, want: map[string]string{"LANG": "a\xffb"}},
		{name: "control byte in value", payload: `IS VAR "LANG" VALUE "C" 0x0a "x" VAR "LC_ALL" VALUE "C"`,
			want: map[string]string{"LC_ALL": "C"}},
		{name: "ESC in value", payload: `IS VAR "LANG" VALUE "en" 0x1b "[0m"`, want: map[string]string{}},
		{name: "DEL in value", payload: `IS VAR "LANG" VALUE "C" 0x7f`, want: map[string]string{}},
		{name: "ESC-quoted letter", payload: `IS VAR "LA" ESC "NG" VALUE "C" ESC "."`, want: map[string]string{"LANG": "C."}},
		{name: "ESC-quoted type byte in value", payload: `IS VAR "LANG" VALUE "a" ESC VAR "b" VAR "LC_ALL" VALUE "C"`,
			want: map[string]string{"LC_ALL": "C"}},
		{name: "ESC-quoted type byte in name", payload: `IS VAR "LANG" ESC VALUE "X" VALUE "C"`, want: map[string]string{}},
		{name: "ESC at the end", payload: `IS VAR "LANG" VALUE "C" ESC`, want: map[string]string{"LANG": "C"}},
		{name: "value before any VAR", payload: `IS VALUE "x" "junk" VAR "LANG" VALUE "C"`, want: map[string]string{"LANG": "C"}},
		{name: "two VALUEs", payload: `IS VAR "LANG" VALUE "C" VALUE "D" VAR "TERM" VALUE "vt100"`, want: map[string]string{"TERM": "vt100"}},
		{name: "bad names", payload: `IS VAR "LC_ ALL" VALUE "x" VAR "1LANG" VALUE "x" VAR "LC-X" VALUE "x" VAR "" VALUE "x" VAR "LC_9" VALUE "ok"`,
			want: map[string]string{"LC_9": "ok"}},
		{name: "longest value", payload: `IS VAR "LANG" VALUE "` + strings.Repeat("v", MaxEnvValueLen) + `"`,
			want: map[string]string{"LANG": strings.Repeat("v", MaxEnvValueLen)}},
		{name: "value too long", payload: `IS VAR "LANG" VALUE "` + strings.Repeat("v", MaxEnvValueLen+1) + `" VAR "TERM" VALUE "x"`,
			want: map[string]string{"TERM": "x"}},
		{name: "name too long", allow: func(string) bool { return true }, payload: `IS VAR "` + strings.Repeat("N", maxEnvNameLen+1) + `" VALUE "x"`,
			want: map[string]string{}},
		{name: "INFO", payload: `INFO VAR "LANG" VALUE "C"`, want: map[string]string{"LANG": "C"}},
		{name: "INFO of an undefined name unsets it", payload: `IS VAR "LANG" VALUE "C" VAR "LC_ALL" VALUE "C" IAC SE IAC SB NEW-ENVIRON INFO VAR "LANG"`,
			want: map[string]string{"LC_ALL": "C"}},
		{name: "SEND from the client", payload: `SEND VAR "LANG"`, want: map[string]string{}},
		{name: "unknown verb", payload: `7 VAR "LANG" VALUE "C"`, want: map[string]string{}},
		{name: "empty", payload: ``, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.allow != nil {
				cfg.EnvAllowed = tt.allow
			}
			if tt.name == "nil EnvAllowed keeps none" {
				cfg.EnvAllowed = nil
			}
			e := startedEngine(cfg)
			feedAll(e, wire(t, `IAC WILL NEW-ENVIRON`))
			data, out := feedAll(e, wire(t, `IAC SB NEW-ENVIRON `+tt.payload+` IAC SE "z"`))
			if string(data) != "z" || len(out) != 0 {
				t.Errorf("data %s replies %s", formatWire(data), formatWire(out))
			}
			if !maps.Equal(e.env, tt.want) {
				t.Errorf("env = %q, want %q", e.env, tt.want)
			}
		})
	}
}

func TestNewEnvironState(t *testing.T) {
	is := wire(t, `IAC SB NEW-ENVIRON IS VAR "LANG" VALUE "C" IAC SE`)
	// Not agreed yet, or refused: ignored.
	e := startedEngine(testConfig())
	feedAll(e, is)
	feedAll(e, wire(t, `IAC WONT NEW-ENVIRON`))
	feedAll(e, is)
	if len(e.env) != 0 {
		t.Errorf("NEW-ENVIRON without WILL kept %q", e.env)
	}
	// INFO does not end negotiation; IS does; INFO later updates.
	e = startedEngine(testConfig())
	feedAll(e, wire(t, `IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NAWS IAC WILL NEW-ENVIRON`))
	feedAll(e, wire(t, `IAC SB NEW-ENVIRON INFO VAR "LANG" VALUE "C" IAC SE`))
	if !e.negotiating() {
		t.Error("INFO ended negotiation")
	}
	feedAll(e, wire(t, `IAC SB NEW-ENVIRON IS IAC SE`))
	if e.negotiating() {
		t.Error("still negotiating after IS")
	}
	feedAll(e, wire(t, `IAC SB NEW-ENVIRON INFO VAR "LANG" VALUE "POSIX" IAC SE`))
	if e.env["LANG"] != "POSIX" {
		t.Errorf("INFO did not update: %q", e.env)
	}
	// SEND is sent once, even if the client flip-flops.
	_, out := feedAll(e, wire(t, `IAC WONT NEW-ENVIRON IAC WILL NEW-ENVIRON`))
	if want := wire(t, `IAC DONT NEW-ENVIRON IAC DO NEW-ENVIRON`); !bytes.Equal(out, want) {
		t.Errorf("flip-flop: %s", formatWire(out))
	}
}

// An environment answer too long to keep still ends negotiation's wait for
// it: the client will not send another.
func TestOversizedEnvironAnswers(t *testing.T) {
	for _, opt := range []string{"NEW-ENVIRON", "OLD-ENVIRON"} {
		e := startedEngine(Config{EnvAllowed: func(string) bool { return true }})
		feedAll(e, wire(t, `IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NAWS`))
		if opt == "OLD-ENVIRON" {
			feedAll(e, wire(t, `IAC WONT NEW-ENVIRON IAC WILL OLD-ENVIRON`))
		} else {
			feedAll(e, wire(t, `IAC WILL NEW-ENVIRON`))
		}
		if !e.negotiating() {
			t.Fatalf("%s: not waiting for the environment", opt)
		}
		// An oversized INFO is not the answer.
		feedAll(e, wire(t, `IAC SB `+opt+` INFO VAR "A" VALUE "x"*1100 IAC SE`))
		if !e.negotiating() {
			t.Errorf("%s: an oversized INFO ended negotiation", opt)
		}
		data, _ := feedAll(e, wire(t, `IAC SB `+opt+` IS VAR "LANG" VALUE "C" VAR "B" VALUE "y"*1100 IAC SE "d"`))
		if e.negotiating() {
			t.Errorf("%s: still negotiating after an oversized IS", opt)
		}
		if string(data) != "d" || len(e.env) != 0 {
			t.Errorf("%s: after an oversized IS: data %s, env %q", opt, formatWire(data), e.env)
		}
	}
}

func TestMaxEnvVars(t *testing.T) {
	cfg := Config{EnvAllowed: func(string) bool { return true }}
	e := startedEngine(cfg)
	feedAll(e, wire(t, `IAC WILL NEW-ENVIRON`))
	var sb strings.Builder
	for i := range MaxEnvVars + 8 {
		fmt.Fprintf(&sb, `VAR "V%02d" VALUE "x" `, i)
	}
	feedAll(e, wire(t, `IAC SB NEW-ENVIRON IS `+sb.String()+`IAC SE`))
	if len(e.env) != MaxEnvVars {
		t.Fatalf("%d variables kept, want %d", len(e.env), MaxEnvVars)
	}
	if _, ok := e.env[fmt.Sprintf("V%02d", MaxEnvVars)]; ok {
		t.Error("a variable past the cap was kept instead of an earlier one")
	}
	// At the cap: a known variable can still change, a new one cannot come in.
	feedAll(e, wire(t, `IAC SB NEW-ENVIRON INFO VAR "V00" VALUE "y" VAR "NEW" VALUE "z" IAC SE`))
	if e.env["V00"] != "y" || len(e.env) != MaxEnvVars {
		t.Errorf("update at the cap: V00=%q, %d variables", e.env["V00"], len(e.env))
	}
}

func TestSubnegotiationCap(t *testing.T) {
	for _, n := range []int{MaxSubnegotiation - 1, MaxSubnegotiation, MaxSubnegotiation + 1, 10 * MaxSubnegotiation} {
		e := startedEngine(testConfig())
		payload := bytes.Repeat([]byte{'p'}, n)
		in := append(wire(t, `IAC SB 99`), payload...)
		// Fed in pieces: the cap holds across feeds.
		for len(in) > 0 {
			k := min(len(in), 100)
			feedAll(e, in[:k])
			in = in[k:]
			if len(e.sb) > MaxSubnegotiation {
				t.Fatalf("n=%d: sb holds %d bytes", n, len(e.sb))
			}
		}
		if over := n > MaxSubnegotiation; e.sbOver != over || !over && len(e.sb) != n {
			t.Errorf("n=%d: sbOver %v, len(sb) %d", n, e.sbOver, len(e.sb))
		}
		data, out := feedAll(e, wire(t, `IAC SE "after" IAC DO 99`))
		if string(data) != "after" || !bytes.Equal(out, wire(t, `IAC WONT 99`)) {
			t.Errorf("n=%d: after SE: data %s replies %s", n, formatWire(data), formatWire(out))
		}
	}

	// An oversized TTYPE answer is discarded whole, with the IAC IAC and
	// the bytes that look like commands inside it; the cycle goes on.
	e := startedEngine(testConfig())
	feedAll(e, wire(t, `IAC WILL TTYPE`))
	big := wire(t, `IAC SB TTYPE IS "xterm" "y"*600 IAC IAC SE IAC IAC WILL 99 "y"*600 IAC SE "d"`)
	data, out := feedAll(e, big)
	if string(data) != "d" || len(out) != 0 || len(e.termTypes) != 0 {
		t.Errorf("oversized TTYPE: data %s replies %s types %q", formatWire(data), formatWire(out), e.termTypes)
	}
	feedAll(e, wire(t, `IAC SB TTYPE IS "XTERM" IAC SE`))
	if e.term() != "xterm" {
		t.Errorf("TTYPE after an oversized one: %q", e.term())
	}
}

// TestUnterminatedSubnegotiation: IAC SB without IAC SE, then a command:
// the subnegotiation is dropped and the command processed.
func TestUnterminatedSubnegotiation(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		data, out string
	}{
		{"then WILL", `IAC SB TTYPE IS "xterm" IAC WILL 99 "ok"`, `"ok"`, `IAC DONT 99`},
		{"then DO", `IAC SB NAWS 0 80 IAC DO 99`, ``, `IAC WONT 99`},
		{"then AYT", `IAC SB 99 "junk" IAC AYT`, ``, `CR LF "[tlntsvr: yes]" CR LF`},
		{"then SB", `IAC SB 99 "junk" IAC SB NAWS 0 80 0 24 IAC SE "x"`, `"x"`, ``},
		{"then NOP", `IAC SB 99 "junk" IAC NOP "x"`, `"x"`, ``},
		{"then a handled IP", `IAC SB TTYPE IS "xterm" IAC IP "x"`, `IAC IP "x"`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			e.cmdHandled[IP] = true
			feedAll(e, wire(t, acceptAll))
			data, out := appStream(e, wire(t, tt.in))
			out = bytes.ReplaceAll(out, wire(t, `IAC SB TTYPE SEND IAC SE`), nil)
			if !bytes.Equal(data, wire(t, tt.data)) || !bytes.Equal(out, wire(t, tt.out)) {
				t.Errorf("data %s replies %s; want %s and %s", formatWire(data), formatWire(out), tt.data, tt.out)
			}
			if len(e.termTypes) != 0 {
				t.Errorf("dropped TTYPE kept: %q", e.termTypes)
			}
			if tt.name == "then SB" && e.cols != 80 {
				t.Errorf("SB after an unterminated one: %dx%d", e.cols, e.rows)
			}
		})
	}
}

// TestEmptySubnegotiation: an IAC right after SB ends the subnegotiation
// before it has an option (issue 16 item 7), as inetutils telnetd reads
// it: IAC SB IAC SE is an empty subnegotiation, not the start of one for
// option 255 that would take everything typed after it as its payload.
// IAC SB IAC IAC is option 255's (EXOPL), like any SB with its option.
func TestEmptySubnegotiation(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		data, out string
	}{
		{"IAC SB IAC SE", `IAC SB IAC SE "alice" CR LF`, `"alice" CR`, ``},
		{"twice", `IAC SB IAC SE IAC SB IAC SE "x"`, `"x"`, ``},
		{"then a command", `IAC SB IAC AYT "x"`, `"x"`, `CR LF "[tlntsvr: yes]" CR LF`},
		{"then a handled IP", `IAC SB IAC IP "x"`, `IAC IP "x"`, ``},
		{"then WILL", `IAC SB IAC WILL 99 "x"`, `"x"`, `IAC DONT 99`},
		{"then a data byte", `IAC SB IAC "x" "y"`, `"y"`, ``},
		{"then SB", `IAC SB IAC SB NAWS 0 80 0 24 IAC SE "x"`, `"x"`, ``},
		{"EXOPL", `IAC SB IAC IAC "junk" IAC SE "x"`, `"x"`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			e.cmdHandled[IP] = true
			feedAll(e, wire(t, acceptAll))
			before := snapshot(e)
			data, out := appStream(e, wire(t, tt.in))
			if !bytes.Equal(data, wire(t, tt.data)) || !bytes.Equal(out, wire(t, tt.out)) {
				t.Errorf("data %s replies %s; want %s and %s", formatWire(data), formatWire(out), tt.data, tt.out)
			}
			if e.state != stData {
				t.Errorf("parser left in state %d", e.state)
			}
			if tt.name == "then SB" {
				if e.cols != 80 || e.rows != 24 {
					t.Errorf("SB after an empty one: %dx%d", e.cols, e.rows)
				}
			} else if after := snapshot(e); after != before {
				t.Errorf("an empty subnegotiation changed the engine:\n%s\n%s", before, after)
			}
		})
	}
}

// TestSubnegotiationCut: a subnegotiation of an option whose messages
// start with a code, started with text instead, is cut short before the
// text (issue 16 item 8): a client that sends a bare IAC SB and types on
// is read. An unknown code keeps the payload to IAC SE, ignored.
func TestSubnegotiationCut(t *testing.T) {
	tests := []struct {
		name, setup, in string
		data            string
		// answered: the cut subnegotiation answered our SEND or REQUEST
		// of its option (checked when the option is one we asked of).
		answered bool
	}{
		{"bare CHARSET answer", `IAC DO CHARSET`, `IAC SB CHARSET "alice" CR LF`, `"alice" CR`, true},
		{"split", `IAC DO CHARSET`, `IAC SB CHARSET`, ``, false},
		{"TTYPE without IS", ``, `IAC SB TTYPE "xterm" IAC SE`, `"xterm"`, true},
		{"NEW-ENVIRON", ``, `IAC SB NEW-ENVIRON "x"`, `"x"`, true},
		{"unknown code: to IAC SE", `IAC DO CHARSET`, `IAC SB CHARSET 9 "alice" IAC SE "b"`, `"b"`, false},
		{"NAWS is any 4 bytes", ``, `IAC SB NAWS "PPPP" IAC SE "b"`, `"b"`, false},
		{"a refused option's payload", ``, `IAC SB 99 "alice" IAC SE "b"`, `"b"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(testConfig())
			feedAll(e, wire(t, acceptAll+` `+tt.setup))
			data, _ := feedAll(e, wire(t, tt.in))
			if !bytes.Equal(data, wire(t, tt.data)) {
				t.Errorf("data %s, want %s", formatWire(data), tt.data)
			}
			answered := map[byte]bool{OptCharset: e.charsetDone, OptTTYPE: e.ttypeDone, OptNewEnviron: e.envDone}
			if got, ok := answered[wire(t, tt.in)[2]]; ok && got != tt.answered {
				t.Errorf("answered %v, want %v", got, tt.answered)
			}
			if e.charset != "" || len(e.termTypes) != 0 || len(e.env) != 0 {
				t.Errorf("kept: charset %q types %q env %q", e.charset, e.termTypes, e.env)
			}
		})
	}
	// The client that uses CHARSET properly still gets UTF-8.
	e := startedEngine(testConfig())
	feedAll(e, wire(t, acceptAll+` IAC DO CHARSET IAC SB CHARSET ACCEPTED "UTF-8" IAC SE`))
	if e.charset != "UTF-8" || !e.charsetDone {
		t.Errorf("charset %q, done %v", e.charset, e.charsetDone)
	}
}

// TestNegotiating: negotiation ends as soon as the client has answered
// everything, and not before.
func TestNegotiating(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		answers []string // fed in turn; negotiating() must be true before the last
	}{
		{"accepts everything", testConfig(), []string{
			`IAC DO ECHO IAC DO SGA`,
			`IAC WILL TTYPE IAC WILL NAWS IAC WILL NEW-ENVIRON`,
			`IAC SB NAWS 0 80 0 24 IAC SE`,
			`IAC SB TTYPE IS "XTERM" IAC SE`,
			`IAC SB NEW-ENVIRON IS IAC SE`,
		}},
		{"refuses everything (telnetlib)", testConfig(), []string{
			`IAC DONT ECHO`, `IAC DONT SGA`, `IAC WONT TTYPE`, `IAC WONT NAWS`, `IAC WONT NEW-ENVIRON`,
		}},
		{"TTYPE cycle to its end", Config{}, []string{
			`IAC DO ECHO IAC DO SGA IAC WONT NAWS IAC WONT NEW-ENVIRON IAC WILL TTYPE`,
			`IAC SB TTYPE IS "A" IAC SE`,
			`IAC SB TTYPE IS "B" IAC SE`,
			`IAC SB TTYPE IS "B" IAC SE`,
		}},
		{"bad TTYPE answer ends the cycle", Config{}, []string{
			`IAC DO ECHO IAC DO SGA IAC WONT NAWS IAC WONT NEW-ENVIRON IAC WILL TTYPE`,
			`IAC SB TTYPE IS "a b" IAC SE`,
		}},
		{"client withdraws TTYPE mid-cycle", Config{}, []string{
			`IAC DO ECHO IAC DO SGA IAC WONT NAWS IAC WONT NEW-ENVIRON IAC WILL TTYPE`,
			`IAC WONT TTYPE`,
		}},
		{"NAWS with an unknown (0x0) size", testConfig(), []string{
			`IAC DO ECHO IAC DO SGA IAC WONT TTYPE IAC WONT NEW-ENVIRON IAC WILL NAWS`,
			`IAC SB NAWS 0 0 0 0 IAC SE`,
		}},
		{"one byte at a time", testConfig(), strings.Split(strings.Repeat("x", 15), "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startedEngine(tt.cfg)
			answers := tt.answers
			if tt.name == "one byte at a time" {
				answers = nil
				for _, b := range wire(t, `IAC DONT ECHO IAC DONT SGA IAC WONT TTYPE IAC WONT NAWS IAC WONT NEW-ENVIRON`) {
					answers = append(answers, fmt.Sprintf("%d", b))
				}
			}
			for i, a := range answers {
				if !e.negotiating() {
					t.Fatalf("negotiation over before answer %d (%s)", i, a)
				}
				feedAll(e, wire(t, a))
			}
			if e.negotiating() {
				t.Errorf("still negotiating after every answer: %s", snapshot(e))
			}
		})
	}
}

// TestFragmentation: feeding all at once, one byte at a time, or in random
// pieces gives the same data and the same replies, and leaves the engine
// knowing the same things.
func TestFragmentation(t *testing.T) {
	var inputs [][]byte
	for _, path := range transcriptFiles(t) {
		tr, err := loadTranscript(path)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, tr.clientBytes(1000))
	}
	for _, s := range []string{
		`"a" CR LF "b" CR NUL "c" CR "d" CR`,
		`IAC WILL BINARY "x" CR LF IAC WONT BINARY CR LF`,
		`IAC SB TTYPE IS "xterm" IAC WILL 99 IAC SB NAWS 0 IAC 0 24 IAC SE`,
		`IAC SB 99 "p"*2000 IAC SE "after"`,
		`IAC IAC IAC IAC IAC AYT IAC IP IAC EC CR IAC IP LF`,
	} {
		inputs = append(inputs, wire(t, s))
	}
	r := rand.New(rand.NewPCG(854, 855))
	for range 300 {
		inputs = append(inputs, randomProtocolBytes(r, 1+r.IntN(300)))
	}
	for i, in := range inputs {
		want := runSplit(in, wholeFeeds)
		for name, split := range map[string]splitter{"bytes": byteFeeds, "random": randomFeeds(r)} {
			if got := runSplit(in, split); got != want {
				t.Fatalf("input %d fed as %s:\n%s\nall at once:\n%s\ninput: %s", i, name, got, want, formatWire(in))
			}
		}
	}
}

// runSplit runs in through a fresh started engine and summarises the result.
func runSplit(in []byte, split splitter) string {
	e := startedEngine(testConfig())
	e.cmdHandled[IP] = true
	var data, out []byte
	for _, p := range split(in) {
		d, o := appStream(e, p)
		data = append(data, d...)
		out = append(out, o...)
	}
	return fmt.Sprintf("data=%q\nout=%q\n%s negotiating=%v term=%q", data, out, snapshot(e), e.negotiating(), e.term())
}

// randomProtocolBytes makes input rich in what the parser cares about.
func randomProtocolBytes(r *rand.Rand, n int) []byte {
	opts := []byte{OptBinary, OptEcho, OptSGA, OptTTYPE, OptNAWS, OptNewEnviron, OptEncrypt, OptAuth, OptTimingMark,
		OptStatus, OptEOR, OptTSpeed, OptLFlow, OptLinemode, OptXDispLoc, OptOldEnviron, OptCharset, OptStartTLS, 99}
	var b []byte
	for len(b) < n {
		switch r.IntN(12) {
		case 0:
			b = append(b, IAC, []byte{WILL, WONT, DO, DONT}[r.IntN(4)], opts[r.IntN(len(opts))])
		case 1:
			b = append(b, IAC, SB, opts[r.IntN(len(opts))])
		case 2:
			b = append(b, IAC, SE)
		case 3:
			b = append(b, IAC, byte(236+r.IntN(20)))
		case 4:
			b = append(b, '\r')
		case 5:
			b = append(b, []byte{'\n', 0}[r.IntN(2)])
		case 6:
			b = append(b, []byte{sbIS, sbSEND, envVAR, envVALUE, envESC, envUSERVAR}[r.IntN(6)])
		case 7:
			words := []string{"XTERM", "LANG", "C", "VT100", "USER", "38400,9600", "host:0", ";UTF-8", "DISPLAY"}
			b = append(b, words[r.IntN(len(words))]...)
		case 8:
			b = append(b, IAC)
		default:
			b = append(b, byte(r.IntN(256)))
		}
	}
	return b
}
