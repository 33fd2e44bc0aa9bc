package server

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A connection that never logs on must leave nothing behind in the
// server: before the fix, the shutdown hook registered on the server-wide
// context (a closure holding the connection) stayed there until shutdown,
// for every failed, abandoned or timed-out logon.
func TestConnNotLoggedOnIsReleased(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	const perKind = 40
	var released atomic.Int64
	var wg sync.WaitGroup
	serve := func(i int, client func(*testClient)) {
		defer wg.Done()
		server, clientEnd := net.Pipe()
		// One address each: the per-address pending limit is not under test.
		nc := &addrConn{Conn: server, remote: tcpAddr(fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), 1000+i)}
		runtime.AddCleanup(nc, func(*atomic.Int64) { released.Add(1) }, &released)
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.serveConn(srv.ctx, nc, false)
		}()
		client(newTestClient(clientEnd))
		<-done
		clientEnd.Close()
	}
	kinds := []func(*testClient){
		// Gone before negotiation: it fails.
		func(tc *testClient) { tc.Close() },
		// Ctrl-D at the login prompt.
		func(tc *testClient) {
			tc.waitFor(t, "login: ")
			tc.Write([]byte{0x04})
		},
		// Hangs up at the password prompt.
		func(tc *testClient) {
			tc.waitFor(t, "login: ")
			tc.Write([]byte("mallory\r\n"))
			tc.waitFor(t, "password: ")
			tc.Close()
		},
	}
	n := 0
	for _, kind := range kinds {
		for range perKind {
			wg.Add(1)
			go serve(n, kind)
			n++
		}
	}
	wg.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for released.Load() < int64(n) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if got := released.Load(); got < int64(n) {
		t.Errorf("%d of %d connections that never logged on were garbage collected; the rest are still referenced", got, n)
	}
	runtime.KeepAlive(srv)
}
