package protocol

import (
	"bytes"
	"testing"
)

const benchSize = 32 << 10 // one PTY-sized read

// plainText is benchSize bytes of typed or pasted text: 78-character lines
// ending in CR LF, as an NVT client sends them.
func plainText() []byte {
	line := []byte("The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs\r\n")
	return bytes.Repeat(line, benchSize/len(line)+1)[:benchSize]
}

// iacHeavy is benchSize bytes where every 4th byte is 0xff, doubled on the
// wire as NVT requires (binary data: the worst case for the parser).
func iacHeavy() []byte {
	var b []byte
	for len(b) < benchSize {
		b = append(b, 'a', 'b', 'c', IAC, IAC)
	}
	return b[:benchSize]
}

func benchFeed(b *testing.B, in []byte) {
	e := startedEngine(testConfig())
	feedAll(e, wire(b, acceptAll))
	buf := make([]byte, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		// feed rewrites its input in place: start from a fresh copy.
		copy(buf, in)
		if r := e.feed(buf); r.n == 0 {
			b.Fatal("no data")
		}
	}
}

func BenchmarkFeedPlain(b *testing.B) { benchFeed(b, plainText()) }

func BenchmarkFeedIACHeavy(b *testing.B) { benchFeed(b, iacHeavy()) }

func benchEscape(b *testing.B, in []byte) {
	dst := make([]byte, 0, 2*len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEscaped(dst[:0], in)
	}
}

func BenchmarkAppendEscapedPlain(b *testing.B) { benchEscape(b, plainText()) }

// Every 4th byte 0xff, the output side of binary data.
func BenchmarkAppendEscapedIACHeavy(b *testing.B) {
	in := bytes.Repeat([]byte{'a', 'b', 'c', IAC}, benchSize/4)
	benchEscape(b, in)
}

// TestFeedPlainAllocs keeps the plain-text path allocation-free.
func TestFeedPlainAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	e := startedEngine(testConfig())
	feedAll(e, wire(t, acceptAll))
	in, buf := plainText(), make([]byte, benchSize)
	heavy := iacHeavy()
	if n := testing.AllocsPerRun(100, func() {
		copy(buf, in)
		e.feed(buf)
		copy(buf, heavy)
		e.feed(buf)
	}); n != 0 {
		t.Errorf("feed allocates %v times per call", n)
	}
}
