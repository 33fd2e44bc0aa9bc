package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// admin runs tlntadmn against the daemon as root (or as the OS account
// asUser when set) and returns its output.
func (d *daemon) admin(t *testing.T, asUser string, stdin string, args ...string) (string, error) {
	t.Helper()
	var cmd *exec.Cmd
	if asUser != "" {
		// Another account cannot read the config file: name the socket.
		args = append([]string{"--socket", filepath.Join(d.dir, "admin.sock")}, args...)
		cmd = exec.Command("runuser", append([]string{"-u", asUser, "--", tlntadmn}, args...)...)
	} else {
		args = append([]string{"--config", filepath.Join(d.dir, "tlntsvr.yaml")}, args...)
		cmd = exec.Command(tlntadmn, args...)
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *daemon) mustAdmin(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.admin(t, "", "", args...)
	if err != nil {
		t.Fatalf("tlntadmn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (d *daemon) sessions(t *testing.T) []admin.Session {
	t.Helper()
	var list []admin.Session
	if err := json.Unmarshal([]byte(d.mustAdmin(t, "sessions", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

// Two sessions are listed with their fields; a message reaches both; kill
// ends exactly one session and its processes.
func TestAdminSessionsMessageKill(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c1 := telnet(t, d, 90, 25)
	c1.login("alice", alicePass)
	c2 := telnet(t, d, 100, 30)
	c2.login("alice", alicePass)

	list := d.sessions(t)
	if len(list) != 2 {
		t.Fatalf("sessions = %+v, want 2", list)
	}
	for i, want := range []struct{ cols, rows int }{{90, 25}, {100, 30}} {
		s := list[i]
		if s.User != "alice" || s.OSAccount != osAlice || s.Term != "xterm" || s.Cols != want.cols ||
			s.Rows != want.rows || s.PID <= 0 || !strings.HasPrefix(s.Remote, "127.0.0.1:") || s.LogonTime.IsZero() {
			t.Errorf("session %d = %+v", i, s)
		}
	}
	// Both spellings list them.
	for _, args := range [][]string{{"sessions"}, {"-s"}} {
		out := d.mustAdmin(t, args...)
		for _, s := range list {
			if !strings.Contains(out, strconv.Itoa(s.PID)) || !strings.Contains(out, osAlice) {
				t.Errorf("tlntadmn %v lacks session %d:\n%s", args, s.ID, out)
			}
		}
	}

	d.mustAdmin(t, "message", "all", "Maintenance at noon")
	c1.expect(`Maintenance at noon`)
	c2.expect(`Maintenance at noon`)
	d.mustAdmin(t, "-m", strconv.Itoa(list[1].ID), "Only for two")
	c2.expect(`Only for two`)

	c1.send("sleep 1001\r")
	c2.send("sleep 1002 &\r")
	waitFor(t, "both sleeps", func() bool { return pgrepFull("sleep 1001") == 1 && pgrepFull("sleep 1002") == 1 })
	d.mustAdmin(t, "kill", strconv.Itoa(list[0].ID), "--message", "Go home")
	c1.expect(`ended by the Telnet server administrator`)
	c1.expect(`Go home`)
	c1.waitExit()
	waitFor(t, "the killed session's sleep to end", func() bool { return pgrepFull("sleep 1001") == 0 })
	if pgrepFull("sleep 1002") != 1 {
		t.Error("kill ended a process of the other session")
	}
	if got := c2.run("echo still$((1+1))"); got != "still2" {
		t.Errorf("other session: %q", got)
	}
	// The one left is the other session (c2's). The killed session leaves
	// the registry only once its teardown has closed the connection (which
	// ended c1) and its shell is reaped: wait for it.
	only := func(after []admin.Session) bool { return len(after) == 1 && after[0].ID == list[1].ID }
	after := d.sessions(t)
	for deadline := time.Now().Add(expectTimeout); !only(after) && time.Now().Before(deadline); after = d.sessions(t) {
		time.Sleep(50 * time.Millisecond)
	}
	if !only(after) {
		t.Errorf("after kill, sessions = %+v, want only session %d", after, list[1].ID)
	}
	// The Windows spelling ends the rest.
	d.mustAdmin(t, "-k", "all")
	c2.waitExit()
	waitFor(t, "the other sleep to end", func() bool { return pgrepFull("sleep 1002") == 0 })
	if !strings.Contains(auditLog(t, d), `"action":"kill"`) {
		t.Error("no audit record of the kill")
	}
}

// config maxconn=1 holds for the next connection and is in the file.
func TestAdminConfigMaxconn(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c1 := telnet(t, d, 80, 24)
	c1.login("alice", alicePass)
	out := d.mustAdmin(t, "config", "maxconn=1", "timeout=00:30:00")
	if !strings.Contains(out, "max_connections") {
		t.Errorf("config output: %s", out)
	}
	c2 := telnet(t, d, 80, 24)
	c2.expect(`maximum number of connections`)
	c2.waitExit()
	data, err := os.ReadFile(filepath.Join(d.dir, "tlntsvr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "max_connections: 1") || !strings.Contains(string(data), "idle_timeout: 30m") {
		t.Errorf("config file after the change:\n%s", data)
	}
	if out, err := d.admin(t, "", "", "config", "port=2424"); err != nil || !strings.Contains(out, "restarts") {
		t.Errorf("config port=: %v\n%s", err, out)
	}
	if out, err := d.admin(t, "", "", "config", "maxconn=0"); err == nil || !strings.Contains(out, "max_connections") {
		t.Errorf("config maxconn=0 accepted or unclear: %v\n%s", err, out)
	}
}

// A users or groups setting the daemon cannot load is refused before the
// file is written: the daemon must still start with the file it keeps.
func TestAdminConfigCheckedBeforeWrite(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	path := filepath.Join(d.dir, "tlntsvr.yaml")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.admin(t, "", "", "config", "users_file="+filepath.Join(d.dir, "no-such-file"))
	if err == nil || !strings.Contains(out, "not changed") || !strings.Contains(out, "no-such-file") {
		t.Errorf("config users_file=<missing>: err=%v\n%s", err, out)
	}
	out, err = d.admin(t, "", "", "config", "admin_os_group=tlntsvr-no-such-group")
	if err == nil || !strings.Contains(out, "not changed") || !strings.Contains(out, "admin_os_group") {
		t.Errorf("config admin_os_group=<missing>: err=%v\n%s", err, out)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the config file was written:\n%s", after)
	}
	// The next change goes through as if nothing had happened.
	if out := d.mustAdmin(t, "config", "maxconn=7"); !strings.Contains(out, "max_connections") {
		t.Errorf("config maxconn=7 after a refused change: %s", out)
	}
}

// The admin OS group runs the service but cannot change who logs on as
// whom, what runs, or what the daemon opens: that would make it root.
func TestAdminGroupCannotChangeWhoLogsOn(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "admin_os_group: " + osBob + "\n"})
	os.Chmod(filepath.Dir(d.dir), 0o755) // t.TempDir's parent
	os.Chmod(d.dir, 0o755)
	path := filepath.Join(d.dir, "tlntsvr.yaml")
	if out, err := d.admin(t, osBob, "", "config", "maxconn=5"); err != nil || !strings.Contains(out, "max_connections") {
		t.Fatalf("admin group member: config maxconn=5: %v\n%s", err, out)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []string{"users_file=/tmp/mine", "shell=/tmp/mine.sh", "audit_log=/etc/passwd", "admin_os_group=users"} {
		out, err := d.admin(t, osBob, "", "config", "maxconn=6", change)
		key, _, _ := strings.Cut(change, "=")
		if err == nil || !strings.Contains(out, "only root may change "+key) || !strings.Contains(out, "max_connections") {
			t.Errorf("admin group member: config %s: err=%v\n%s", change, err, out)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the config file was written:\n%s", after)
	}
	// Root may.
	if out, err := d.admin(t, "", "", "config", "idle_warning=2m"); err != nil {
		t.Errorf("root: %v\n%s", err, out)
	}
}

// pause refuses new connections while an open session keeps working.
func TestAdminPauseContinue(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c1 := telnet(t, d, 80, 24)
	c1.login("alice", alicePass)
	d.mustAdmin(t, "pause")
	if out := d.mustAdmin(t); !strings.Contains(out, "Paused") {
		t.Errorf("settings listing does not say Paused:\n%s", out)
	}
	c2 := telnet(t, d, 80, 24)
	c2.expect(`paused`)
	c2.waitExit()
	if got := c1.run("echo alive$((2+2))"); got != "alive4" {
		t.Errorf("open session during pause: %q", got)
	}
	d.mustAdmin(t, "continue")
	c3 := telnet(t, d, 80, 24)
	c3.login("alice", alicePass)
}

// A user added with tlntadmn logs on at once, without a restart, and the
// change is audited.
func TestAdminUserAdd(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	out, err := d.admin(t, "", "s3cret pass\n", "user", "add", "carol", "--os-account", osBob, "--password-stdin")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	c := telnet(t, d, 80, 24)
	c.login("carol", "s3cret pass")
	if got := c.run("id -un"); got != osBob {
		t.Errorf("carol runs as %q, want %q", got, osBob)
	}
	if out := d.mustAdmin(t, "user", "list"); !strings.Contains(out, "carol") || !strings.Contains(out, "telnet-clients") {
		t.Errorf("user list:\n%s", out)
	}
	// The daemon audits what changed in its files, by name.
	d.auditHas(t, `"event":"users_changed"`, `"added":["carol"]`)
	d.auditHas(t, `"event":"groups_changed"`, `"group":"telnet-clients"`, `"added":["carol"]`)
}

// Only root and the admin OS group may use the admin socket.
func TestAdminRefusesOthers(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	// The socket's directory and mode keep others out at connect...
	out, err := d.admin(t, osBob, "", "sessions")
	if err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("non-admin tlntadmn: err=%v\n%s", err, out)
	}
	// ...and were they loosened, the daemon's peer-credential check
	// refuses and audits.
	os.Chmod(filepath.Dir(d.dir), 0o755) // t.TempDir's parent
	os.Chmod(d.dir, 0o755)
	os.Chmod(filepath.Join(d.dir, "admin.sock"), 0o666)
	out, err = d.admin(t, osBob, "", "sessions")
	if err == nil || !strings.Contains(out, "is not root") {
		t.Errorf("non-admin tlntadmn through an open socket: err=%v\n%s", err, out)
	}
	if !strings.Contains(auditLog(t, d), `"event":"admin_refused"`) {
		t.Error("no audit record of the refusal")
	}
}

// An idle session is warned, then ended; timeoutactive=no would keep it.
func TestIdleTimeout(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "idle_timeout: 4s\nidle_warning: 2s\n"})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.expect(`will be disconnected in`)
	c.expect(`idle for 4 seconds and is being disconnected`)
	c.waitExit()
}

// pgrepFull counts processes whose command line is exactly cmdline.
func pgrepFull(cmdline string) int {
	out, _ := exec.Command("pgrep", "-fx", cmdline).Output()
	return len(strings.Fields(string(out)))
}

// A message to a session whose client has stopped reading says so (it
// used to answer that there was no such session), and messages to it do
// not pile up behind the one still waiting.
func TestAdminMessageToClientNotReading(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	stalledSession(t, d)
	list := d.sessions(t)
	if len(list) != 1 {
		t.Fatalf("sessions = %+v, want 1", list)
	}
	id := strconv.Itoa(list[0].ID)
	out, err := d.admin(t, "", "", "message", id, "hello")
	if err == nil || !strings.Contains(out, "session "+id+" did not take the message") || !strings.Contains(out, "not reading") {
		t.Errorf("message to a client not reading: %v\n%s", err, out)
	}
	out = d.mustAdmin(t, "message", "all", "hello again")
	if !strings.Contains(out, "Message sent to 0 sessions") || !strings.Contains(out, "1 session did not take it") {
		t.Errorf("message all with one client not reading:\n%s", out)
	}
}

// stalledSession logs on as alice over a connection that, once the shell
// is running `yes`, is never read again: the socket fills and every write
// to it blocks.
func stalledSession(t *testing.T, d *daemon) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var got []byte
	readUntil := func(marker string) {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(marker)) {
			n, err := nc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("waiting for %q: %v (got %q)", marker, err, got)
			}
		}
		got = nil
	}
	// The answers of a plain client, so the logon does not wait out the
	// negotiation.
	nc.Write([]byte{255, 253, 1, 255, 253, 3, 255, 252, 24, 255, 252, 31, 255, 252, 39})
	readUntil("login: ")
	nc.Write([]byte("alice\r\n"))
	readUntil("password: ")
	nc.Write([]byte(alicePass + "\r\necho UP$((6*7))\r\n"))
	readUntil("UP42")
	nc.Write([]byte("yes\r\n"))
	waitFor(t, "yes to run", func() bool { return pgrepCount(osAlice, "yes") == 1 })
	out, err := exec.Command("pgrep", "-u", osAlice, "-x", "yes").Output()
	if err != nil {
		t.Fatalf("pgrep yes: %v", err)
	}
	pid := strings.TrimSpace(string(out))
	// yes sleeps only in a write to a full terminal, and the terminal stays
	// full only while the daemon's write to the socket is blocked: the
	// buffers between are full once yes sleeps, twice in a row, without
	// having written anything in between.
	var last string
	waitFor(t, "yes to block on a full terminal", func() bool {
		stat, err1 := os.ReadFile("/proc/" + pid + "/stat")
		ioStats, err2 := os.ReadFile("/proc/" + pid + "/io")
		if err1 != nil || err2 != nil {
			t.Fatalf("yes (pid %s) is gone: %v %v", pid, err1, err2)
		}
		// The state follows the command name, which is in parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) == 0 || fields[0] != "S" {
			last = ""
			return false
		}
		now := string(ioStats)
		blocked := now == last
		last = now
		return blocked
	})
}

// Stream mode (for scripts) carries nothing but the program's own bytes:
// no banner, no echo, TERM=dumb, and none of the daemon's notices (an
// admin's message, a kill's reason, the idle warning and disconnect),
// which would land in the middle of a script's data.
func TestStreamModeCarriesOnlyProgramBytes(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "mode: stream\nbanner: \"WELCOME-BANNER\"\nidle_timeout: 6s\nidle_warning: 5s\n"})
	r := dialRaw(t, d, "")
	r.logon()
	r.sendString("echo T=$TERM=\r\n")
	r.expect("T=dumb=")

	list := d.sessions(t)
	if len(list) != 1 {
		t.Fatalf("sessions = %+v, want 1", list)
	}
	id := strconv.Itoa(list[0].ID)
	out, err := d.admin(t, "", "", "message", id, "NOTICE-ONE")
	if err == nil || !strings.Contains(out, "session "+id+" is in stream mode") {
		t.Errorf("message to a stream-mode session: %v\n%s", err, out)
	}
	out = d.mustAdmin(t, "message", "all", "NOTICE-TWO")
	if !strings.Contains(out, "Message sent to 0 sessions") || !strings.Contains(out, "Not sent to 1 session in stream mode") {
		t.Errorf("message all with one stream-mode session:\n%s", out)
	}

	// A kill ends a stream-mode session without words.
	k := dialRaw(t, d, "")
	k.logon()
	var kid string
	for _, s := range d.sessions(t) {
		if strconv.Itoa(s.ID) != id {
			kid = strconv.Itoa(s.ID)
		}
	}
	d.mustAdmin(t, "kill", kid, "--message", "KILL-REASON")
	k.waitClosed()
	if got := string(k.received()); strings.Contains(got, "KILL-REASON") || strings.Contains(got, "administrator") {
		t.Errorf("a killed stream-mode session was sent the daemon's words: %q", got)
	}

	// The idle warning (at 1 s idle) is not sent; the disconnect (6 s) is
	// silent.
	r.waitClosed()
	got := string(r.received())
	for _, daemonText := range []string{"WELCOME-BANNER", "NOTICE-", "idle", "administrator", "echo "} {
		if strings.Contains(got, daemonText) {
			t.Errorf("the stream-mode client got %q: %q", daemonText, got)
		}
	}
	if !strings.Contains(auditLog(t, d), `"event":"idle_timeout"`) {
		t.Error("no idle_timeout record: the session ended for another reason")
	}
}
