package protocol

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzEngine feeds arbitrary client bytes, all at once and in pieces cut
// at points derived from the input, and checks what must hold for any
// input: no panic, the same data and replies however the input is split,
// data never longer than the input, replies bounded by the requests, and
// every buffer within its cap.
func FuzzEngine(f *testing.F) {
	for _, path := range transcriptFiles(f) {
		tr, err := loadTranscript(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tr.clientBytes(2)) // the flip-flops twice are as good as 1000 times
	}
	for _, s := range []string{
		`IAC SB TTYPE IS "xterm" IAC WILL 99`,
		`IAC SB NAWS 0 IAC 0 24 IAC SE`,
		`IAC SB NEW-ENVIRON IS VAR "LANG" ESC VAR VALUE "C" ESC IAC IAC SE`,
		`"a" CR IAC IAC CR LF CR NUL IAC AYT`,
		// A subnegotiation of every option we agree to, agreed first.
		`IAC DO STATUS IAC SB STATUS SEND IAC SE IAC SB STATUS SEND IAC SE "x" IAC SB STATUS SEND IAC SE`,
		`IAC WILL STATUS IAC SB STATUS IS WILL ECHO DO 240 240 SB NAWS 0 1 0 1 SE IAC SE`,
		`IAC WILL TSPEED IAC SB TSPEED IS "38400,9600" IAC SE`,
		`IAC WILL LFLOW IAC SB LFLOW ON IAC SE IAC SB LFLOW RESTART-ANY IAC SE`,
		`IAC WILL XDISPLOC IAC SB XDISPLOC IS "host:0.0" IAC SE`,
		`IAC WONT NEW-ENVIRON IAC WILL OLD-ENVIRON IAC SB OLD-ENVIRON IS 1 "LANG" 0 "C" 3 "LC_X" 0 "y" IAC SE`,
		`IAC WONT NEW-ENVIRON IAC WILL OLD-ENVIRON IAC SB OLD-ENVIRON IS USERVAR "A" 1 "B" ESC 0 IAC SE`,
		`IAC DO CHARSET IAC SB CHARSET ACCEPTED "UTF-8" IAC SE`,
		`IAC WILL CHARSET IAC SB CHARSET REQUEST "[TTABLE]" 1 ";KOI8-R;UTF-8" IAC SE IAC SB CHARSET REQUEST IAC SE`,
		`IAC DO EOR IAC WILL EOR "a" IAC EOR`,
		`IAC DO TIMING-MARK IAC DO TIMING-MARK IAC DONT TIMING-MARK IAC WILL TIMING-MARK`,
		`IAC WILL LINEMODE IAC SB LINEMODE 3 1 2 3 IAC SE IAC SB LINEMODE 1 3 IAC SE`,
		`IAC DO START-TLS IAC SB START-TLS 1 IAC SE`,
		`"a" IAC IP "b" IAC DM IAC AO IAC BRK IAC EC IAC EL IAC EOF IAC SUSP IAC ABORT`,
		`"bye" IAC DO LOGOUT "more"`,
	} {
		b, err := parseWire(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	cfg := Config{
		KnownTerm:  func(n string) bool { return n == "vt100" },
		EnvAllowed: func(n string) bool { return !strings.HasPrefix(n, "X") },
	}
	// The most a STATUS answer can be with this policy: every option we
	// may agree to, on its side.
	statusMax := 6
	pol := newPolicy(cfg)
	for o := range 256 {
		if pol.us[o] {
			statusMax += 2
		}
		if pol.him[o] {
			statusMax += 2
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := startedEngine(cfg)
		whole.cmdHandled[IP] = true
		wantData, wantOut := appStream(whole, in)

		h := fnv.New64a()
		h.Write(in)
		r := rand.New(rand.NewPCG(h.Sum64(), uint64(len(in))))
		e := startedEngine(cfg)
		e.cmdHandled[IP] = true
		var data, out []byte
		for rest := in; len(rest) > 0; {
			n := 1 + r.IntN(min(len(rest), 16))
			d, o := appStream(e, rest[:n])
			// One more than the piece: an IAC split from its command.
			if len(d) > n+1 {
				t.Fatalf("feed of %d bytes returned %d stream bytes", n, len(d))
			}
			data = append(data, d...)
			out = append(out, o...)
			rest = rest[n:]
			if len(e.sb) > MaxSubnegotiation {
				t.Fatalf("subnegotiation buffer %d bytes", len(e.sb))
			}
		}
		checkEngineBounds(t, e)
		if !bytes.Equal(data, wantData) || !bytes.Equal(out, wantOut) {
			t.Fatalf("split feeding differs:\ndata %q\nwant %q\nout  %q\nwant %q", data, wantData, out, wantOut)
		}
		if len(data) > len(in) {
			t.Fatalf("%d data bytes from %d input bytes", len(data), len(in))
		}
		// Each WILL/WONT/DO/DONT gets at most a 3-byte answer, and each
		// CHARSET REQUEST an answer no longer than itself; each AYT one
		// AYTReply and each STATUS SEND one status; TTYPE SEND goes out at
		// most once plus once per answer (capped); the SENDs of
		// NEW-ENVIRON, OLD-ENVIRON, TSPEED and XDISPLOC and our CHARSET
		// REQUEST once each, and DO OLD-ENVIRON once.
		const sendLen = 6
		limit := len(in) + len(AYTReply)*bytes.Count(in, []byte{AYT}) +
			statusMax*bytes.Count(in, []byte{IAC, SB, OptStatus}) +
			sendLen*(MaxTermTypes+2) + 4*sendLen + len(charsetRequest) + 3
		if len(out) > limit {
			t.Fatalf("%d reply bytes for %d input bytes (limit %d)", len(out), len(in), limit)
		}
		checkEngineBounds(t, whole)
	})
}

func checkEngineBounds(t *testing.T, e *engine) {
	t.Helper()
	if len(e.sb) > MaxSubnegotiation {
		t.Fatalf("subnegotiation buffer %d bytes", len(e.sb))
	}
	if len(e.termTypes) > MaxTermTypes {
		t.Fatalf("%d terminal types", len(e.termTypes))
	}
	for _, tt := range e.termTypes {
		if _, ok := decodeTermType(append([]byte{sbIS}, tt...)); !ok || tt != strings.ToLower(tt) {
			t.Fatalf("bad terminal type kept: %q", tt)
		}
	}
	if len(e.env) > MaxEnvVars {
		t.Fatalf("%d environment variables", len(e.env))
	}
	if e.txSpeed < 0 || e.txSpeed > MaxSpeed || e.rxSpeed < 0 || e.rxSpeed > MaxSpeed || (e.txSpeed == 0) != (e.rxSpeed == 0) {
		t.Fatalf("speeds %d,%d", e.txSpeed, e.rxSpeed)
	}
	if e.charset != "" && e.charset != "UTF-8" {
		t.Fatalf("charset %q", e.charset)
	}
	// TIMING-MARK never stays on; LOGOUT is on exactly when we agreed.
	if e.us[OptTimingMark].state != qNo {
		t.Fatalf("TIMING-MARK %v", e.us[OptTimingMark].state)
	}
	if (e.ended == OptLogout) != (e.us[OptLogout].state == qYes) {
		t.Fatalf("ended by %s, LOGOUT %v", OptionName(e.ended), e.us[OptLogout].state)
	}
	// Never agreed, whatever the client sends; START_TLS and
	// AUTHENTICATION only on the client's side, and only when offered.
	for _, o := range []byte{OptLinemode, OptStartTLS, OptAuth, OptEncrypt, OptEXOPL} {
		him := e.him[o].state != qNo && !(e.cfg.OfferTLS && (o == OptStartTLS || o == OptAuth))
		if e.us[o].state != qNo || him {
			t.Fatalf("%s agreed", OptionName(o))
		}
	}
	for k, v := range e.env {
		checkEnvVar(t, k, v)
	}
	if e.cols < 0 || e.cols > 4096 || e.rows < 0 || e.rows > 4096 || (e.cols == 0) != (e.rows == 0) {
		t.Fatalf("window size %dx%d", e.cols, e.rows)
	}
	for i := range 256 {
		for _, q := range []qSide{e.us[i], e.him[i]} {
			if (q.state == qNo || q.state == qYes) && q.opposite {
				t.Fatalf("option %d: %v with queue OPPOSITE", i, q.state)
			}
		}
	}
}

func checkEnvVar(t *testing.T, name, value string) {
	t.Helper()
	if !validEnvName(name) {
		t.Fatalf("bad variable name kept: %q", name)
	}
	if len(value) > MaxEnvValueLen {
		t.Fatalf("%s: value of %d bytes", name, len(value))
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c == 0x7f {
			t.Fatalf("%s: control byte in value %q", name, value)
		}
	}
}

func FuzzDecodeEnviron(f *testing.F) {
	for _, s := range []string{
		`VAR "LANG" VALUE "C" USERVAR "LC_ALL" VALUE "en_US.UTF-8"`,
		`VAR "USER" VALUE "-f root"`,
		`VAR "A" ESC VAR "B" VALUE "x" ESC ESC`,
		`VALUE "x" VAR VAR "Y"`,
		``,
	} {
		b, err := parseWire(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		vars := decodeEnviron(d)
		if len(vars) > len(d) {
			t.Fatalf("%d variables from %d bytes", len(vars), len(d))
		}
		for _, v := range vars {
			checkEnvVar(t, v.name, v.value)
		}
	})
}

func FuzzDecodeTermType(f *testing.F) {
	for _, s := range []string{"\x00XTERM", "\x00MTTS 137", "\x00vt100\x01", "\x01", "", "\x00" + strings.Repeat("A", 41)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		name, ok := decodeTermType(d)
		if !ok {
			if name != "" {
				t.Fatalf("refused but returned %q", name)
			}
			return
		}
		if name == "" || len(name) > MaxTermTypeLen || name != strings.ToLower(name) {
			t.Fatalf("accepted %q", name)
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("accepted %q", name)
			}
		}
		// Case does not matter: the upper-case spelling gives the same name.
		if again, ok := decodeTermType(append([]byte{sbIS}, strings.ToUpper(name)...)); !ok || again != name {
			t.Fatalf("%q upper-cased gives %q, %v", name, again, ok)
		}
	})
}

func FuzzDecodeNAWS(f *testing.F) {
	for _, s := range [][]byte{{0, 80, 0, 24}, {0, 0, 0, 0}, {255, 255, 255, 255}, {16, 0, 16, 1}, {0, 80, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		cols, rows, ok := decodeNAWS(d)
		if !ok {
			if cols != 0 || rows != 0 {
				t.Fatalf("refused but returned %dx%d", cols, rows)
			}
			return
		}
		if len(d) != 4 || cols < 1 || cols > 4096 || rows < 1 || rows > 4096 {
			t.Fatalf("accepted %v as %dx%d", d, cols, rows)
		}
		if cols != int(d[0])<<8|int(d[1]) || rows != int(d[2])<<8|int(d[3]) {
			t.Fatalf("%v decoded as %dx%d", d, cols, rows)
		}
	})
}

// FuzzDecodeSubnegotiations checks the decoders of the newer options'
// payloads: no panic, and only what they promise comes out.
func FuzzDecodeSubnegotiations(f *testing.F) {
	for _, s := range []string{"38400,38400", "host:0.0", "\x01LANG\x00C", "\x03A\x01B\x02\x00", ";UTF-8",
		"[TTABLE]\x01 KOI8-R UTF8", "[TTABLE ]", "", ",", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		if tx, rx, ok := decodeTermSpeed(d); ok != (tx > 0) || ok && (tx > MaxSpeed || rx < 1 || rx > MaxSpeed) {
			t.Fatalf("decodeTermSpeed(%q) = %d, %d, %v", d, tx, rx, ok)
		}
		if v, ok := decodeDisplay(d); ok && (v != string(d) || len(v) > MaxDisplayLen || !strings.Contains(v, ":")) {
			t.Fatalf("decodeDisplay(%q) = %q", d, v)
		}
		for _, v := range decodeOldEnviron(d) {
			checkEnvVar(t, v.name, v.value)
		}
		if sw := swapVarValue(swapVarValue(d)); !bytes.Equal(sw, d) {
			t.Fatalf("swapVarValue twice changed %q to %q", d, sw)
		}
		if name, ok := pickCharset(d); ok != isUTF8Name(name) || ok && !bytes.Contains(d, name) {
			t.Fatalf("pickCharset(%q) = %q, %v", d, name, ok)
		}
	})
}
