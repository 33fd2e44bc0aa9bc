package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// proxyServer is a listening server that trusts PROXY headers from
// 127.0.0.1 only, with a user alice.
func proxyServer(t *testing.T, extra string) (*Server, *testutil.LockedBuffer) {
	t.Helper()
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	srv, audit := newTestServer(t, "alice:"+hash+"\n", "telnet-clients: alice\n",
		"proxy_protocol: {from: [127.0.0.1/32]}\n"+extra)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, audit
}

// dialFrom connects to srv from the loopback address from.
func dialFrom(t *testing.T, srv *Server, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// auditRecords returns the audit records of an event.
func auditRecords(t *testing.T, audit *testutil.LockedBuffer, event string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(audit.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["event"] == event {
			out = append(out, rec)
		}
	}
	return out
}

// waitRecords waits for n records of event.
func waitRecords(t *testing.T, audit *testutil.LockedBuffer, event string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := auditRecords(t, audit, event)
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) < n {
				t.Fatalf("%d %s records, want %d; audit:\n%s", len(recs), event, n, audit)
			}
			return recs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A v1 or v2 header from a trusted balancer makes the client's address
// the connection's: a failed logon is audited against it, not against
// the balancer.
func TestProxyHeaderGivesClientAddress(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+version), func(t *testing.T) {
			srv, audit := proxyServer(t, "")
			c := dialFrom(t, srv, "127.0.0.1")
			client := &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 4242}
			h := proxyproto.HeaderProxyFromAddrs(version, client, srv.Addrs()[0])
			h.Command = proxyproto.PROXY
			// The header and the client's first bytes in one write, as a
			// balancer may send them: what follows the header is the
			// client's.
			b, err := h.Format()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(append(b, "alice\r\n"...)); err != nil {
				t.Fatal(err)
			}
			tc := newTestClient(c)
			tc.waitFor(t, "password: ")
			c.Write([]byte("wrong\r\n"))
			tc.waitFor(t, msgLoginIncorrect)
			recs := waitRecords(t, audit, "logon_failed", 1)
			if got := recs[0]["remote"]; got != "203.0.113.7:4242" {
				t.Errorf("logon_failed remote %v, want the client's 203.0.113.7:4242", got)
			}
		})
	}
}

// A connection from a balancer without a header is closed with nothing
// said and audited; one that closes before a byte (a connect-only health
// check) is not audited at all.
func TestProxyHeaderMissing(t *testing.T) {
	srv, audit := proxyServer(t, "login_timeout: 1s\n")
	c := dialFrom(t, srv, "127.0.0.1")
	c.Write([]byte("alice\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); len(b) > 0 || err != nil {
		t.Errorf("read %q, %v; want the connection closed with nothing written", b, err)
	}
	recs := waitRecords(t, audit, "connection_refused", 1)
	if recs[0]["reason"] != "proxy_header" || !strings.HasPrefix(recs[0]["remote"].(string), "127.0.0.1:") {
		t.Errorf("refusal record %v", recs[0])
	}

	// Silent: refused when the time allowed (here login_timeout, 1 s) ends.
	c = dialFrom(t, srv, "127.0.0.1")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); len(b) > 0 || err != nil {
		t.Errorf("silent: read %q, %v; want the connection closed with nothing written", b, err)
	}
	waitRecords(t, audit, "connection_refused", 2)

	// Connect and close: no record.
	c = dialFrom(t, srv, "127.0.0.1")
	c.Close()
	lc := dialFrom(t, srv, "127.0.0.1") // then a health check, to know the first was handled
	b, _ := proxyproto.HeaderProxyFromAddrs(2, lc.LocalAddr(), lc.RemoteAddr()).Format()
	lc.Write(b)
	lc.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.ReadAll(lc)
	time.Sleep(100 * time.Millisecond)
	if n := len(auditRecords(t, audit, "connection_refused")); n != 2 {
		t.Errorf("%d refusal records after a connect-and-close, want 2 still:\n%s", n, audit)
	}
}

// A health check (v2 LOCAL, v1 UNKNOWN) is told whether logons are taken,
// and nothing is audited.
func TestProxyHealthCheck(t *testing.T) {
	srv, audit := proxyServer(t, "")
	check := func(header string) string {
		c := dialFrom(t, srv, "127.0.0.1")
		c.Write([]byte(header))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	local, _ := proxyproto.HeaderProxyFromAddrs(2, nil, nil).Format() // LOCAL
	if got := check(string(local)); got != healthReady+"\r\n" {
		t.Errorf("v2 LOCAL: %q, want %q", got, healthReady)
	}
	if got := check("PROXY UNKNOWN\r\n"); got != healthReady+"\r\n" {
		t.Errorf("v1 UNKNOWN: %q, want %q", got, healthReady)
	}
	srv.Pause(true)
	if got := check(string(local)); got != healthPaused+"\r\n" {
		t.Errorf("paused: %q, want %q", got, healthPaused)
	}
	if a := audit.String(); a != "" {
		t.Errorf("health checks audited:\n%s", a)
	}
}

// A header from an address not in proxy_protocol.from is refused: the
// client's own address is recorded, and it gets no logon.
func TestProxyHeaderForged(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+version), func(t *testing.T) {
			srv, audit := proxyServer(t, "")
			c := dialFrom(t, srv, "127.0.0.2")
			h := proxyproto.HeaderProxyFromAddrs(version, &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 1}, srv.Addrs()[0])
			b, _ := h.Format()
			c.Write(append(b, "alice\r\nright\r\n"...))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, _ := io.ReadAll(c)
			if strings.Contains(string(got), "password") {
				t.Errorf("a forged header got to the password prompt: %q", got)
			}
			recs := waitRecords(t, audit, "connection_refused", 1)
			if recs[0]["reason"] != "proxy_header_untrusted" || !strings.HasPrefix(recs[0]["remote"].(string), "127.0.0.2:") {
				t.Errorf("refusal record %v", recs[0])
			}
			if strings.Contains(audit.String(), "198.51.100.1") {
				t.Errorf("the forged address reached the audit trail:\n%s", audit)
			}
		})
	}
	// A client from elsewhere without a header logs on as usual.
	srv, _ := proxyServer(t, "")
	c := dialFrom(t, srv, "127.0.0.2")
	tc := newTestClient(c)
	tc.waitFor(t, "login: ")
	c.Write([]byte("alice\r\n"))
	tc.waitFor(t, "password: ")
}

// The guard finds a signature however the client's bytes are split, and
// lets everything else through.
func TestGuardedConnCheck(t *testing.T) {
	v2 := string(sigV2) + "\x21\x11"
	tests := []struct {
		name   string
		reads  []string
		forged bool
	}{
		{"v1 whole", []string{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"}, true},
		{"v1 split", []string{"PR", "O", "XY", " TCP4"}, true},
		{"v2 whole", []string{v2}, true},
		{"v2 by bytes", strings.Split(v2, ""), true},
		{"telnet", []string{"\xff\xfb\x18", "PROXY "}, false},
		{"login name", []string{"PROX", "Y\r\n"}, false},
		{"empty lines", []string{"\r\n", "\r\n", "\r\x00", "QUIT\n"}, false},
		{"name PROXYX", []string{"PROXYX"}, false},
	}
	for _, tt := range tests {
		g := &guardedConn{}
		forged := false
		for _, r := range tt.reads {
			if !g.done.Load() && g.check([]byte(r)) {
				forged = true
				break
			}
		}
		if forged != tt.forged {
			t.Errorf("%s: forged %v, want %v", tt.name, forged, tt.forged)
		}
	}
}
