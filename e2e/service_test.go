package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/deploy"
)

// The daemon as a service: reload, shutdown, the audit trail and its
// rotation, and the service commands where no service manager runs.

// signal sends sig to the daemon.
func (d *daemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// logMark returns how much the daemon has logged so far, for waitLog.
func (d *daemon) logMark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Len()
}

// waitLog waits until the daemon logs a line containing what after mark,
// and returns that line.
func (d *daemon) waitLog(t *testing.T, mark int, what string) string {
	t.Helper()
	var line string
	waitFor(t, "the daemon to log "+what, func() bool {
		d.mu.Lock()
		tail := d.log.String()[mark:]
		d.mu.Unlock()
		i := strings.Index(tail, what)
		if i < 0 {
			return false
		}
		start := strings.LastIndexByte(tail[:i], '\n') + 1
		end := strings.IndexByte(tail[i:], '\n')
		if end < 0 {
			return false // the line is not complete yet
		}
		line = tail[start : i+end]
		return true
	})
	return line
}

// editConfig replaces old with new in the daemon's config file.
func (d *daemon) editConfig(t *testing.T, old, new string) {
	t.Helper()
	path := filepath.Join(d.dir, "tlntsvr.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q:\n%s", old, b)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// auditRecords parses every line of an audit log file.
func auditRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: a line that is not JSON: %q: %v", path, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// eventsOf returns the records of one event kind.
func eventsOf(recs []map[string]any, event string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event"] == event {
			out = append(out, r)
		}
	}
	return out
}

// SIGHUP re-reads the config file: a new connection sees the new banner
// and the new max_failed_logons, the session already open goes on, and a
// changed listen address is logged as needing a restart.
func TestReloadAppliesAndKeepsSessions(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "banner: \"Old banner\"\n"})
	old := telnet(t, d, 80, 24)
	old.login("alice", alicePass)

	d.editConfig(t, `banner: "Old banner"`, "banner: \"Reloaded banner\"\nmax_failed_logons: 1")
	d.editConfig(t, `listen: ["127.0.0.1:0"]`, `listen: ["127.0.0.1:0", "127.0.0.1:1"]`)
	mark := d.logMark()
	d.signal(t, syscall.SIGHUP)
	line := d.waitLog(t, mark, "reloaded config, users and groups files")
	if !strings.Contains(line, `"applied":["banner","max_failed_logons"]`) {
		t.Errorf("reload log line: %s", line)
	}
	if l := d.waitLog(t, mark, "take effect only when tlntsvr restarts"); !strings.Contains(l, `"restart_needed":["listen"]`) {
		t.Errorf("restart-needed log line: %s", l)
	}

	c := telnet(t, d, 80, 24) // still on the old address
	c.expect(`Reloaded banner`)
	c.expect(`login: `)
	c.send("alice\r")
	c.expect(`password: `)
	c.send("wrong\r")
	c.expect(`Too many failed logons`) // after one failure, not three
	c.waitExit()

	if got := old.run("echo ALIVE$((20+1))"); got != "ALIVE21" {
		t.Errorf("old session answered %q", got)
	}
	if n := len(d.sessions(t)); n != 1 {
		t.Errorf("%d sessions after reload, want the 1 open before", n)
	}
	// The daemon audits a SIGHUP reload after it has logged it (cmd/tlntsvr
	// reload), and nothing waited for since comes after that record.
	var recs []map[string]any
	found := func() bool {
		recs = eventsOf(auditRecords(t, filepath.Join(d.dir, "audit.log")), "admin")
		for _, r := range recs {
			if r["action"] == "reload" && r["via"] == "SIGHUP" && r["result"] == "ok" {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(expectTimeout); !found() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !found() {
		t.Errorf("no audit record of the SIGHUP reload: %v", recs)
	}
}

// A config file with errors is refused on reload, each error logged with
// its line and key; the settings in force stay, sessions go on, and
// tlntadmn reload reports the same errors. Fixed, it applies.
func TestReloadRefusesBadConfig(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "banner: \"Good banner\"\n"})
	old := telnet(t, d, 80, 24)
	old.login("alice", alicePass)

	d.editConfig(t, `banner: "Good banner"`, "banner: \"Bad banner\"\nmax_connections: lots\nno_such_key: 1")
	mark := d.logMark()
	d.signal(t, syscall.SIGHUP)
	line := d.waitLog(t, mark, "reload incomplete")
	for _, want := range []string{"config file refused", "tlntsvr.yaml:7: max_connections", "tlntsvr.yaml:8: no_such_key"} {
		if !strings.Contains(line, want) {
			t.Errorf("reload error lacks %q: %s", want, line)
		}
	}
	c := telnet(t, d, 80, 24)
	c.expect(`Good banner`)
	c.login("alice", alicePass)

	// tlntadmn reads the config to find the socket, and would stop at the
	// same errors: name the socket, to hear the daemon's answer.
	outb, err := exec.Command(tlntadmn, "--socket", filepath.Join(d.dir, "admin.sock"), "reload").CombinedOutput()
	out := string(outb)
	if err == nil || !strings.Contains(out, "max_connections") || !strings.Contains(out, "settings in force stay") {
		t.Errorf("tlntadmn reload of a bad file: err=%v\n%s", err, out)
	}

	d.editConfig(t, "max_connections: lots\nno_such_key: 1", "max_connections: 5")
	out = d.mustAdmin(t, "reload")
	if !strings.Contains(out, "in force now: banner, max_connections") {
		t.Errorf("tlntadmn reload: %s", out)
	}
	c2 := telnet(t, d, 80, 24)
	c2.expect(`Bad banner`)
	for _, s := range []*client{old, c} {
		if got := s.run("echo ALIVE$((20+2))"); got != "ALIVE22" {
			t.Errorf("session answered %q after the reloads", got)
		}
	}
}

// Each file is judged on its own: a users file with an error keeps its
// last good copy (alice still logs on) while a good config file beside it
// is applied.
func TestReloadBadUsersFileKeepsLastGood(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "banner: \"Before\"\n"})
	users := filepath.Join(d.dir, "users")
	good, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, users, string(good)+"not a users line\n")
	d.editConfig(t, `banner: "Before"`, `banner: "After"`)
	mark := d.logMark()
	d.signal(t, syscall.SIGHUP)
	line := d.waitLog(t, mark, "reload incomplete")
	if !strings.Contains(line, `"applied":["banner"]`) || !strings.Contains(line, "users") {
		t.Errorf("reload log line: %s", line)
	}
	c := telnet(t, d, 80, 24)
	c.expect(`After`)
	c.login("alice", alicePass)
}

// SIGTERM: every session is told, a program that ignores the hangup is
// killed after the grace, nothing of the account is left, and the daemon
// exits 0.
func TestShutdownKillsWhatIgnoresHangup(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c1 := telnet(t, d, 80, 24)
	c1.login("alice", alicePass)
	c1.send("nohup sleep 1000 >/dev/null 2>&1 & sleep 1001\r")
	c2 := telnet(t, d, 80, 24)
	c2.login("alice", alicePass)
	waitFor(t, "both sleeps to start", func() bool { return pgrepCount(osAlice, "sleep") == 2 })

	start := time.Now()
	d.signal(t, syscall.SIGTERM)
	for _, c := range []*client{c1, c2} {
		c.expect(`The Telnet server is shutting down`)
		c.waitExit()
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon still running 30 s after SIGTERM\n%s", d.logs())
	}
	if d.exitErr != nil {
		t.Errorf("daemon exit: %v\n%s", d.exitErr, d.logs())
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("shutdown took %v; the grace is 10 s", took)
	}
	waitFor(t, "no process of the account left", func() bool { return pgrepCount(osAlice, "") == 0 })
	if n := len(eventsOf(auditRecords(t, filepath.Join(d.dir, "audit.log")), "session_end")); n != 2 {
		t.Errorf("%d session_end records, want 2", n)
	}
}

// A second SIGTERM does not wait for the sessions' teardown: the daemon
// kills what is left of them at once and exits (status 1: the shutdown was
// cut short), leaving nothing running.
func TestSecondSIGTERMForces(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	// Ignoring SIGHUP holds the session's teardown for its 2 s grace.
	c.send("trap '' HUP; sleep 1000\r")
	waitFor(t, "sleep to start", func() bool { return pgrepCount(osAlice, "sleep") == 1 })

	mark := d.logMark()
	d.signal(t, syscall.SIGTERM)
	d.waitLog(t, mark, `"msg":"shutting down"`)
	d.signal(t, syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon still running after the second SIGTERM\n%s", d.logs())
	}
	logs := d.logs()
	if !strings.Contains(logs, "second signal: not waiting for sessions") || !strings.Contains(logs, "shutdown forced") {
		t.Errorf("no forced shutdown in the log:\n%s", logs)
	}
	var ee *exec.ExitError
	if !asExitError(d.exitErr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit after a forced shutdown: %v, want status 1", d.exitErr)
	}
	waitFor(t, "no process of the account left", func() bool { return pgrepCount(osAlice, "") == 0 })
}

// With end_tasks_on_disconnect off, programs that ignore the hangup live on
// after a disconnect, but not after the daemon: a stop leaves nothing.
func TestShutdownWithoutEndTasksLeavesNothing(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "end_tasks_on_disconnect: false\n"})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("nohup sleep 1000 >/dev/null 2>&1 &\r")
	waitFor(t, "sleep to start", func() bool { return pgrepCount(osAlice, "sleep") == 1 })
	d.stop() // checks exit status 0
	c.expect(`The Telnet server is shutting down`)
	waitFor(t, "no process of the account left", func() bool { return pgrepCount(osAlice, "") == 0 })
}

func asExitError(err error, target **exec.ExitError) bool { return errors.As(err, target) }

// Every kind of audit record, each a JSON line with its fields, in the
// audit_log file (mode 0600) and on stderr alike.
func TestAuditEventKinds(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "lockout: {attempts: 2, window: 1m, duration: 1m}\n" +
		"login_timeout: 5s\nidle_timeout: 3s\nidle_warning: 1s\n"})

	// The two that wait run while the others are made: logon_timeout...
	slow := dialRaw(t, d, "127.0.0.8")
	// ...and idle_timeout, then session_end by it.
	idle := telnet(t, d, 80, 24)
	idle.login("alice", alicePass)
	// logon, then session_end by exit.
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.send("exit\r")
	c.waitExit()
	// logon_denied.
	b := telnet(t, d, 80, 24)
	b.login0("bob", bobPass)
	b.expect(`Access denied`)
	b.waitExit()
	// logon_failed twice, lockout, logon_locked_out, max_failed_logons,
	// from an address of their own.
	r := dialRaw(t, d, "127.0.0.7")
	r.send([]byte{255, 253, 1, 255, 253, 3, 255, 252, 24, 255, 252, 31, 255, 252, 39}) // a plain client's answers
	for i := 0; i < 3; i++ {
		r.expect("login: ")
		r.sendString("mallory\r\n")
		r.expect("password: ")
		r.sendString("guess\r\n")
	}
	r.expect("Too many failed logons. Connection closed.")
	// admin (pause, continue) and connection_refused while paused.
	d.mustAdmin(t, "pause")
	p := dialRaw(t, d, "127.0.0.9")
	p.expect("paused")
	d.mustAdmin(t, "continue")
	// admin_refused: another account through a socket opened up.
	os.Chmod(filepath.Dir(d.dir), 0o755)
	os.Chmod(d.dir, 0o755)
	os.Chmod(filepath.Join(d.dir, "admin.sock"), 0o666)
	if _, err := d.admin(t, osBob, "", "sessions"); err == nil {
		t.Error("tlntadmn as another account was not refused")
	}
	idle.expect(`is being disconnected`)
	idle.waitExit()
	slow.expect("login: ")
	slow.expect("Logon timed out")

	path := filepath.Join(d.dir, "audit.log")
	want := map[string][]string{
		"logon":              {"session", "user", "os_account", "remote", "pid", "term"},
		"session_end":        {"session", "user", "remote", "reason", "duration", "bytes_in", "bytes_out"},
		"idle_timeout":       {"session", "user", "remote", "idle_timeout"},
		"logon_denied":       {"user", "remote", "reason"},
		"logon_failed":       {"user", "remote", "failures"},
		"lockout":            {"locked", "user", "address", "duration"},
		"logon_locked_out":   {"user", "remote", "until"},
		"max_failed_logons":  {"remote", "max_failed_logons"},
		"logon_timeout":      {"remote"},
		"connection_refused": {"remote", "reason"},
		"admin":              {"action", "peer_user", "peer_uid", "result"},
		"admin_refused":      {"peer_user", "peer_uid", "path"},
	}
	var recs []map[string]any
	waitFor(t, "every kind of audit record", func() bool {
		recs = auditRecords(t, path)
		for kind := range want {
			if len(eventsOf(recs, kind)) == 0 {
				return false
			}
		}
		// A session's end is audited after its connection has closed
		// (the client's exit is seen first), so the idle session's may
		// be there before the exited one's: wait for the latter too.
		for _, r := range eventsOf(recs, "session_end") {
			if r["reason"] == "exit" {
				return true
			}
		}
		return false
	})
	for kind, fields := range want {
		for _, r := range eventsOf(recs, kind) {
			for _, f := range append(fields, "time", "level", "msg") {
				if _, ok := r[f]; !ok {
					t.Errorf("%s record lacks %q: %v", kind, f, r)
				}
			}
		}
	}
	for _, r := range recs {
		if r["audit"] != true || r["event"] == "" {
			t.Errorf("audit record without audit:true or event: %v", r)
		}
	}
	reasons := map[any]bool{}
	for _, r := range eventsOf(recs, "session_end") {
		reasons[r["reason"]] = true
		in, _ := r["bytes_in"].(float64)
		out, _ := r["bytes_out"].(float64)
		// What is typed before the shell starts is not counted: the idle
		// session may have no input bytes, the one that typed exit has.
		if out <= 0 || (r["reason"] == "exit" && in <= 0) {
			t.Errorf("session_end bytes: %v", r)
		}
		if _, err := time.ParseDuration(r["duration"].(string)); err != nil {
			t.Errorf("session_end duration: %v", err)
		}
	}
	if !reasons["exit"] {
		t.Errorf("session_end reasons %v, want exit among them", reasons)
	}
	actions := map[any]bool{}
	for _, r := range eventsOf(recs, "admin") {
		actions[r["action"]] = true
	}
	if !actions["pause"] || !actions["continue"] {
		t.Errorf("admin actions %v, want pause and continue", actions)
	}
	if locked := eventsOf(recs, "lockout"); len(locked) != 2 {
		t.Errorf("lockout records %v, want the address and the account", locked)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", fi.Mode().Perm())
	}
	// The same records go to stderr, for journald. The test reads the
	// daemon's stderr through a pipe, so the last lines may still be on
	// their way.
	b2, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSpace(string(b2)), "\n") {
		waitFor(t, "audit record on stderr: "+line, func() bool { return strings.Contains(d.logs(), line) })
	}
}

// login0 answers the login dialogue without waiting for a shell.
func (c *client) login0(user, pass string) {
	c.t.Helper()
	c.expect(`login: `)
	c.send(user + "\r")
	c.expect(`password: `)
	c.send(pass + "\r")
}

// logrotate's way: the file is renamed, records go on to it until SIGUSR1
// (or SIGHUP), then to a new file at the path, created 0600.
func TestAuditLogReopen(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	path := filepath.Join(d.dir, "audit.log")
	failLogon := func(user string) {
		t.Helper()
		c := telnet(t, d, 80, 24)
		c.login0(user, "wrong")
		c.expect(`Login incorrect`)
		c.cmd.Process.Kill()
	}
	hasUser := func(p, user string) bool {
		for _, r := range eventsOf(auditRecords(t, p), "logon_failed") {
			if r["user"] == user {
				return true
			}
		}
		return false
	}

	for i, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP} {
		rotated := path + "." + string(rune('1'+i))
		failLogon("before" + sig.String())
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		failLogon("between" + sig.String())
		waitFor(t, "the record to reach the renamed file", func() bool { return hasUser(rotated, "between"+sig.String()) })
		mark := d.logMark()
		d.signal(t, sig)
		d.waitLog(t, mark, "audit log reopened")
		failLogon("after" + sig.String())
		waitFor(t, "a record in the new file", func() bool {
			_, err := os.Stat(path)
			return err == nil && hasUser(path, "after"+sig.String())
		})
		if !hasUser(rotated, "before"+sig.String()) || hasUser(rotated, "after"+sig.String()) || hasUser(path, "between"+sig.String()) {
			t.Errorf("%v: records in the wrong file", sig)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("reopened audit log mode %v, want 0600", fi.Mode().Perm())
		}
	}
}

// The service commands: without root they refuse first; where no service
// manager runs (CI containers: systemd is not PID 1) they say so and change
// nothing; where systemd runs, install, start, reload, stop and uninstall
// are done for real.
func TestServiceCommands(t *testing.T) {
	needRoot(t)
	actions := []string{"install", "uninstall", "start", "stop", "restart", "status"}
	for _, action := range actions {
		if action == "status" {
			continue // needs no root
		}
		out, err := exec.Command("runuser", "-u", osBob, "--", binary, action).CombinedOutput()
		var ee *exec.ExitError
		if !asExitError(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(string(out), "tlntsvr "+action+" needs root") {
			t.Errorf("tlntsvr %s as %s: %v\n%s", action, osBob, err, out)
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		serviceCycleWithSystemd(t)
		return
	}
	for _, action := range actions {
		out, err := exec.Command(binary, action).CombinedOutput()
		var ee *exec.ExitError
		if !asExitError(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "no service manager: systemd is not running") {
			t.Errorf("tlntsvr %s as root: %v\n%s", action, err, out)
		}
	}
	for _, unit := range []string{"tlntsvr.service", "tlntsvr.socket"} {
		if _, err := os.Stat(filepath.Join("/etc/systemd/system", unit)); err == nil {
			t.Errorf("%s was written although install was refused", unit)
		}
	}
}

// serviceCycleWithSystemd installs the binary under test as the tlntsvr
// service, on a loopback port, and takes it through its life. (CI has no
// systemd; this runs on machines that boot with it.)
func serviceCycleWithSystemd(t *testing.T) {
	const unit = "/etc/systemd/system/tlntsvr.service"
	const socket = "/etc/systemd/system/tlntsvr.socket"
	for _, p := range []string{unit, socket} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: this test installs its own", p)
		}
	}
	for _, dir := range []string{"/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(dir, "tlntsvr.service")); err == nil {
			t.Fatalf("a tlntsvr.service is installed in %s: this test installs its own", dir)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ref := startDaemon(t, daemonOpts{}) // for its users and groups files
	ref.stop()
	dir := ref.dir
	cfg := filepath.Join(dir, "service.yaml")
	writeFile(t, cfg, "listen: [\"127.0.0.1:"+port+"\"]\nusers_file: users\ngroups_file: groups\n"+
		"admin_socket: "+dir+"/service.sock\naudit_log: service-audit.log\n")
	t.Cleanup(func() {
		exec.Command("systemctl", "disable", "--now", "tlntsvr.socket", "tlntsvr.service").Run()
		os.Remove(socket)
		os.Remove(unit)
		exec.Command("systemctl", "daemon-reload").Run()
	})
	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if asExitError(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if code != wantCode {
			t.Fatalf("%v: exit status %d, want %d\n%s", args, code, wantCode, out)
		}
		return string(out)
	}
	if out := run(0, binary, "install", "--config", cfg); !strings.Contains(out, "Installed "+unit) {
		t.Errorf("install said:\n%s", out)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nExecStart="+binary+" run --config "+cfg+"\n") || !strings.Contains(string(b), "\nKillMode=mixed\n") {
		t.Errorf("installed unit:\n%s", b)
	}
	// The socket unit is written as it is and not enabled.
	if b, err := os.ReadFile(socket); err != nil || string(b) != deploy.Socket {
		t.Errorf("%s: %v\n%s", socket, err, b)
	}
	if out, _ := exec.Command("systemctl", "is-enabled", "tlntsvr.socket").CombinedOutput(); strings.TrimSpace(string(out)) != "disabled" {
		t.Errorf("systemctl is-enabled tlntsvr.socket after install: %s", out)
	}
	run(0, binary, "start")
	waitFor(t, "the service to run", func() bool {
		out, _ := exec.Command(binary, "status").CombinedOutput()
		return strings.Contains(string(out), "tlntsvr: running")
	})
	d := &daemon{t: t, port: port, dir: dir, addr: "127.0.0.1:" + port}
	var c *client
	waitFor(t, "the service to listen", func() bool {
		nc, err := net.Dial("tcp", d.addr)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	c = telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	run(0, "systemctl", "reload", "tlntsvr.service")
	if got := c.run("echo ALIVE$((20+3))"); got != "ALIVE23" {
		t.Errorf("session after systemctl reload answered %q", got)
	}
	run(0, binary, "stop")
	c.expect(`The Telnet server is shutting down`)
	c.waitExit()
	waitFor(t, "no process of the account left", func() bool { return pgrepCount(osAlice, "") == 0 })
	if out := run(3, binary, "status"); !strings.Contains(out, "tlntsvr: stopped") {
		t.Errorf("status after stop: %s", out)
	}
	run(0, binary, "uninstall")
	for _, p := range []string{unit, socket} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("uninstall left %s", p)
		}
	}
}
