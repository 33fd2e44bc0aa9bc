package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// panicConn is a client connection whose Read panics: a stand-in for a
// bug anywhere in negotiation or logon.
type panicConn struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *panicConn) Read([]byte) (int, error) { panic("injected: logon path bug") }

func (c *panicConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A panic while a connection negotiates or logs on is recovered and
// logged; that connection is closed, its pending-logon slot given back,
// and the next connection is served as usual.
func TestPanicBeforeLogonEndsOnlyThatConnection(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "users"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "groups"), []byte("telnet-clients:\n"), 0o600)
	path := filepath.Join(dir, "tlntsvr.yaml")
	cfg, err := config.Parse([]byte("listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\n"), path)
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.LockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	store, err := auth.NewStore(AuthOptions(cfg, log))
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, store, log, log)

	server, client := net.Pipe()
	defer client.Close()
	bad := &panicConn{Conn: server, closed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveConn(context.Background(), bad, false)
	}()
	go func() { // take what the server sends before it reads
		buf := make([]byte, 512)
		for {
			if _, err := client.Read(buf); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serveConn did not return after the panic")
	}
	select {
	case <-bad.closed:
	default:
		t.Error("the connection was not closed")
	}
	if !strings.Contains(logs.String(), "panic in connection") || !strings.Contains(logs.String(), "injected: logon path bug") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
	if conns, sources := srv.startups.len(); conns+sources != 0 {
		t.Errorf("%d connections from %d sources still hold places in the startup pool", conns, sources)
	}

	// The next connection gets its login prompt.
	server2, client2 := net.Pipe()
	defer client2.Close()
	go srv.serveConn(context.Background(), server2, false)
	client2.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte("login: ")) {
		n, err := client2.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("no login prompt after the panic: %v; got %q", err, got)
		}
	}
}

// A panic after the shell has started but before the session runs (a bug
// between the two) ends that session as a kill would: the shell is gone,
// the registry entry and the max_connections slot are given back, the
// connection is closed.
func TestPanicAfterSessionStartGivesEverythingBack(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newTestServer(t, "someone:"+hash+":"+me.Username+"\n", "telnet-clients: someone\n",
		"allow_root: true\nshell: /bin/sh\nend_tasks_on_disconnect: true\n")
	var shellPIDs []int
	testHookSessionAdded = func() {
		for _, si := range srv.sessions.List() {
			shellPIDs = append(shellPIDs, si.PID)
		}
		panic("injected: bug between the shell's start and the session")
	}
	t.Cleanup(func() { testHookSessionAdded = nil })

	tc, done := connect(srv, "192.0.2.7", 1000)
	defer tc.Close()
	tc.waitFor(t, "login: ")
	tc.Write([]byte("someone\r\n"))
	tc.waitFor(t, "password: ")
	tc.Write([]byte("right\r\n"))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the connection was not ended after the panic")
	}
	if len(shellPIDs) != 1 {
		t.Fatalf("sessions in the registry at the panic: %v, want one", shellPIDs)
	}
	if n := srv.sessions.Len(); n != 0 {
		t.Errorf("%d sessions still in the registry", n)
	}
	if n := srv.loggedOn.Load(); n != 0 {
		t.Errorf("%d max_connections slots still held", n)
	}
	if err := syscall.Kill(shellPIDs[0], 0); err != syscall.ESRCH {
		t.Errorf("the session's shell (pid %d) is still there: kill 0: %v", shellPIDs[0], err)
	}
}
