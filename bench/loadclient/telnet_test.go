package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// refDecode is the client's data decoding done the obvious way, for a
// stream of data in which every IAC is doubled.
func refDecode(p []byte) []byte {
	var out []byte
	cr := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == cIAC {
			i++
			out = append(out, cIAC)
			cr = false
			continue
		}
		if c == 0 && cr {
			cr = false
			continue
		}
		out = append(out, c)
		cr = c == '\r'
	}
	return out
}

// The decoder's fast paths give the obvious result however the stream is
// split into reads.
func TestDecodeSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for it := 0; it < 2000; it++ {
		var src []byte
		for i := r.IntN(5000); i > 0; i-- {
			switch x := r.IntN(10); {
			case x < 3:
				src = append(src, cIAC, cIAC)
			case x < 4:
				src = append(src, '\r', 0)
			default:
				c := byte(r.IntN(255))
				src = append(src, c)
			}
		}
		want := refDecode(src)
		tc := &tconn{}
		for p := src; len(p) > 0; {
			n := 1 + r.IntN(300)
			if n > len(p) {
				n = len(p)
			}
			tc.decode(p[:n])
			p = p[n:]
		}
		if !bytes.Equal(tc.data, want) || tc.stray != 0 {
			i := 0
			for i < len(want) && i < len(tc.data) && want[i] == tc.data[i] {
				i++
			}
			t.Fatalf("it %d: decode mismatch (stray %d) len %d vs %d at %d: got %q want %q", it, tc.stray, len(tc.data), len(want), i, tc.data[max(0, i-5):min(len(tc.data), i+10)], want[max(0, i-5):min(len(want), i+10)])
		}
	}
}

// BenchmarkDecode is the client's own cost per byte received, which it
// spends whichever server it measures.
func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, d := range []struct {
		name  string
		share float64
	}{{"text", 0}, {"binary", 1.0 / 256}, {"ff-heavy", 0.5}} {
		share := d.share
		var src []byte
		for len(src) < 64<<10 {
			if r.Float64() < share {
				src = append(src, cIAC, cIAC)
			} else {
				src = append(src, byte(r.IntN(255)))
			}
		}
		b.Run(d.name, func(b *testing.B) {
			tc := &tconn{}
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				tc.data = tc.data[:0]
				tc.decode(src)
			}
		})
	}
}
