package server

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// A deny added by a reload or by tlntadmn config, or an allow narrowed,
// closes at once, without a word, the connections not yet logged on from
// the addresses now refused, at the login or the password prompt; the
// others go on with their logon. Each is audited as a refusal at reload.
func TestConfigChangeClosesRefusedStartups(t *testing.T) {
	hash, err := auth.HashPasswordCost("right", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		apply func(t *testing.T, srv *Server)
	}{
		{"reload deny", func(t *testing.T, srv *Server) {
			writeConfigFile(t, srv, "deny: [192.0.2.0/24]\n")
			if _, err := srv.Reload(); err != nil {
				t.Fatal(err)
			}
		}},
		{"config set allow", func(t *testing.T, srv *Server) {
			writeConfigFile(t, srv, "")
			if _, err := srv.ChangeConfig([]admin.Setting{{Key: "allow", Value: "198.51.100.0/24"}}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, audit := newTestServer(t, "alice:"+hash+"\n", "telnet-clients: alice\n", "")
			type conn struct {
				tc   *testClient
				done chan struct{}
			}
			open := func(host string, port int, toPassword bool) conn {
				tc, done := connect(srv, host, port)
				t.Cleanup(func() { tc.Close(); <-done })
				tc.Write([]byte{255, 253, 1, 255, 253, 3}) // DO ECHO, DO SGA: the prompt at once
				tc.waitFor(t, "login: ")
				if toPassword {
					tc.Write([]byte("alice\r\n"))
					tc.waitFor(t, "password: ")
				}
				return conn{tc, done}
			}
			// Each waits for its negotiation's deadline (the test client
			// answers only ECHO and SGA): open them all at once.
			refused, kept := make([]conn, 5), make([]conn, 2)
			var wg sync.WaitGroup
			for i := range refused {
				wg.Go(func() {
					if i < 4 {
						refused[i] = open("192.0.2.10", 1000+i, false)
					} else {
						refused[i] = open("192.0.2.11", 1000, true) // at the password prompt
					}
				})
			}
			for i := range kept {
				wg.Go(func() { kept[i] = open("198.51.100.20", 1000+i, i == 1) })
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			waitPool(t, srv, 7)

			tt.apply(t, srv)

			for i, c := range refused {
				select {
				case <-c.tc.closed():
				case <-time.After(5 * time.Second): // login_timeout is 60s
					t.Fatalf("refused connection %d still open after the change", i)
				}
				<-c.done
				c.tc.mu.Lock()
				got := string(c.tc.got)
				c.tc.mu.Unlock()
				if !strings.HasSuffix(got, "login: ") && !strings.HasSuffix(got, "password: ") {
					t.Errorf("refused connection %d: got %q; want nothing after its prompt", i, got)
				}
			}
			waitPool(t, srv, 2)
			// The others carry on: the login name, the password.
			kept[0].tc.Write([]byte("alice\r\n"))
			kept[0].tc.waitFor(t, "password: ")
			kept[1].tc.Write([]byte("wrong\r\n"))
			kept[1].tc.waitFor(t, msgLoginIncorrect)
			for i, c := range kept {
				select {
				case <-c.done:
					t.Errorf("kept connection %d was closed", i)
				default:
				}
			}

			// Bounded as every refusal: 3 records for 192.0.2.10 (the
			// fourth in the summary), 1 for 192.0.2.11.
			recs := auditRecords(t, audit, "connection_refused")
			if len(recs) != 4 {
				t.Fatalf("%d connection_refused records, want 4:\n%s", len(recs), audit)
			}
			atPassword := 0
			for _, r := range recs {
				if r["at"] != "reload" || r["reason"] != refusedDenied.reason {
					t.Errorf("record %v; want at reload, reason %q", r, refusedDenied.reason)
				}
				if r["remote"] == "192.0.2.11:1000" && r["stage"] == "login name typed" {
					atPassword++
				}
			}
			if atPassword != 1 {
				t.Errorf("no record of the connection at the password prompt:\n%s", audit)
			}
			srv.flood.flush()
			if n := countSummarised(t, audit, "connection_refused"); n != 5 {
				t.Errorf("records and summaries count %d refusals, want 5:\n%s", n, audit)
			}
			rec := httptest.NewRecorder()
			srv.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if want := `tlntsvr_connections_refused_total{reason="denied"} 5`; !strings.Contains(rec.Body.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

// Behind a balancer, the deny applies to the client's address from the
// PROXY header, as at admission: the balancer's own address is not
// refused, so a connection carrying another client goes on.
func TestConfigChangeClosesRefusedProxiedStartups(t *testing.T) {
	srv, audit := proxyServer(t, "")
	open := func(client string) (*testClient, chan struct{}, string) {
		tc, balancer := dialProxied(t, srv, 2, client, []byte{255, 253, 1, 255, 253, 3})
		tc.waitFor(t, "login: ")
		return tc, tc.closed(), balancer
	}
	_, deniedGone, deniedVia := open("203.0.113.7:4242")
	kept, keptGone, _ := open("203.0.113.8:4242")
	waitPool(t, srv, 2)

	writeConfigFile(t, srv, "proxy_protocol: {from: [127.0.0.1/32]}\ndeny: [203.0.113.7]\n")
	if _, err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-deniedGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the denied client's connection still open after the reload")
	}
	kept.Write([]byte("alice\r\n"))
	kept.waitFor(t, "password: ")
	select {
	case <-keptGone:
		t.Error("the other client's connection was closed")
	default:
	}
	recs := waitRecords(t, audit, "connection_refused", 1)
	if recs[0]["remote"] != "203.0.113.7:4242" || recs[0]["proxy"] != deniedVia || recs[0]["at"] != "reload" {
		t.Errorf("record %v; want the client's 203.0.113.7:4242 through %s, at reload", recs[0], deniedVia)
	}
}

// closed returns a channel closed once the connection has ended (the
// server closed it, or the test did).
func (tc *testClient) closed() chan struct{} {
	ch := make(chan struct{})
	go func() {
		for {
			tc.mu.Lock()
			err, changed := tc.err, tc.changed
			tc.mu.Unlock()
			if err != nil {
				close(ch)
				return
			}
			<-changed
		}
	}()
	return ch
}
