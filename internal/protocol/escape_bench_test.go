package protocol

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// The escaper and the parser as the session bridge drives them: one
// Conn.Write per PTY read and one Conn.Read per network read, 32 KiB each,
// so B/op and allocs/op are per read. bench_test.go has the engine and
// AppendEscaped on plain text and one IAC density; these add the densities
// real output has (none, random binary, erased flash) and the Conn around
// them. They keep to their own inputs so either file can change alone.

// ioSize is one PTY read, the bridge's buffer size.
const ioSize = 32 << 10

// escapeDensities are PTY reads of output: text has no IAC, random binary
// 1 byte in 256, an erased-flash dump half or all.
func escapeDensities() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"text", textLines(ioSize, "\n")},
		{"binary", randomWithIAC(ioSize, 0)},
		{"ff-heavy", randomWithIAC(ioSize, 0.5)},
		{"all-ff", randomWithIAC(ioSize, 1)},
	}
}

// textLines is n bytes of 76-column base64-like lines ending in eol.
func textLines(n int, eol string) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]byte, 0, n+80)
	for len(out) < n {
		for range 76 {
			out = append(out, alphabet[r.IntN(len(alphabet))])
		}
		out = append(out, eol...)
	}
	return out[:n]
}

// escapedWithIAC is what a client sends for binary data in which a share
// of the bytes is IAC: each IAC doubled, n bytes in all, no pair cut.
func escapedWithIAC(n int, share float64) []byte {
	out := make([]byte, 0, n)
	for _, c := range randomWithIAC(n, share) {
		if c == IAC {
			if len(out)+2 > n {
				break
			}
			out = append(out, IAC, IAC)
			continue
		}
		if len(out)+1 > n {
			break
		}
		out = append(out, c)
	}
	return out
}

// randomWithIAC is n random bytes in which a share of them is forced to
// IAC (on top of the 1 in 256 that are IAC by chance).
func randomWithIAC(n int, share float64) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]byte, n)
	for i := range out {
		if r.Float64() < share {
			out[i] = IAC
		} else {
			out[i] = byte(r.Uint32())
		}
	}
	return out
}

// discardConn is a net.Conn whose reads return the same bytes every time
// and whose writes go nowhere.
type discardConn struct{ data []byte }

func (c *discardConn) Read(p []byte) (int, error)       { return copy(p, c.data), nil }
func (c *discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *discardConn) Close() error                     { return nil }
func (c *discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

func BenchmarkAppendEscapedDensity(b *testing.B) {
	for _, d := range escapeDensities() {
		b.Run(d.name, func(b *testing.B) {
			dst := make([]byte, 0, 2*len(d.data)+1)
			b.SetBytes(int64(len(d.data)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendEscaped(dst[:0], d.data)
			}
		})
	}
}

// BenchmarkConnWrite is the PTY → client path without the socket: the
// IAC check, the escaping and the buffer reuse.
func BenchmarkConnWrite(b *testing.B) {
	for _, d := range escapeDensities() {
		b.Run(d.name, func(b *testing.B) {
			c := NewConn(&discardConn{}, Config{})
			b.SetBytes(int64(len(d.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(d.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnRead is the client → PTY path without the socket: a
// Conn.Read into a 32 KiB buffer from a connection that always has the
// same bytes to give.
func BenchmarkConnRead(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"text", textLines(ioSize, "\r\n")},        // a paste
		{"iac-heavy", escapedWithIAC(ioSize, 0.5)}, // a binary upload
	} {
		b.Run(in.name, func(b *testing.B) {
			c := NewConn(&discardConn{data: in.data}, Config{})
			buf := make([]byte, ioSize)
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
