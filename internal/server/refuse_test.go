package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// TestRightPasswordNoSession: a logon whose password is right but whose
// OS account cannot be found is refused, told so, and audited as
// logon_denied; and a client that has stopped reading by then does not
// hold the connection's goroutine (the login deadline no longer covers
// that write).
func TestRightPasswordNoSession(t *testing.T) {
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	users := "ghost:" + hash + ":tlntsvr-test-no-such-account\n"
	srv, audit := newTestServer(t, users, "telnet-clients: ghost\n", "")

	cannotStart(t, srv, "ghost", "right")
	if n := countEvents(audit, "logon_denied"); n != 1 {
		t.Fatalf("%d logon_denied records, want 1; audit:\n%s", n, audit)
	}
	if !strings.Contains(audit.String(), "tlntsvr-test-no-such-account") {
		t.Errorf("the logon_denied record does not say which account was missing:\n%s", audit)
	}

	// The same logon from a client that reads nothing after the prompt.
	server, client := net.Pipe()
	defer client.Close()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		srv.serveConn(srv.ctx, &addrConn{Conn: server, remote: tcpAddr("192.0.2.2", 1000)}, false)
	}()
	readUntil := func(want string) {
		t.Helper()
		var got []byte
		buf := make([]byte, 512)
		client.SetReadDeadline(time.Now().Add(20 * time.Second))
		for !strings.Contains(string(got), want) {
			n, err := client.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v; got %q", want, err, got)
			}
			got = append(got, buf[:n]...)
		}
	}
	readUntil("login: ")
	client.Write([]byte("ghost\r\n"))
	readUntil("password: ")
	client.Write([]byte("right\r\n"))
	readUntil("\r\n") // the line end after the password; then nothing more is read
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the refusal's write to a client that stopped reading has no deadline: the connection is still held")
	}
}

// A users-file line that maps a user to root is refused at logon while
// allow_root is false: the client is told the session cannot start, the
// audit record says why and how to allow it.
func TestRootMappingRefusedWithoutAllowRoot(t *testing.T) {
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	srv, audit := newTestServer(t, "admin:"+hash+":root\n", "telnet-clients: admin\n", "")
	cannotStart(t, srv, "admin", "right")
	if n := countEvents(audit, "logon_denied"); n != 1 || !strings.Contains(audit.String(), "allow_root: true") {
		t.Fatalf("%d logon_denied records, want 1 naming allow_root; audit:\n%s", n, audit)
	}
}

// cannotStart logs user on with password and waits for the refusal of a
// session that cannot start, and the connection's end.
func cannotStart(t *testing.T, srv *Server, user, password string) {
	t.Helper()
	tc, done := connect(srv, "192.0.2.1", 1000)
	tc.waitFor(t, "login: ")
	tc.Write([]byte(user + "\r\n"))
	tc.waitFor(t, "password: ")
	tc.Write([]byte(password + "\r\n"))
	tc.waitFor(t, msgCannotStart)
	<-done
	tc.Close()
}
