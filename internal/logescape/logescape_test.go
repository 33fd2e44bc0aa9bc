package logescape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"", ""},
		{"café Ünïcödé 日本", "café Ünïcödé 日本"},
		{"root\x1b[2J", `root\x1b[2J`},
		{"a\x00b\x7fc", `a\x00b\x7fc`},
		{"tab\there\r\n", `tab\there\r\n`},
		{"csi\u009b31m", `csi\u009b31m`},           // C1 CSI, as UTF-8 \xc2\x9b
		{"\u0080\u009f", `\u0080\u009f`},           // both ends of C1
		{"evil\u202etxt.exe", `evil\u202etxt.exe`}, // right-to-left override
		{"\u2066x\u2069", `\u2066x\u2069`},         // bidi isolates
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag\U000e0041", `tag\U000e0041`},     // a Cf outside the BMP
		{"raw\x9bbyte\xff", `raw\x9bbyte\xff`}, // not UTF-8
		{"\xc2", `\xc2`},                       // a truncated sequence
		{`back\slash`, `back\\slash`},
		{`\u202e`, `\\u202e`}, // typed, not sent: stays distinguishable
		{"\ufffd", "\ufffd"},  // a real replacement character is fine
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// safe reports whether s holds only what String leaves as it is.
func safe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"alice", "root\x1b[2J", "a\u009bb\u202ec", "\xff\xc2", `\x41`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if !safe(got) {
			t.Fatalf("String(%q) = %q: still unsafe", s, got)
		}
		if firstUnsafe(s) < 0 && got != s {
			t.Fatalf("String(%q) = %q: changed a safe string", s, got)
		}
		if back, err := unescape(got); err != nil || back != s {
			t.Fatalf("String(%q) = %q, which reads back as %q (%v)", s, got, back, err)
		}
	})
}

// unescape reverses String, so the fuzz target can check that no two
// strings are written alike.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("lone backslash at the end")
		}
		i++
		switch c := s[i]; c {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+width >= len(s) {
				return "", fmt.Errorf("short \\%c escape", c)
			}
			n, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			if err != nil {
				return "", err
			}
			if c == 'x' {
				b.WriteByte(byte(n))
			} else {
				b.WriteRune(rune(n))
			}
			i += width
		default:
			return "", fmt.Errorf("unknown escape \\%c", c)
		}
	}
	return b.String(), nil
}

type stringer string

func (s stringer) String() string { return string(s) }

// Every string that reaches the wrapped handler is escaped, however it
// was logged: message, With attributes, groups, errors, lists, Stringers.
func TestHandlerEscapesEveryString(t *testing.T) {
	const hostile = "x\x1b]0;pwned\x07\u009b2J\u202egnp.exe\xff"
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("remote", hostile)
	log = log.WithGroup("g")
	log.Warn("logon failed for "+hostile,
		"user", hostile,
		"err", errors.New("user "+hostile+" refused"),
		"env", []string{"LANG=" + hostile},
		"term", stringer(hostile),
		slog.Group("sub", "ttype", hostile),
		hostile, 1,
	)
	line := buf.Bytes()
	for _, raw := range []string{"\xc2\x9b", "\u202e", "\xff", "\x1b", "\x07"} {
		if bytes.Contains(line, []byte(raw)) {
			t.Errorf("record holds %q raw: %s", raw, line)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	var walk func(path string, v any)
	n := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			n++
			if !safe(v) {
				t.Errorf("%s = %q: not escaped", path, v)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		case map[string]any:
			for k, e := range v {
				if !safe(k) {
					t.Errorf("key %q in %s: not escaped", k, path)
				}
				walk(path+"."+k, e)
			}
		}
	}
	walk("", rec)
	if n < 8 {
		t.Errorf("only %d strings in the record: %s", n, line)
	}
	esc := String(hostile)
	g, _ := rec["g"].(map[string]any)
	if rec["remote"] != esc || g["user"] != esc || g["term"] != esc || rec["msg"] != "logon failed for "+esc {
		t.Errorf("record = %s, want each field %q", line, esc)
	}
}

// A record with nothing to escape comes out as the wrapped handler alone
// would write it.
func TestHandlerLeavesSafeRecordsAlone(t *testing.T) {
	var plain, wrapped bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	for _, l := range []*slog.Logger{
		slog.New(slog.NewJSONHandler(&plain, opts)),
		slog.New(NewHandler(slog.NewJSONHandler(&wrapped, opts))),
	} {
		l.With("audit", true).Info("session ended", "user", "alice", "pid", 42, "locked", []string{"address"}, "err", errors.New("EOF"))
	}
	if plain.String() != wrapped.String() {
		t.Errorf("wrapped:\n%s\nplain:\n%s", wrapped.String(), plain.String())
	}
}

func TestHandlerEnabled(t *testing.T) {
	h := NewHandler(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if h.Enabled(t.Context(), slog.LevelInfo) || !h.Enabled(t.Context(), slog.LevelError) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}
