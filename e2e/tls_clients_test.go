package e2e

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// tlsClient is one real client that can encrypt, and how it is started
// against the daemon: on its plain port (START_TLS, AUTH SSL) or its
// telnets port.
type tlsClient struct {
	name string
	via  string // the audit record's tls_via
	argv func(d *daemon, host, port string) []string
	tls  bool // connects to listen_tls
}

// kermit runs C-Kermit in CONNECT mode, verifying the daemon with the
// test CA (it does not match IP addresses, hence localhost), sending no
// user name of its own (/userid: empty).
func kermit(setup, host, port, how string) []string {
	return []string{"kermit", "-Y", "-C", setup + "set host /userid: " + host + " " + port + " " + how + ", if fail exit 1, connect, exit"}
}

var tlsClients = []tlsClient{
	{name: "C-Kermit START_TLS", via: "start_tls", argv: func(d *daemon, _, port string) []string {
		return kermit("set auth tls verify-file "+filepath.Join(d.dir, "ca.pem")+", ", "localhost", port, "/telnet")
	}},
	{name: "C-Kermit AUTH SSL", via: "auth_ssl", argv: func(d *daemon, _, port string) []string {
		return kermit("set auth tls verify-file "+filepath.Join(d.dir, "ca.pem")+", set telopt start-tls refused, ", "localhost", port, "/telnet")
	}},
	{name: "C-Kermit telnets", via: "telnets", tls: true, argv: func(d *daemon, _, port string) []string {
		return kermit("set auth tls verify-file "+filepath.Join(d.dir, "ca.pem")+", ", "localhost", port, "/tls-telnet")
	}},
	// telnet-ssl refuses SSL to a host named localhost without -z secure:
	// it is given the address (it checks no host name anyway).
	{name: "telnet-ssl AUTH SSL", via: "auth_ssl", argv: func(d *daemon, host, port string) []string {
		return []string{"telnet-ssl", "-z", "verify=1", "-z", "cacert=" + filepath.Join(d.dir, "ca.pem"), host, port}
	}},
	{name: "telnet-ssl -z ssl", via: "telnets", tls: true, argv: func(d *daemon, host, port string) []string {
		return []string{"telnet-ssl", "-z", "ssl", "-z", "verify=1", "-z", "cacert=" + filepath.Join(d.dir, "ca.pem"), host, port}
	}},
}

// Every client that can encrypt logs on encrypted, through a tap that
// sees no byte of the password, runs a command, gets UTF-8 and 0xFF
// intact, and the audit record names its TLS version and way in.
func TestTLSRealClients(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true})
	for _, tc := range tlsClients {
		t.Run(tc.name, func(t *testing.T) {
			target := d.addr
			if tc.tls {
				target = d.tlsAddr
			}
			tap, seen := relay(t, target)
			host, port, _ := net.SplitHostPort(tap)
			c := startClient(t, "xterm", 80, 24, tc.argv(d, host, port)...)
			c.login("alice", alicePass)
			c.send(`printf 'U=\303\251=\377=%s\n' $((6*7))` + "\r")
			c.expect("U=é=\uFFFD=42") // \uFFFD: the regexp's reading of the byte 0xFF
			if !c.outputContains([]byte("U=\xc3\xa9=\xff=42")) {
				t.Error("0xFF did not arrive as one 0xFF byte")
			}
			c.send("exit\r")
			c.waitExit()
			line := d.auditHas(t, `"event":"logon"`, `"tls_via":"`+tc.via+`"`, `"remote":"127.0.0.1`)
			if !strings.Contains(line, `"tls":"TLS1.3"`) {
				t.Errorf("audit: %s", line)
			}
			if wire := seen(); bytes.Contains(wire, []byte(alicePass)) || len(wire) == 0 {
				t.Errorf("the tap saw %d bytes, the password among them: %v", len(wire), bytes.Contains(wire, []byte(alicePass)))
			}
		})
	}
}

// outputContains reports whether the client has printed b.
func (c *client) outputContains(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Contains(c.out, b)
}

// A TLS ClientHello sent to the plain port of a daemon that offers
// START_TLS, without negotiating it, is what it was before: junk at the
// login prompt, no hang, no crash; the daemon serves the next client.
func TestClientHelloOnPlainPortWithTLSOffered(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true, extraConfig: "login_timeout: 3s\n"})
	r := dialRaw(t, d, "")
	r.send([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	r.waitClosed()
	dialRaw(t, d, "").logon()
}
