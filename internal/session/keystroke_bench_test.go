package session

import (
	"io"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
)

// BenchmarkKeystroke is one keystroke's round trip through the bridge, as
// a person typing feels it: the client writes a byte to the socket,
// copyIn hands it to the PTY, the terminal's line discipline echoes it,
// copyOut reads the echo and writes it back, and the client reads it. One
// op is one keystroke (every 64th an Enter and its CR LF as well), so
// allocs/op is per keystroke and must be 0.
func BenchmarkKeystroke(b *testing.B) {
	master, slave := openPTY(b)
	cc, sc := tcpPair(b)
	conn := protocol.NewConn(sc, protocol.Config{})
	s := &Session{master: master, conn: conn}
	go io.Copy(io.Discard, slave) // the program reading the lines
	go s.copyOut()
	go s.copyIn(newInput())
	key, enter := []byte{'a'}, []byte{'\r'}
	echo := make([]byte, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := cc.Write(key); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cc, echo[:1]); err != nil || echo[0] != 'a' {
			b.Fatalf("echo %q, %v", echo[:1], err)
		}
		if i%64 == 63 {
			cc.Write(enter)
			if _, err := io.ReadFull(cc, echo); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	slave.Close()
}
