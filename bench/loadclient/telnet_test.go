package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refDecode is the client's data decoding done the obvious way, for a
// stream of data in which every IAC is doubled or starts a NOP.
func refDecode(p []byte) []byte {
	var out []byte
	cr := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == cIAC {
			i++
			if p[i] == cIAC {
				out = append(out, cIAC)
				cr = false
			}
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
			case r.IntN(50) == 0:
				src = append(src, cIAC, 241) // NOP: a command among the data
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

// byteMask finds exactly the bytes equal to c, whatever the others are.
func TestByteMask(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for it := 0; it < 20000; it++ {
		var b [8]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(3) == 0 {
				b[i] = []byte{cIAC, '\r', 0, 0x7f, 0x80, 0xfe}[r.IntN(6)]
			}
		}
		w := binary.LittleEndian.Uint64(b[:])
		for _, c := range []byte{cIAC, '\r'} {
			var want uint
			for i := range b {
				if b[i] == c {
					want |= 1 << i
				}
			}
			if got := byteMask(w, c); got != want {
				t.Fatalf("byteMask(% x, %#x) = %08b, want %08b", b, c, got, want)
			}
		}
	}
}

// Every drop mask packs the kept bytes in order at the bottom of the word.
func TestPackers(t *testing.T) {
	b := [8]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	w := binary.LittleEndian.Uint64(b[:])
	for d := range 256 {
		var want [8]byte
		n := 0
		for i := range b {
			if d>>i&1 == 0 {
				want[n] = b[i]
				n++
			}
		}
		var got [8]byte
		binary.LittleEndian.PutUint64(got[:], packers[d].pack(w))
		if got != want {
			t.Fatalf("drop %08b: packed % x, want % x", d, got, want)
		}
	}
}
