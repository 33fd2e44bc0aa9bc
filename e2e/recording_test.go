package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/pty"
)

// castEvents reads a recording's events of one kind ("o", "i", "r", "m")
// and returns their data joined.
func castEvents(t *testing.T, path, kind string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	var out strings.Builder
	for i := 0; sc.Scan(); i++ {
		if i == 0 {
			continue // the header
		}
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("%s line %d is not an event: %q (%v)", path, i+1, sc.Text(), err)
		}
		if ev[1] == kind {
			out.WriteString(ev[2].(string))
		}
	}
	return out.String()
}

// recordingOf returns the recording path tlntadmn lists for the only session.
func recordingOf(t *testing.T, d *daemon) string {
	t.Helper()
	list := d.sessions(t)
	if len(list) != 1 {
		t.Fatalf("sessions = %+v, want 1", list)
	}
	return list[0].Recording
}

// A recorded session replays with the real asciinema: UTF-8, a 0xFF byte
// (as U+FFFD) and the output after a resize come back; the resize is an
// "r" event; the file and its directories are private.
func TestRecordingReplaysWithAsciinema(t *testing.T) {
	needRoot(t)
	needTool(t, "asciinema", "asciinema")
	dir := filepath.Join(t.TempDir(), "sessions")
	d := startDaemon(t, daemonOpts{extraConfig: "record: {dir: " + dir + "}\n"})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	path := recordingOf(t, d)
	day := time.Now().Format("2006-01-02")
	if ok, _ := filepath.Match(filepath.Join(dir, day, "1-alice-[0-9][0-9][0-9][0-9][0-9][0-9].cast"), path); !ok {
		t.Errorf("recording path %q, want %s/%s/1-alice-HHMMSS.cast", path, dir, day)
	}
	if got := c.run(`printf 'caf\303\251 \342\202\254 [\377] %s\n' T$((3*3))T`); !strings.Contains(got, "café € [") {
		t.Fatalf("printf gave %q", got)
	}
	if err := pty.SetSize(c.master, 120, 40); err != nil { // telnet sends NAWS
		t.Fatal(err)
	}
	waitFor(t, "the resize to reach the session", func() bool {
		list := d.sessions(t)
		return len(list) == 1 && list[0].Cols == 120 && list[0].Rows == 40
	})
	if got := c.run("stty size"); got != "40 120" {
		t.Errorf("stty size = %q", got)
	}
	c.send("exit\r")
	c.waitExit()
	waitFor(t, "the session to end", func() bool { return strings.Contains(auditLog(t, d), `"session_end"`) })

	for _, p := range []string{dir, filepath.Dir(path)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a directory of mode 0700", p, fi.Mode(), err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: %v, %v; want mode 0600, owned by root", path, fi.Mode(), err)
	}
	var hdr struct {
		Version, Width, Height int
		Env                    map[string]string
		Title                  string
	}
	first, _ := os.ReadFile(path)
	json.Unmarshal([]byte(strings.SplitN(string(first), "\n", 2)[0]), &hdr)
	if hdr.Version != 2 || hdr.Width != 80 || hdr.Height != 24 || hdr.Env["TERM"] != "xterm" ||
		!strings.Contains(hdr.Title, "alice (OS account "+osAlice+") from 127.0.0.1:") {
		t.Errorf("header %+v", hdr)
	}
	if log := auditLog(t, d); !strings.Contains(log, `"event":"recording_start"`) || !strings.Contains(log, path) {
		t.Errorf("no recording_start audit record naming %s", path)
	}
	if r := castEvents(t, path, "r"); r != "120x40" {
		t.Errorf("resize events %q, want 120x40", r)
	}
	if in := castEvents(t, path, "i"); in != "" {
		t.Errorf("input recorded with input: false: %q", in)
	}

	// asciinema cat reads /dev/tty: give it a terminal.
	replay := startClient(t, "xterm", 120, 40, "asciinema", "cat", path)
	out := replay.waitExit()
	for _, want := range []string{"café € [\uFFFD] T9T", "40 120"} {
		if !strings.Contains(out, want) {
			t.Errorf("asciinema cat lacks %q:\n%q", want, out)
		}
	}
	// And play, sped up, plays it through.
	play := startClient(t, "xterm", 120, 40, "asciinema", "play", "-s", "50", "-i", "0.1", path)
	if out := play.waitExit(); !strings.Contains(out, "café € [\uFFFD] T9T") {
		t.Errorf("asciinema play lacks the output:\n%q", out)
	}
}

// With input: true, what is typed while the terminal echoes is recorded,
// and a password typed to a program that turned echo off is not, nor is
// it anywhere in the file.
func TestRecordingNeverHasPasswords(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "sessions")
	d := startDaemon(t, daemonOpts{extraConfig: "record: {dir: " + dir + ", input: true}\n"})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	path := recordingOf(t, d)

	// cat reads a line with the terminal echoing: typed input.
	c.send("cat\r")
	// Typed while bash's readline still has the terminal (echo off), the
	// line would be neither echoed nor recorded: wait until cat runs, by
	// which time bash has given the terminal its echo back.
	waitFor(t, "cat to run", func() bool { return pgrepCount(osAlice, "cat") > 0 })
	c.send("typed-in-the-open\r")
	c.expect(`typed-in-the-open\r\n(.*\r\n)?typed-in-the-open`)
	c.send("\x04")
	c.shellReady()
	// read -s turns echo off, as sudo, passwd and ssh do.
	c.send("read -s -p 'Secret: ' pw; echo; echo len${#pw}x$((1+1))\r")
	c.expect(`Secret: `)
	const secret = "hunter2-do-not-record"
	c.send(secret + "\r")
	c.expect(`len21x2`)
	c.send("exit\r")
	c.waitExit()
	waitFor(t, "the session to end", func() bool { return strings.Contains(auditLog(t, d), `"session_end"`) })

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") {
		t.Errorf("the password is in the recording:\n%s", data)
	}
	if in := castEvents(t, path, "i"); !strings.Contains(in, "typed-in-the-open") {
		t.Errorf("input events %q lack what was typed to cat", in)
	}
	if strings.Contains(string(data), alicePass) {
		t.Error("the logon password is in the recording")
	}
}

// max_bytes, a full disk and a read-only directory stop (or prevent) the
// recording, with an audit record; the session goes on as before.
func TestRecordingStopsSessionGoesOn(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // the record section
		event string
	}{
		{"max_bytes", func(t *testing.T, dir string) string {
			return "record: {dir: " + dir + ", max_bytes: 8KiB}\n"
		}, "recording_stopped"},
		{"full disk", func(t *testing.T, dir string) string {
			mount(t, "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", dir)
			return "record: {dir: " + dir + "}\n"
		}, "recording_stopped"},
		{"read-only", func(t *testing.T, dir string) string {
			mount(t, "--bind", dir, dir)
			mount(t, "-o", "remount,bind,ro", dir)
			return "record: {dir: " + dir + "}\n"
		}, "recording_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sessions")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			d := startDaemon(t, daemonOpts{extraConfig: tc.setup(t, dir)})
			c := telnet(t, d, 80, 24)
			c.login("alice", alicePass)
			// About 70 KB of output: past 8 KiB and past the 32 KiB disk.
			if got := c.run("seq 1 13000 | tail -1"); got != "13000" {
				t.Fatalf("seq: %q", got)
			}
			c.send("seq 1 13000; echo SEQ$((6*7))DONE\r")
			c.expect(`12999\r\n13000\r\nSEQ42DONE`)
			waitFor(t, "the audit record "+tc.event, func() bool { return strings.Contains(auditLog(t, d), `"`+tc.event+`"`) })
			if got := c.run("echo still$((2+3))here"); got != "still5here" {
				t.Errorf("after the recording stopped: %q", got)
			}
			path := recordingOf(t, d)
			c.send("exit\r")
			c.waitExit()
			if tc.event == "recording_failed" {
				if path != "" {
					t.Errorf("recording listed as %q", path)
				}
				return
			}
			waitFor(t, "the session to end", func() bool { return strings.Contains(auditLog(t, d), `"session_end"`) })
			if fi, err := os.Stat(path); err != nil || (tc.name == "max_bytes" && fi.Size() > 8<<10) {
				t.Errorf("%s: %v, %v; want at most 8 KiB", path, fi.Size(), err)
			}
			if tc.name == "max_bytes" {
				if m := castEvents(t, path, "m"); !strings.Contains(m, "max_bytes") {
					t.Errorf("marker %q", m)
				}
			}
		})
	}
}

// mount runs mount(8) and unmounts at cleanup.
func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("mount %v: %v: %s", args, err, out)
	}
	target := args[len(args)-1]
	t.Cleanup(func() { exec.Command("umount", target).Run() })
}

// tmuxPane is a program running in a tmux window of its own server.
// It cannot be kept stopped: the tmux server sends SIGCONT to a pane's
// process group as soon as it sees the pane's process stop (by any
// signal but SIGTTIN and SIGTTOU).
type tmuxPane struct {
	t    *testing.T
	sock string
}

func startTmux(t *testing.T, cols, rows int, argv ...string) *tmuxPane {
	t.Helper()
	p := &tmuxPane{t: t, sock: fmt.Sprintf("tlntsvr-e2e-%d", time.Now().UnixNano())}
	args := append([]string{"-L", p.sock, "new-session", "-d", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows)}, argv...)
	cmd := exec.Command("tmux", args...)
	cmd.Env = append(os.Environ(), "TERM=xterm", "LANG=C.UTF-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	exec.Command("tmux", "-L", p.sock, "set-option", "-g", "remain-on-exit", "on").Run()
	t.Cleanup(func() { exec.Command("tmux", "-L", p.sock, "kill-server").Run() })
	return p
}

func (p *tmuxPane) screen() string {
	out, _ := exec.Command("tmux", "-L", p.sock, "capture-pane", "-p").CombinedOutput()
	return string(out)
}

func (p *tmuxPane) waitFor(what string) {
	p.t.Helper()
	deadline := time.Now().Add(expectTimeout)
	for !strings.Contains(p.screen(), what) {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %q in tmux; screen:\n%s", what, p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *tmuxPane) keys(keys ...string) {
	exec.Command("tmux", append([]string{"-L", p.sock, "send-keys"}, keys...)...).Run()
}

// tlntadmn shadow in a real terminal shows the screen as it was and then
// the output live, the user is told, Ctrl-] detaches (and the user is
// told again), and it is audited.
func TestShadowInTmux(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	c.run("echo BEFORE$((2*3))SHADOW")
	id := strconv.Itoa(d.sessions(t)[0].ID)

	admin := startTmux(t, 100, 30, tlntadmn, "--config", filepath.Join(d.dir, "tlntsvr.yaml"), "shadow", id)
	admin.waitFor("BEFORE6SHADOW") // the redraw
	c.expect(`root is viewing this session`)
	c.send("echo LIVE$((4+4))OUT\r")
	admin.waitFor("LIVE8OUT")
	admin.waitFor("root is viewing this session") // the watcher sees what the user sees

	// Typing in the watcher's terminal reaches nothing.
	admin.keys("echo TYPED$((1+1))BYWATCHER", "Enter")
	if got := c.run("echo ok$((5+5))"); got != "ok10" {
		t.Errorf("session after watcher typed: %q", got)
	}
	if strings.Contains(c.rest(), "TYPED2BYWATCHER") {
		t.Error("the watcher's keys reached the session")
	}

	admin.keys("C-]")
	admin.waitFor("Stopped watching session " + id)
	c.expect(`root stopped viewing this session`)
	log := auditLog(t, d)
	for _, ev := range []string{`"shadow_start"`, `"shadow_stop"`, `"reason":"detached"`, `"peer_user":"root"`} {
		if !strings.Contains(log, ev) {
			t.Errorf("audit log lacks %s", ev)
		}
	}

	// Watching to the end: the stream says the session ended.
	admin2 := startTmux(t, 100, 30, tlntadmn, "--config", filepath.Join(d.dir, "tlntsvr.yaml"), "shadow", id)
	admin2.waitFor("ok10")
	c.send("exit\r")
	c.waitExit()
	admin2.waitFor("the session ended")
}

// A watcher that stops reading (its tlntadmn stopped) does not slow the
// session, and its view is dropped: it never gets the rest of the output.
//
// The watcher runs on a PTY this test holds, not in tmux, which would
// resume it at once. Stopped, it takes nothing; the burst (2 MB) is far
// more than all that can hold it on the way: the hub's 256 KiB for the
// watcher, the HTTP writer's 4 KiB and the admin connection's socket
// buffer (net.core.wmem_default, 208 KiB; the daemon does not raise it).
// So the hub drops the view mid-burst, and the stream's blocked write
// ends at its deadline (shadowWriteTimeout, 10 s), well within waitFor's.
func TestShadowStoppedWatcherDoesNotSlowSession(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, daemonOpts{extraConfig: "shadow_notice: false\n"})
	c := telnet(t, d, 80, 24)
	c.login("alice", alicePass)
	id := strconv.Itoa(d.sessions(t)[0].ID)
	// Each burst ends with its own marker: the first one's is in the
	// watcher's redraw.
	timeBurst := func(tag string) time.Duration {
		start := time.Now()
		c.send("seq 1 400000 | tail -c 2000000; echo BURST$((7*6))" + tag + "\r")
		c.expect(`399999\r\n400000\r\nBURST42` + tag)
		return time.Since(start)
	}
	alone := timeBurst("ALONE")

	watcher := startClient(t, "xterm", 100, 30, tlntadmn, "--config", filepath.Join(d.dir, "tlntsvr.yaml"), "shadow", id)
	watcher.expect(`Watching session ` + id) // printed once the stream is open
	waitFor(t, "the watcher to be audited", func() bool { return strings.Contains(auditLog(t, d), `"shadow_start"`) })
	pid := watcher.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	waitFor(t, "the watcher to stop", func() bool { return processState(pid) == "T" })

	watched := timeBurst("WATCHED")
	t.Logf("burst alone %v, with a stopped watcher %v", alone, watched)
	if watched > 3*alone+2*time.Second {
		t.Errorf("a stopped watcher slowed the session: %v, alone %v", watched, alone)
	}
	waitFor(t, "the stopped watcher to be dropped", func() bool {
		return strings.Contains(auditLog(t, d), `"shadow_stop"`)
	})
	if state := processState(pid); state != "T" {
		t.Fatalf("the watcher ran again before it was dropped (state %q): the test proves nothing", state)
	}
	if log := auditLog(t, d); !strings.Contains(log, "fell behind") && !strings.Contains(log, "writing to the watcher failed") {
		t.Errorf("shadow_stop does not say the view was dropped:\n%s", log)
	}

	// Resumed, it reads what was on its way and finds the stream closed.
	syscall.Kill(pid, syscall.SIGCONT)
	out := watcher.waitExit()
	if strings.Contains(out, "BURST42WATCHED") {
		t.Error("the dropped watcher got the whole burst")
	}
	// Its closing line could not be written (nothing was read for 10 s),
	// so tlntadmn says why the stream broke off.
	if !strings.Contains(out, "fell behind") && !strings.Contains(out, "a view that takes no output for 10 seconds is dropped") {
		t.Errorf("the dropped watcher was not told why:\n%s", out)
	}
	if strings.Contains(c.rest(), "viewing") {
		t.Error("the user was told with shadow_notice: false")
	}
}

// processState is the state letter of /proc/PID/stat ("T" when stopped),
// or "" when the process is gone.
func processState(pid int) string {
	if _, f := procStat(strconv.Itoa(pid)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// procStat reads /proc/PID/stat: the command name, in parentheses, and the
// fields after it (state, ppid, ...); nothing when the process is gone.
func procStat(pid string) (comm string, fields []string) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", nil
	}
	// The command name may hold spaces and parentheses: it ends at the
	// last ')'.
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return "", nil
	}
	return s[i : j+1], strings.Fields(s[j+1:])
}
