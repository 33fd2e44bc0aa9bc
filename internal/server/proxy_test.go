package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"os/user"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// proxyServer is a listening server that trusts PROXY headers from
// 127.0.0.1 only, with users alice, bob (whose sessions run as the test's
// own account, with /bin/sh) and dave (whose OS account does not exist),
// all with the password "right".
func proxyServer(t *testing.T, extra string) (*Server, *testutil.LockedBuffer) {
	t.Helper()
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	srv, audit := newTestServer(t,
		"alice:"+hash+"\nbob:"+hash+":"+me.Username+"\ndave:"+hash+":tlntsvr-test-no-such-account\n",
		"telnet-clients: alice bob dave\n",
		"proxy_protocol: {from: [127.0.0.1/32]}\nallow_root: true\nshell: /bin/sh\n"+extra)
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

// dialProxied connects to srv as a balancer on 127.0.0.1 carrying client
// (host:port) with a header of version (1 or 2), followed by first in the
// same write, as a balancer may send them: what follows the header is the
// client's. It returns the connection and the balancer's address, the
// audit's proxy.
func dialProxied(t *testing.T, srv *Server, version byte, client string, first []byte) (*testClient, string) {
	t.Helper()
	c := dialFrom(t, srv, "127.0.0.1")
	h := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(client)), srv.Addrs()[0])
	h.Command = proxyproto.PROXY
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(b, first...)); err != nil {
		t.Fatal(err)
	}
	return newTestClient(c), c.LocalAddr().String()
}

// Refusals behind a balancer name both ends, as the logon records do: the
// client's address from the header as remote, the balancer as proxy.
func TestProxyRefusalsNameTheBalancer(t *testing.T) {
	srv, audit := proxyServer(t, "deny: [203.0.113.7]\nmax_failed_logons: 1\n")
	denied, deniedVia := dialProxied(t, srv, 2, "203.0.113.7:4242", nil)
	select {
	case <-denied.closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the denied client's connection is still open")
	}
	failing, failingVia := dialProxied(t, srv, 2, "203.0.113.8:4242", []byte("alice\r\nwrong\r\n"))
	failing.waitFor(t, msgTooManyFails)
	for event, want := range map[string][2]string{
		"connection_refused": {"203.0.113.7:4242", deniedVia},
		"max_failed_logons":  {"203.0.113.8:4242", failingVia},
	} {
		rec := waitRecords(t, audit, event, 1)[0]
		if rec["remote"] != want[0] || rec["proxy"] != want[1] {
			t.Errorf("%s: remote %v, proxy %v; want %s through %s: %v", event, rec["remote"], rec["proxy"], want[0], want[1], rec)
		}
	}
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
// the connection's: the logon records (failed, denied, logon, session
// end) carry it as remote, not the balancer's, and the balancer's
// address, the TCP peer, as proxy; so does the session list. A direct
// connection's records and session have no proxy.
func TestProxyHeaderGivesClientAddress(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+version), func(t *testing.T) {
			srv, audit := proxyServer(t, "")
			const remote = "203.0.113.7:4242"
			proxied := func(first string) (*testClient, string) {
				return dialProxied(t, srv, version, remote, []byte(first))
			}
			tc, balancer := proxied("alice\r\n")
			tc.waitFor(t, "password: ")
			tc.Write([]byte("wrong\r\n"))
			tc.waitFor(t, msgLoginIncorrect)
			tc.Write([]byte("bob\r\nright\r\n"))
			logon := waitRecords(t, audit, "logon", 1)[0]
			sessions := listSessions(t, srv)
			tc.Write([]byte("exit\r\n"))
			recs := map[string]map[string]any{
				"logon_failed": waitRecords(t, audit, "logon_failed", 1)[0],
				"logon":        logon,
				"session_end":  waitRecords(t, audit, "session_end", 1)[0],
			}
			dc, denyBalancer := proxied("dave\r\nright\r\n")
			dc.waitFor(t, msgCannotStart)
			recs["logon_denied"] = waitRecords(t, audit, "logon_denied", 1)[0]
			for event, rec := range recs {
				want := balancer
				if event == "logon_denied" {
					want = denyBalancer
				}
				if rec["remote"] != remote || rec["proxy"] != want {
					t.Errorf("%s: remote %v, proxy %v; want the client's %s and the balancer's %s: %v",
						event, rec["remote"], rec["proxy"], remote, want, rec)
				}
			}
			if len(sessions) != 1 || sessions[0].Remote != remote || sessions[0].Proxy != balancer {
				t.Errorf("sessions %+v, want one with remote %s, proxy %s", sessions, remote, balancer)
			}

			// A direct connection (from an address that may not send a
			// header): no proxy anywhere.
			c := dialFrom(t, srv, "127.0.0.2")
			direct := newTestClient(c)
			c.Write([]byte("alice\r\nwrong\r\n"))
			direct.waitFor(t, msgLoginIncorrect)
			c.Write([]byte("bob\r\nright\r\n"))
			waitRecords(t, audit, "logon", 2)
			sessions = listSessions(t, srv)
			c.Write([]byte("exit\r\n"))
			waitRecords(t, audit, "session_end", 2)
			for _, event := range []string{"logon_failed", "logon", "session_end"} {
				n := 0
				for _, rec := range auditRecords(t, audit, event) {
					if rec["remote"] == c.LocalAddr().String() {
						n++
						if p, ok := rec["proxy"]; ok {
							t.Errorf("direct %s: proxy %v, want none: %v", event, p, rec)
						}
					}
				}
				if n != 1 {
					t.Errorf("%d direct %s records, want 1:\n%s", n, event, audit)
				}
			}
			// The proxied session may not have left the list yet.
			n := 0
			for _, si := range sessions {
				if si.Remote == c.LocalAddr().String() {
					n++
					if si.Proxy != "" {
						t.Errorf("direct session %+v, want no proxy", si)
					}
				}
			}
			if n != 1 {
				t.Errorf("sessions %+v, want one from %s", sessions, c.LocalAddr())
			}
		})
	}
}

// listSessions is what the admin API's session list says.
func listSessions(t *testing.T, srv *Server) []admin.Session {
	t.Helper()
	w := httptest.NewRecorder()
	srv.handleSessions(w, httptest.NewRequest("GET", admin.PathSessions, nil))
	var out []admin.Session
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("sessions: %v: %s", err, w.Body)
	}
	if strings.Contains(w.Body.String(), `"proxy":""`) {
		t.Errorf("sessions: an empty proxy field: %s", w.Body)
	}
	return out
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
