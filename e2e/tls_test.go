package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/certgen"
)

// testPKI is one throwaway CA with the certificates the TLS tests use,
// made once per run.
type testPKI struct {
	once                     sync.Once
	ca, other                *certgen.Pair
	server                   *certgen.Pair
	alice, expired, stranger *certgen.Pair
	revoked                  *certgen.Pair // for bob, revoked by the CA's CRL
	crl                      []byte
	err                      error
}

var pki testPKI

func (p *testPKI) make(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		must := func(c *certgen.Pair, err error) *certgen.Pair {
			if err != nil && p.err == nil {
				p.err = err
			}
			return c
		}
		day := certgen.For(24 * time.Hour)
		p.ca = must(certgen.NewCA("tlntsvr test CA", day))
		p.other = must(certgen.NewCA("another CA", day))
		if p.err != nil {
			return
		}
		p.server = must(certgen.Server(p.ca, "localhost", []string{"localhost", "127.0.0.1", "::1"}, day))
		p.alice = must(certgen.Client(p.ca, "alice", day))
		p.expired = must(certgen.Client(p.ca, "alice", certgen.Validity{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-48 * time.Hour)}))
		p.stranger = must(certgen.Client(p.other, "alice", day))
		p.revoked = must(certgen.Client(p.ca, "bob", day))
		if p.err == nil {
			p.crl, p.err = certgen.CRL(p.ca, p.revoked)
		}
	})
	if p.err != nil {
		t.Fatal(p.err)
	}
}

// writeServer puts the server's certificate and key, and the client CA
// file (the CA and its CRL), in dir.
func (p *testPKI) writeServer(t *testing.T, dir string) {
	t.Helper()
	p.make(t)
	if _, _, err := p.server.Write(dir, "server"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "clients-ca.pem"), string(p.ca.CertPEM)+string(p.crl))
	writeFile(t, filepath.Join(dir, "ca.pem"), string(p.ca.CertPEM))
}

// roots is a pool that trusts the test CA, as a client configured with
// it would.
func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return pool
}

// dialTLS opens a TLS connection to addr that verifies the daemon's
// certificate, presenting client (nil: none).
func dialTLS(t *testing.T, addr string, client *certgen.Pair) *tls.Conn {
	t.Helper()
	cfg := &tls.Config{RootCAs: pki.roots(), ServerName: "localhost"}
	if client != nil {
		kp, err := tls.X509KeyPair(client.CertPEM, client.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	return nc.(*tls.Conn)
}

// auditHas waits for an audit record containing every one of parts.
func (d *daemon) auditHas(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(expectTimeout)
	for {
		data, _ := os.ReadFile(filepath.Join(d.dir, "audit.log"))
		for _, line := range strings.Split(string(data), "\n") {
			ok := line != ""
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit record with %q in:\n%s", parts, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A Go crypto/tls client on the telnets port logs on with a password,
// runs a command, gets UTF-8 and 0xFF bytes intact, and the session shows
// its TLS version to tlntadmn and in the audit trail.
func TestTelnetsGoClient(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true})
	tc := dialTLS(t, d.tlsAddr, nil)
	if v := tc.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3 (preferred)", v)
	}
	r := newRawConn(t, tc)
	r.logon()
	// The shell writes é and a 0xFF byte; Telnet doubles 0xFF on the wire.
	r.sendString(`printf 'U=\303\251=\377=%s\n' $((6*7))` + "\r\n")
	r.expect("U=\xc3\xa9=\xff\xff=42")
	list := d.sessions(t)
	if len(list) != 1 || list[0].TLS == nil || list[0].TLS.Version != "TLS1.3" || list[0].TLS.CipherSuite == "" {
		t.Fatalf("sessions: %+v", list)
	}
	if out := d.mustAdmin(t, "sessions"); !strings.Contains(out, "TLS1.3") {
		t.Errorf("tlntadmn sessions has no TLS column:\n%s", out)
	}
	d.auditHas(t, `"event":"logon"`, `"tls":"TLS1.3"`)
}

// tls.min_version 1.3 refuses a 1.2 client; the failure is audited.
func TestTelnetsMinVersion(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, tlsConfig: "  min_version: \"1.3\"\n"})
	cfg := &tls.Config{RootCAs: pki.roots(), ServerName: "localhost", MaxVersion: tls.VersionTLS12}
	if nc, err := tls.Dial("tcp", d.tlsAddr, cfg); err == nil {
		nc.Close()
		t.Fatal("a TLS 1.2 client was accepted with min_version 1.3")
	}
	d.auditHas(t, `"event":"tls_handshake_failed"`, `"via":"telnets"`)
}

// Garbage and silence on the telnets port cost a deadline and an audit
// record; the daemon goes on serving.
func TestTelnetsGarbageAndStall(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, extraConfig: "login_timeout: 2s\n"})
	garbage, err := net.Dial("tcp", d.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	garbage.Write([]byte("GET / HTTP/1.0\r\n\r\nlogin: root\r\n"))
	silent, err := net.Dial("tcp", d.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, c := range []net.Conn{garbage, silent} {
		c.SetReadDeadline(time.Now().Add(expectTimeout))
		if _, err := c.Read(make([]byte, 64)); err == nil {
			// A TLS alert is fine; what matters is the close below.
			c.Read(make([]byte, 64))
		}
	}
	d.auditHas(t, `"event":"tls_handshake_failed"`)
	newRawConn(t, dialTLS(t, d.tlsAddr, nil)).logon()
}

// With tls.require, a clear-text client gets one line and no login
// prompt; a TLS one logs on.
func TestTLSRequired(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, tlsConfig: "  require: true\n"})
	r := dialRaw(t, d, "")
	r.send([]byte{255, 252, 24, 255, 252, 31, 255, 252, 39})
	tail := r.waitClosed()
	all := string(r.received())
	if !strings.Contains(all, "This server requires an encrypted connection") || strings.Contains(all, "login:") {
		t.Fatalf("clear-text client got %q (tail %q)", all, tail)
	}
	d.auditHas(t, `"event":"tls_required"`)
	newRawConn(t, dialTLS(t, d.tlsAddr, nil)).logon()
}

// A client certificate signed by client_ca_file logs its common name on
// without a password; a foreign, expired or revoked one is refused with
// a message saying why; no certificate means the password dialogue.
func TestCertificateLogon(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, tlsConfig: "  client_ca_file: clients-ca.pem\n"})
	// bob is in the users file; a group line makes him a client too, so
	// only the revocation refuses him.
	writeFile(t, filepath.Join(d.dir, "groups"), "telnet-clients: alice bob\nadministrators:\n")

	r := newRawConn(t, dialTLS(t, d.tlsAddr, pki.alice))
	r.send([]byte{255, 252, 24, 255, 252, 31, 255, 252, 39})
	r.sendString("echo CERT=$(id -un)=$((6*7))\r\n")
	r.expect("CERT=" + osAlice + "=42")
	if got := string(r.received()); strings.Contains(got, "password:") {
		t.Errorf("a certificate logon asked for a password: %q", got)
	}
	list := d.sessions(t)
	if len(list) != 1 || list[0].TLS == nil || !strings.Contains(list[0].TLS.ClientCertificate, "CN=alice") {
		t.Fatalf("sessions: %+v", list)
	}
	d.auditHas(t, `"event":"logon"`, `"client_certificate":"CN=alice"`)

	for _, tc := range []struct {
		name string
		cert *certgen.Pair
		want string
	}{
		{"expired", pki.expired, "Your client certificate expired"},
		{"other CA", pki.stranger, "not signed by a CA this server trusts"},
		{"revoked", pki.revoked, "Your client certificate has been revoked."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRawConn(t, dialTLS(t, d.tlsAddr, tc.cert))
			r.send([]byte{255, 252, 24, 255, 252, 31, 255, 252, 39})
			r.waitClosed()
			if got := string(r.received()); !strings.Contains(got, tc.want) || strings.Contains(got, "$ ") {
				t.Errorf("got %q, want %q and no shell", got, tc.want)
			}
		})
	}
	d.auditHas(t, `"event":"logon_failed"`, "revoked")
	// Without a certificate: the password dialogue.
	newRawConn(t, dialTLS(t, d.tlsAddr, nil)).logon()
}

// A renewed certificate renamed over the old one: the running TLS session
// goes on, and the next connection gets the new certificate.
func TestCertificateRotation(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true})
	first := dialTLS(t, d.tlsAddr, nil)
	old := first.ConnectionState().PeerCertificates[0].SerialNumber
	r := newRawConn(t, first)
	r.logon()

	renewed, err := certgen.Server(pki.ca, "localhost", []string{"localhost", "127.0.0.1"}, certgen.For(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := renewed.Write(d.dir, "server"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(expectTimeout)
	for {
		tc := dialTLS(t, d.tlsAddr, nil)
		serial := tc.ConnectionState().PeerCertificates[0].SerialNumber
		tc.Close()
		if serial.Cmp(renewed.Cert.SerialNumber) == 0 {
			break
		}
		if serial.Cmp(old) != 0 || time.Now().After(deadline) {
			t.Fatalf("after rotation the daemon presents serial %v; want the renewed %v", serial, renewed.Cert.SerialNumber)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.sendString("echo STILL=$((6*7))\r\n")
	r.expect("STILL=42")
}

// relay copies between a client and the daemon and keeps every byte the
// client sent, as a network tap would see it.
func relay(t *testing.T, to string) (addr string, seen func() []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var tap bytes.Buffer
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					mu.Lock()
					tap.Write(buf[:n])
					mu.Unlock()
					if _, werr := s.Write(buf[:n]); err != nil || werr != nil {
						s.Close()
						return
					}
				}
			}()
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return append([]byte(nil), tap.Bytes()...)
	}
}

// A tap between a telnets client and the daemon never sees the password.
func TestTelnetsPasswordNotOnTheWire(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true})
	addr, seen := relay(t, d.tlsAddr)
	newRawConn(t, dialTLS(t, addr, nil)).logon()
	if bytes.Contains(seen(), []byte(alicePass)) || bytes.Contains(seen(), []byte("alice")) {
		t.Fatal("the user name or password crossed the wire in clear text")
	}
	// The tap works: over a plain connection it does see the password.
	plain, seenPlain := relay(t, d.addr)
	nc, err := net.Dial("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	newRawConn(t, nc).logon()
	if !bytes.Contains(seenPlain(), []byte(alicePass)) {
		t.Fatal("the tap saw no password over clear text either: it is not tapping")
	}
}

// openssl s_client, TLS from the first byte, driven through a PTY.
func TestTelnetsOpenSSLClient(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true})
	host, port, _ := net.SplitHostPort(d.tlsAddr)
	c := startClient(t, "xterm", 80, 24, "openssl", "s_client", "-quiet", "-verify_return_error",
		"-CAfile", filepath.Join(d.dir, "ca.pem"), "-verify_hostname", "localhost", "-connect", net.JoinHostPort(host, port))
	c.expect("login: ")
	c.send("alice\r")
	c.expect("password: ")
	c.send(alicePass + "\r")
	c.send("echo SSL=$(id -un)=$((6*7))\r")
	c.expect("SSL=" + osAlice + "=42")
	d.auditHas(t, `"event":"logon"`, `"tls":"TLS1.3"`)
}
