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
	} {
		b, err := parseWire(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := Config{
			KnownTerm:  func(n string) bool { return n == "vt100" },
			EnvAllowed: func(n string) bool { return !strings.HasPrefix(n, "X") },
		}
		whole := startedEngine(cfg)
		whole.cmdBytes[IP] = 0x03
		wantData, wantOut := feedAll(whole, in)

		h := fnv.New64a()
		h.Write(in)
		r := rand.New(rand.NewPCG(h.Sum64(), uint64(len(in))))
		e := startedEngine(cfg)
		e.cmdBytes[IP] = 0x03
		var data, out []byte
		for rest := in; len(rest) > 0; {
			n := 1 + r.IntN(min(len(rest), 16))
			d, o := feedAll(e, rest[:n])
			if len(d) > n {
				t.Fatalf("feed of %d bytes returned %d data bytes", n, len(d))
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
		// Each WILL/WONT/DO/DONT gets at most a 3-byte answer; each AYT
		// one AYTReply; TTYPE SEND goes out at most once plus once per
		// answer (capped), NEW-ENVIRON SEND once.
		const sendLen = 6
		limit := len(in) + len(AYTReply)*bytes.Count(in, []byte{AYT}) + sendLen*(MaxTermTypes+2)
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
