package recording

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// What encoding costs per 32 KiB of output, for the three kinds of output
// `make bench` sends: base64 text in CR LF lines (as a terminal sends it),
// random binary, and binary with half its bytes 0xFF.
func BenchmarkEncode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 32<<10)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	enc := []byte(base64.StdEncoding.EncodeToString(raw))
	var text bytes.Buffer
	for len(enc) >= 76 && text.Len() < 32<<10 {
		text.Write(enc[:76])
		text.WriteString("\r\n")
		enc = enc[76:]
	}
	random := make([]byte, 32<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	ff := make([]byte, 32<<10)
	for i := range ff {
		if r.Uint32()&1 == 0 {
			ff[i] = 0xFF
		} else {
			ff[i] = byte(r.Uint32())
		}
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"text", text.Bytes()}, {"random", random}, {"ff-heavy", ff}} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, 256<<10)
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				dst = appendString(dst[:0], c.data)
			}
		})
	}
}
