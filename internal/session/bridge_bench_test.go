package session

import (
	"encoding/base64"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/protocol"
	"github.com/tlntsvr/tlntsvr/internal/pty"
	"github.com/tlntsvr/tlntsvr/internal/recording"
	"github.com/tlntsvr/tlntsvr/internal/shadow"
)

// The PTY → socket bridge measured for real: a writer puts 32 KiB chunks
// into a PTY's slave (as a shell's `cat` would), copyOut reads the master
// and writes through a protocol.Conn to a loopback TCP socket, and a
// reader drains the other end. BenchmarkPTYCeiling is the same PTY with
// the master read and thrown away: what the kernel allows, and the bound
// the bridge is measured against. One op is one 32 KiB chunk written, so
// allocs/op is per 32 KiB of shell output; the text path must show 0.
// The "recorded" runs add what a session with record.dir set has: the
// recording and the shadow hub (no watcher), as taps.

const bridgeChunk = 32 << 10

// bridgeData returns one chunk of shell output of the given kind.
func bridgeData(kind string) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	switch kind {
	case "text": // base64(1) output: 76 columns, LF line ends
		raw := make([]byte, bridgeChunk)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		out := make([]byte, 0, bridgeChunk)
		for len(out) < bridgeChunk {
			out = append(out, enc[:76]...)
			out = append(out, '\n')
			enc = enc[76:]
		}
		return out[:bridgeChunk]
	case "ff-heavy": // binary, half the bytes IAC
		out := make([]byte, bridgeChunk)
		for i := range out {
			if r.Uint32()&1 == 0 {
				out[i] = 0xFF
			} else {
				out[i] = byte(r.Uint32())
			}
		}
		return out
	}
	panic("unknown kind " + kind)
}

// wireSize is what n chunks of data become on the wire: the terminal's
// output processing (ONLCR) turns LF into CR LF; the escaper doubles IAC.
func wireSize(data []byte, n int, escaped bool) int64 {
	size := 0
	for _, c := range data {
		size++
		if c == '\n' || (escaped && c == 0xFF) {
			size++
		}
	}
	return int64(size) * int64(n)
}

// feedSlave writes n chunks into the slave once start is closed, then
// closes the slave so the master's reader sees EIO once everything is read.
func feedSlave(b *testing.B, start <-chan struct{}, slave *os.File, data []byte, n int) {
	defer slave.Close()
	<-start
	for range n {
		if _, err := slave.Write(data); err != nil {
			b.Error("write slave:", err)
			return
		}
	}
}

func BenchmarkBridge(b *testing.B) {
	for _, kind := range []string{"text", "ff-heavy", "text-recorded", "ff-heavy-recorded"} {
		b.Run(kind, func(b *testing.B) {
			kind, recorded := strings.CutSuffix(kind, "-recorded")
			data := bridgeData(kind)
			master, slave := openPTY(b)
			cc, sc := tcpPair(b)
			conn := protocol.NewConn(sc, protocol.Config{})
			s := &Session{master: master, conn: conn}
			if recorded {
				rec, err := recording.Create(recording.Options{Dir: b.TempDir(), MaxBytes: 1 << 40,
					Session: 1, User: "bench", Start: time.Now()})
				if err != nil {
					b.Fatal(err)
				}
				defer rec.Close()
				s.Observe(nil, &shadow.Hub{}, rec)
			}

			got := make(chan int64, 1)
			rbuf := make([]byte, 64<<10)
			go func() {
				var n int64
				for {
					m, err := cc.Read(rbuf)
					n += int64(m)
					if err != nil {
						break
					}
				}
				got <- n
			}()
			start := make(chan struct{})
			go feedSlave(b, start, slave, data, b.N)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			close(start)
			if s.copyOut() {
				b.Fatal("copyOut: the client went away")
			}
			sc.(*net.TCPConn).CloseWrite()
			n := <-got
			b.StopTimer()
			if want := wireSize(data, b.N, true); n != want {
				b.Fatalf("client received %d bytes, want %d", n, want)
			}
		})
	}
}

func BenchmarkPTYCeiling(b *testing.B) {
	for _, kind := range []string{"text", "ff-heavy"} {
		b.Run(kind, func(b *testing.B) {
			data := bridgeData(kind)
			master, slave := openPTY(b)
			buf := make([]byte, bridgeChunk)
			start := make(chan struct{})
			go feedSlave(b, start, slave, data, b.N)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			close(start)
			var n int64
			for {
				m, err := master.Read(buf)
				n += int64(m)
				if err != nil {
					break
				}
			}
			b.StopTimer()
			if want := wireSize(data, b.N, false); n != want {
				b.Fatalf("read %d bytes, want %d", n, want)
			}
		})
	}
}

// openPTY opens a PTY whose master is closed at the end of the benchmark
// (feedSlave closes the slave).
func openPTY(b *testing.B) (master, slave *os.File) {
	b.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { master.Close() })
	return master, slave
}
