package session

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// cleanPoint is the reference for incompleteTail: it reads the whole
// stream from the start and says whether it ends outside any escape
// sequence or UTF-8 character. Like terminals, it decodes UTF-8 before
// escapes: a character ends a CSI or a two-byte escape and counts as text.
func cleanPoint(stream []byte) bool {
	const (
		ground = iota
		escape
		csi
		str    // OSC, DCS, SOS, PM, APC
		nf     // ESC and intermediates
		utf8ch // inside a multi-byte character
	)
	state, need := ground, 0
	lead := func(b byte) {
		switch {
		case b >= 0xC2 && b <= 0xDF:
			state, need = utf8ch, 1
		case b >= 0xE0 && b <= 0xEF:
			state, need = utf8ch, 2
		case b >= 0xF0 && b <= 0xF4:
			state, need = utf8ch, 3
		default:
			state = ground
		}
	}
	for _, b := range stream {
		switch {
		case b == esc:
			state = escape
		case state == utf8ch:
			if b >= 0x80 && b <= 0xBF {
				if need--; need == 0 {
					state = ground
				}
			} else {
				lead(b) // the character was cut short
			}
		case state == ground || (state == escape || state == csi) && b >= 0x80:
			lead(b)
		case state == escape:
			switch {
			case b == '[':
				state = csi
			case strings.IndexByte("]PX^_", b) >= 0:
				state = str
			case b >= 0x20 && b <= 0x2F:
				state = nf
			default:
				state = ground
			}
		case state == csi:
			inside := b >= 0x20 && b <= 0x3F || b < 0x20 && b != can && b != sub || b == 0x7F
			if !inside {
				state = ground
			}
		case state == str:
			if b == 0x07 {
				state = ground
			}
		case state == nf:
			if b >= 0x30 && b <= 0x7E {
				state = ground
			}
		}
	}
	return state == ground
}

// However the output is split into writes, a notice finds a clean point
// exactly where the reference does.
func TestIncompleteTail(t *testing.T) {
	streams := []string{
		"plain text\r\n",
		"\x1b[1;31mred\x1b[0m and \x1b[38;5;208morange\x1b[m",
		"\x1b]0;title with é\x07after",
		"\x1b]2;title\x1b\\after",
		"\x1bP1$r0m\x1b\\",
		"\x1b(B\x1b)0\x1b#8\x1b7\x1b8\x1bM",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 done",
		"\x1b[?1049h\x1b[H\x1b[2J\xe2\x94\x8c\xe2\x94\x80\xe2\x94\x90\x1b[24;1H",
		"\x1b[12\rbroken CSI then text",
		"\x1b]unterminated title \x1b[31mnew sequence",
		"\x1b[1;\r\n31mcontrols inside a CSI\x1b[12\x18cancelled",
		"\x1b]8;;https://example.com/\x1b\\link\x1b]8;;\x1b\\",
	}
	for _, s := range streams {
		for _, size := range []int{1, 2, 3, 5, 7, 64} {
			var tail []byte
			for i := 0; i < len(s); i += size {
				end := min(i+size, len(s))
				tail = incompleteTail(tail, []byte(s[i:end]))
				if got, want := len(tail) == 0, cleanPoint([]byte(s[:end])); got != want {
					t.Fatalf("%q in writes of %d, after %q: clean = %v, want %v (tail %q)", s, size, s[:end], got, want, tail)
				}
			}
		}
	}
}

// The tail stays small however long the output stays unfinished: a
// control string is remembered by its introducer, and a CSI longer than
// any a terminal collects stops holding notices back.
func TestIncompleteTailBounded(t *testing.T) {
	tail := incompleteTail(nil, []byte("\x1b]52;c;"))
	for range 1000 {
		tail = incompleteTail(tail, []byte("QUJDREVGR0hJSktM"))
	}
	if string(tail) != "\x1b]" {
		t.Fatalf("inside a long clipboard string: tail %q, want the introducer", tail)
	}
	if tail = incompleteTail(tail, []byte("QUJD\x07done")); len(tail) != 0 {
		t.Fatalf("after the string's BEL: tail %q", tail)
	}
	tail = incompleteTail(nil, []byte("\x1b["))
	for range 100 {
		tail = incompleteTail(tail, []byte("1;2;3;4;5;"))
	}
	if len(tail) != 0 {
		t.Fatalf("tail of %d bytes kept for an endless CSI", len(tail))
	}
}

// A notice that arrives while the shell is half way through an escape
// sequence waits for its end, so the terminal sees the sequence whole and
// the notice as text.
func TestNoticeWaitsForEscapeSequence(t *testing.T) {
	// The shell finishes the sequence 0.15 s after starting it; on a busy
	// machine that can take longer than the daemon's wait.
	defer func(w time.Duration) { noticeWait = w }(noticeWait)
	noticeWait = 10 * time.Second
	conn, p := connPair(t)
	s := start(t, conn, Spec{EndTasks: true})
	done := runAsync(s, context.Background(),
		[]byte("printf '\\033[1;3'; sleep 0.15; printf '1mRED\\033[0m\\n'; sleep 5; exit\n"))
	p.waitOutput(t, "\x1b[1;3")
	if err := s.Notice("NOTICE from the admin"); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, "NOTICE from the admin")
	out := p.output()
	seq := strings.Index(out, "\x1b[1;31m")
	if seq < 0 {
		t.Fatalf("the escape sequence was split by the notice: %q", out)
	}
	if n := strings.Index(out, "\r\nNOTICE from the admin\r\n"); n < seq {
		t.Fatalf("the notice came before the sequence ended, or not on lines of its own: %q", out)
	}
	conn.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end")
	}
}

// For any output, split anywhere, the tail stays bounded; for output that
// is valid UTF-8 it agrees with the reference at every write.
func FuzzIncompleteTail(f *testing.F) {
	f.Add([]byte("\x1b[1;31mred\x1b[0m caf\xc3\xa9"), uint8(3))
	f.Add([]byte("\x1b]0;t\x07\x1bP\x1b\\\x1b(B"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		step := int(size%16) + 1
		valid := utf8.Valid(data)
		var tail []byte
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			tail = incompleteTail(tail, data[i:end])
			if len(tail) > maxSequence {
				t.Fatalf("tail of %d bytes", len(tail))
			}
			if valid && len(data) <= maxSequence {
				if got, want := len(tail) == 0, cleanPoint(data[:end]); got != want {
					t.Fatalf("after %q (writes of %d): clean = %v, want %v (tail %q)", data[:end], step, got, want, tail)
				}
			}
		}
	})
}

func TestLastEsc(t *testing.T) {
	cases := []string{"", "plain", "\x1b", "\x1bx", "x\x1b", "\x1b[1m\x1b[0m", "a\x1b\x1b\x1bb", strings.Repeat("\x1b[31mred ", 500)}
	// An ESC on each side of the chunk edges, and none at all.
	for _, at := range []int{0, 1, 510, 511, 512, 513, 1023, 1024, 1500, 1999} {
		b := []byte(strings.Repeat("x", 2000))
		b[at] = esc
		cases = append(cases, string(b), string(b[:at+1]), string(b[at:]))
	}
	cases = append(cases, strings.Repeat("y", 4096))
	for _, s := range cases {
		if got, want := lastEsc([]byte(s)), strings.LastIndexByte(s, esc); got != want {
			t.Errorf("lastEsc(%q) = %d, want %d", s, got, want)
		}
	}
}

// What tracking the tail costs a 32 KiB PTY read: plain text (the bulk of
// output), and text coloured every few words (ls --color, compilers).
func BenchmarkIncompleteTail(b *testing.B) {
	for _, bc := range []struct{ name, unit string }{
		{"plain", "the quick brown fox jumps over the lazy dog\r\n"},
		{"coloured", "\x1b[01;34mdir\x1b[0m  file.go  \x1b[01;32mrun.sh\x1b[0m\r\n"},
	} {
		p := []byte(strings.Repeat(bc.unit, 32<<10/len(bc.unit)))
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			var tail []byte
			for b.Loop() {
				tail = incompleteTail(tail, p)
			}
		})
	}
}
