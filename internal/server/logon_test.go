package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// newTestServer makes a Server (not listening) over the given users and
// groups files and extra YAML settings; audit records go to the returned
// buffer as JSON.
func newTestServer(t *testing.T, users, groups, extra string) (*Server, *testutil.LockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "groups"), []byte(groups), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "listen: [\"127.0.0.1:0\"]\nusers_file: users\ngroups_file: groups\n" + extra
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "tlntsvr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	store, err := auth.NewStore(AuthOptions(cfg, log))
	if err != nil {
		t.Fatal(err)
	}
	audit := &testutil.LockedBuffer{}
	srv := New(cfg, store, log, slog.New(slog.NewJSONHandler(audit, nil)))
	t.Cleanup(func() { srv.cancel() })
	return srv, audit
}

// addrConn is the server's end of a net.Pipe that claims to come from a
// given client address (a pipe's own address is "pipe").
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

func tcpAddr(host string, port int) net.Addr {
	return &net.TCPAddr{IP: net.ParseIP(host), Port: port}
}

// testClient is the client's end of a pipe. It reads everything the
// server sends, all the time (a pipe write blocks until it is read), and
// answers no negotiation: the server goes on after its negotiation timeout.
type testClient struct {
	net.Conn
	mu      sync.Mutex
	got     []byte
	changed chan struct{} // closed and replaced on every read
	err     error
}

func newTestClient(c net.Conn) *testClient {
	tc := &testClient{Conn: c, changed: make(chan struct{})}
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			tc.mu.Lock()
			tc.got = append(tc.got, buf[:n]...)
			tc.err = err
			close(tc.changed)
			tc.changed = make(chan struct{})
			tc.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tc
}

// waitFor waits until the server has sent one of texts, and returns which.
func (tc *testClient) waitFor(t *testing.T, texts ...string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		tc.mu.Lock()
		got, err, changed := tc.got, tc.err, tc.changed
		tc.mu.Unlock()
		for _, s := range texts {
			if bytes.Contains(got, []byte(s)) {
				return s
			}
		}
		if err != nil {
			t.Errorf("connection ended (%v) before the server sent any of %q; got %q", err, texts, got)
			return ""
		}
		select {
		case <-changed:
		case <-timeout:
			t.Errorf("timed out waiting for any of %q; got %q", texts, got)
			return ""
		}
	}
}

// connect serves a new pipe connection from remote (host:port) with
// srv.serveConn, as startConn would; done is closed when serveConn returns.
func connect(srv *Server, host string, port int) (tc *testClient, done chan struct{}) {
	server, client := net.Pipe()
	done = make(chan struct{})
	go func() {
		defer close(done)
		srv.serveConn(srv.ctx, &addrConn{Conn: server, remote: tcpAddr(host, port)}, false)
	}()
	return newTestClient(client), done
}

func countEvents(audit *testutil.LockedBuffer, event string) int {
	return strings.Count(audit.String(), fmt.Sprintf("%q:%q", "event", event))
}

// countSummarised counts the records of event, written one by one or
// counted in the summaries of floodAudit (flush it first).
func countSummarised(t *testing.T, audit *testutil.LockedBuffer, event string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		var rec struct {
			Event, Summarises string
			Count, Written    int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit record %q: %v", line, err)
		}
		switch {
		case rec.Event == event:
			n++
		case rec.Event == "audit_summary" && rec.Summarises == event:
			n += rec.Count - rec.Written
		}
	}
	return n
}

// wrongPasswordsAtOnce opens n connections, connection i from address
// from(i) (port basePort+i) logging on as user(i), brings every one to the
// password prompt, then sends a wrong password on all of them at once and
// waits on each for one of want.
func wrongPasswordsAtOnce(t *testing.T, srv *Server, n, basePort int, from, user func(i int) string, want ...string) {
	t.Helper()
	var atPrompt, finished sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		atPrompt.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			tc, done := connect(srv, from(i), basePort+i)
			defer func() { tc.Close(); <-done }()
			tc.waitFor(t, "login: ")
			tc.Write([]byte(user(i) + "\r\n"))
			tc.waitFor(t, "password: ")
			atPrompt.Done()
			<-start
			tc.Write([]byte("wrong\r\n"))
			tc.waitFor(t, want...)
		}()
	}
	atPrompt.Wait()
	close(start)
	finished.Wait()
}

// A client whose DO ECHO comes after negotiation's deadline (a slow link)
// gets its login name echoed from then on, not typed blind.
func TestLateDoEchoEchoesLoginName(t *testing.T) {
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	tc, done := connect(srv, "192.0.2.3", 1000)
	defer func() { tc.Close(); <-done }()
	tc.waitFor(t, "login: ")      // after the negotiation deadline: the test client answers nothing
	tc.Write([]byte{255, 253, 1}) // IAC DO ECHO
	tc.Write([]byte("bob\r\n"))
	if got := tc.waitFor(t, "login: bob", "password: "); got != "login: bob" {
		t.Errorf("login name not echoed after a late DO ECHO")
	}
}
