package e2e

// The network edge as operators run it: behind HAProxy with the PROXY
// protocol, started by systemd's socket activation with readiness
// notifications, and scraped by Prometheus.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// dialFrom connects to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// logRecord waits for the daemon's log record with msg and returns it.
func (d *daemon) logRecord(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(d.logs(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in the daemon's log", msg)
	return nil
}

// scrape reads the daemon's metrics (metrics_listen) as Prometheus would:
// series name with labels → value.
func (d *daemon) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	addr := d.logRecord(t, "serving metrics")["addr"].(string)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// auditEvents returns the daemon's audit records of event.
func (d *daemon) auditEvents(t *testing.T, event string) []map[string]any {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(d.dir, "audit.log"))
	var out []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["event"] == event {
			out = append(out, rec)
		}
	}
	return out
}

// haproxy runs HAProxy with deploy/haproxy/tlntsvr.cfg, its frontends on
// loopback ports and its one server in each backend the daemon d, checked
// every 200 ms. It returns the telnet and telnets frontends' addresses.
func haproxy(t *testing.T, d *daemon) (plain, tlsFirst string) {
	t.Helper()
	bin := needTool(t, "haproxy", "haproxy")
	b, err := os.ReadFile("../deploy/haproxy/tlntsvr.cfg")
	if err != nil {
		t.Fatal(err)
	}
	plain, tlsFirst = "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	cfg := string(b)
	for _, r := range []struct {
		re, with string
		n        int
	}{
		{`(?m)^\s*log /dev/log.*\n`, "", 1}, // no syslog here
		{`(?m)^\s*bind :23$`, "    bind " + plain, 1},
		{`(?m)^\s*bind :992$`, "    bind " + tlsFirst, 1},
		{`(?m)^\s*server tlntsvr2 .*\n`, "", 2},
		{`(?m)^\s*server tlntsvr1 10\.0\.0\.11:23$`, "    server tlntsvr1 " + d.addr, 1},
		{`(?m)^\s*server tlntsvr1 10\.0\.0\.11:992$`, "    server tlntsvr1 " + d.tlsAddr, 1},
		{`inter 5s`, "inter 200ms", 2},
	} {
		re := regexp.MustCompile(r.re)
		if n := len(re.FindAllStringIndex(cfg, -1)); n != r.n {
			t.Fatalf("deploy/haproxy/tlntsvr.cfg: %d matches of %s, want %d", n, r.re, r.n)
		}
		cfg = re.ReplaceAllLiteralString(cfg, r.with)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, path, cfg)
	cmd := exec.Command(bin, "-db", "-f", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", plain); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s", plain)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return plain, tlsFirst
}

// Behind HAProxy (deploy/haproxy/tlntsvr.cfg, send-proxy-v2): the
// balancer's health checks pass, and are neither audited nor failed
// logons; a client's logon through it is its own address's, in
// tlntadmn sessions and the audit trail, which also name the balancer
// (the TCP peer, HAProxy on 127.0.0.1) as proxy; telnets works through
// it with the header before the TLS handshake; and a client that sends
// its own header to the daemon is refused.
func TestBehindHAProxy(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{tls: true,
		extraConfig: "proxy_protocol: {from: [127.0.0.1/32]}\nmetrics_listen: \"127.0.0.1:0\"\n"})
	plain, tlsFirst := haproxy(t, d)

	// Health checks every 200 ms on each backend, each needing "ready":
	// several pass before the logon (a failing one would take the server
	// down, and the logon below through it would fail). Waited for: a
	// loaded machine can answer fewer than a fixed sleep expects.
	m := d.scrape(t)
	for deadline := time.Now().Add(expectTimeout); m["tlntsvr_proxy_health_checks_total"] < 5 && time.Now().Before(deadline); m = d.scrape(t) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := m["tlntsvr_proxy_health_checks_total"]; n < 5 {
		t.Errorf("%v health checks answered, want several", n)
	}

	c := startClient(t, "xterm", 80, 24, "telnet", "-b", "127.0.0.5", strings.Split(plain, ":")[0], strings.Split(plain, ":")[1])
	c.login("alice", alicePass)
	sessions := d.sessions(t)
	if len(sessions) != 1 || !strings.HasPrefix(sessions[0].Remote, "127.0.0.5:") ||
		!strings.HasPrefix(sessions[0].Proxy, "127.0.0.1:") {
		t.Errorf("tlntadmn sessions: %+v; want one session from 127.0.0.5 through 127.0.0.1", sessions)
	}
	logons := d.auditEvents(t, "logon")
	if len(logons) != 1 || !strings.HasPrefix(logons[0]["remote"].(string), "127.0.0.5:") ||
		logons[0]["proxy"] == nil || !strings.HasPrefix(logons[0]["proxy"].(string), "127.0.0.1:") {
		t.Errorf("logon records %v; want one from 127.0.0.5 through 127.0.0.1", logons)
	}

	// telnets through the balancer: the daemon reads the header, then
	// the TLS handshake.
	tc := tls.Client(dialFrom(t, "127.0.0.6", tlsFirst), &tls.Config{RootCAs: pki.roots(), ServerName: "localhost"})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 1)
	if _, err := io.ReadFull(tc, first); err != nil || first[0] != 0xff {
		t.Errorf("telnets through haproxy: first byte %x, %v; want IAC", first, err)
	}
	tc.Close()

	// A client of the daemon's own, claiming another's address.
	f := dialFrom(t, "127.0.0.7", d.addr)
	fmt.Fprintf(f, "PROXY TCP4 192.0.2.99 %s 1234 %s\r\n", "127.0.0.1", d.port)
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.ReadAll(f)

	m = d.scrape(t)
	if m[`tlntsvr_connections_refused_total{reason="proxy_header_untrusted"}`] != 1 {
		t.Errorf("forged header: refusals %v", m[`tlntsvr_connections_refused_total{reason="proxy_header_untrusted"}`])
	}
	refused := d.auditEvents(t, "connection_refused")
	if len(refused) != 1 || refused[0]["reason"] != "proxy_header_untrusted" || !strings.HasPrefix(refused[0]["remote"].(string), "127.0.0.7:") {
		t.Errorf("refusal records %v; want only the forged header's, from 127.0.0.7", refused)
	}
	if m[`tlntsvr_logons_total{result="failed"}`] != 0 || m[`tlntsvr_logons_total{result="ok"}`] != 1 {
		t.Errorf("logons: ok %v, failed %v; want 1 and 0 (health checks are not logons)",
			m[`tlntsvr_logons_total{result="ok"}`], m[`tlntsvr_logons_total{result="failed"}`])
	}
	if b, _ := os.ReadFile(filepath.Join(d.dir, "audit.log")); strings.Contains(string(b), "192.0.2.99") {
		t.Errorf("the forged address reached the audit trail")
	}
}

// notifySocket listens as systemd does for a Type=notify service's
// messages; each datagram arrives on the channel.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

// nextNotify waits for a notification containing want.
func nextNotify(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return m
			}
			seen = append(seen, m)
		case <-timeout:
			t.Fatalf("no notification with %q; got %q", want, seen)
		}
	}
}

// Started by systemd-socket-activate as a socket unit would start it, the
// daemon serves the sockets it is given (telnet as listen, telnets as
// listen_tls), including the connection that started it, instead of its
// listen addresses; and it tells the service manager READY=1, STATUS=
// with the session count, RELOADING=1 with MONOTONIC_USEC then READY=1
// around a reload, and STOPPING=1.
func TestSocketActivationAndNotify(t *testing.T) {
	needRoot(t)
	activate := needTool(t, "systemd-socket-activate", "systemd")
	plain, tlsFirst := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	notifyPath, msgs := notifySocket(t)

	// systemd-socket-activate starts the daemon at the first connection,
	// which waits in the socket's queue meanwhile.
	firstConn := make(chan net.Conn, 1)
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", plain); err == nil {
				firstConn <- c
				return
			}
		}
		close(firstConn)
	}()
	d := startDaemon(t, daemonOpts{tls: true,
		wrap: func(argv []string) []string {
			// It passes on only the environment it is told to.
			return append([]string{activate, "-l", plain, "-l", tlsFirst, "--fdname=telnet:telnets",
				"-E", "NOTIFY_SOCKET=" + notifyPath}, argv...)
		},
	})
	if d.addr != plain || d.tlsAddr != tlsFirst {
		t.Errorf("daemon listens on %s and %s; want the passed sockets %s and %s", d.addr, d.tlsAddr, plain, tlsFirst)
	}
	if strings.Contains(d.logs(), `"addr":"127.0.0.1:0"`) {
		t.Error("the daemon also opened its listen address")
	}
	c, ok := <-firstConn
	if !ok {
		t.Fatal("could not connect to the activation socket")
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 1)
	if _, err := io.ReadFull(c, first); err != nil || first[0] != 0xff {
		t.Errorf("the connection that started the daemon: first byte %x, %v; want IAC", first, err)
	}
	tc := dialTLS(t, tlsFirst, nil)
	tc.Close()

	if m := nextNotify(t, msgs, "READY=1"); !strings.Contains(m, "STATUS=0 sessions") {
		t.Errorf("ready notification %q lacks the session count", m)
	}
	cl := telnet(t, d, 80, 24)
	cl.login("alice", alicePass)
	nextNotify(t, msgs, "STATUS=1 session")

	d.cmd.Process.Signal(syscall.SIGHUP)
	m := nextNotify(t, msgs, "RELOADING=1")
	if !regexp.MustCompile(`(?m)^MONOTONIC_USEC=\d+$`).MatchString(m) {
		t.Errorf("reloading notification %q lacks MONOTONIC_USEC", m)
	}
	nextNotify(t, msgs, "READY=1")

	d.stop()
	nextNotify(t, msgs, "STOPPING=1")
}

// A socket with a name other than telnet or telnets is a configuration
// error, exit status 78, not a guess.
func TestSocketActivationUnknownName(t *testing.T) {
	activate := needTool(t, "systemd-socket-activate", "systemd")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users"), "")
	writeFile(t, filepath.Join(dir, "groups"), "")
	writeFile(t, filepath.Join(dir, "tlntsvr.yaml"), fmt.Sprintf("users_file: users\ngroups_file: groups\nadmin_socket: %s/admin.sock\n", dir))
	addr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(activate, "-l", addr, "--fdname=metrics", binary, "run", "--config", filepath.Join(dir, "tlntsvr.yaml"))
	var out strings.Builder
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 78 {
		t.Errorf("exit: %v, want status 78\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `named "metrics"`) {
		t.Errorf("the error does not name the socket:\n%s", out.String())
	}
}

// metrics_listen serves Prometheus' text format, with the counters moved
// by what happened: a logon, a failed logon, a session by mode and TLS.
func TestMetricsScrape(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "metrics_listen: \"127.0.0.1:0\"\n"})
	m := d.scrape(t)
	for _, k := range []string{`tlntsvr_sessions{mode="console",tls="none"}`, `tlntsvr_logons_total{result="failed"}`,
		`tlntsvr_connections_refused_total{reason="max_connections"}`, `tlntsvr_prelogon_connections`} {
		if v, ok := m[k]; !ok || v != 0 {
			t.Errorf("%s = %v, %v; want 0 from the start", k, v, ok)
		}
	}
	c := telnet(t, d, 80, 24)
	c.expect(`login: `)
	c.send("alice\r")
	c.expect(`password: `)
	c.send("wrong\r")
	c.expect(`Login incorrect`)
	c.login("alice", alicePass)
	c.run("head -c 100000 /dev/zero | tr '\\0' x")

	// A session counts what it sent after each write to the client
	// returns (session.copyOut), so the output the client has just seen
	// may not be counted yet: wait for it. The other figures below were
	// all updated before the client saw any of the shell's output.
	m = d.scrape(t)
	for deadline := time.Now().Add(10 * time.Second); m[`tlntsvr_session_sent_bytes_total`] < 100000 && time.Now().Before(deadline); m = d.scrape(t) {
		time.Sleep(50 * time.Millisecond)
	}
	for k, want := range map[string]float64{
		`tlntsvr_sessions{mode="console",tls="none"}`: 1,
		`tlntsvr_logons_total{result="ok"}`:           1,
		`tlntsvr_logons_total{result="failed"}`:       1,
		`tlntsvr_bcrypt_queue_wait_seconds_count`:     2,
		`tlntsvr_prelogon_connections`:                0,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if m[`tlntsvr_session_sent_bytes_total`] < 100000 {
		t.Errorf("sent bytes %v; the session printed 100000", m[`tlntsvr_session_sent_bytes_total`])
	}
	build := false
	for k, v := range m {
		build = build || strings.HasPrefix(k, "tlntsvr_build_info{") && v == 1
	}
	if !build {
		t.Error("no tlntsvr_build_info")
	}
	c.send("exit\r")
	c.waitExit()
	// A scrape is not one snapshot: Prometheus gathers its collectors
	// concurrently, so the live sessions can be read before the session
	// leaves the registry and the histogram after it ended. Wait for both.
	ended := func(m map[string]float64) bool {
		return m[`tlntsvr_session_duration_seconds_count`] == 1 && m[`tlntsvr_sessions{mode="console",tls="none"}`] == 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for m = d.scrape(t); !ended(m) && time.Now().Before(deadline); m = d.scrape(t) {
		time.Sleep(50 * time.Millisecond)
	}
	if !ended(m) {
		t.Errorf("after the session ended: duration count %v, sessions %v", m[`tlntsvr_session_duration_seconds_count`],
			m[`tlntsvr_sessions{mode="console",tls="none"}`])
	}
}

// The documented way to listen on IPv4 and IPv6, ["0.0.0.0:P", "[::]:P"],
// starts, and clients of both families log on. It runs in a network
// namespace of its own, where every address is a loopback one.
func TestListenIPv4AndIPv6(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	nsenter := needTool(t, "nsenter", "util-linux")
	needTool(t, "ip", "iproute2")
	if out, err := exec.Command(unshare, "--net", "true").CombinedOutput(); err != nil {
		// A container may refuse namespaces: that is the host, not tlntsvr.
		t.Skipf("this host refuses network namespaces: %v %s", err, out)
	}
	const port = "2323"
	d := startDaemon(t, daemonOpts{listen: `["0.0.0.0:` + port + `", "[::]:` + port + `"]`,
		wrap: func(argv []string) []string {
			return append([]string{unshare, "--net", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"}, argv...)
		}})
	pid := strconv.Itoa(d.cmd.Process.Pid)
	for _, host := range []string{"127.0.0.1", "::1"} {
		c := startClient(t, "xterm", 80, 24, nsenter, "--target", pid, "--net", "telnet", host, port)
		c.login("alice", alicePass)
		c.send("exit\r")
		c.waitExit()
	}
	if n := strings.Count(d.logs(), `"msg":"listening"`); n != 2 {
		t.Errorf("%d listening addresses, want 2:\n%s", n, d.logs())
	}
}
