package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

func testFactory(t *testing.T) (*Factory, *bytes.Buffer) {
	out := &bytes.Buffer{}
	return &Factory{
		In: strings.NewReader(""), Out: out, ErrOut: io.Discard,
		Now:          func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
		Systemctl:    func(...string) error { t.Fatal("systemctl called"); return nil },
		ReadPassword: func(string) (string, error) { t.Fatal("password prompt"); return "", nil },
	}, out
}

// execute runs cmd with args as main does.
func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(windowsMessageArgs(args))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}

// Parsing is tested apart from running: runF captures the options.
func TestParseSessions(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    SessionsOptions
		wantErr string
	}{
		{args: nil, want: SessionsOptions{Target: "all"}},
		{args: []string{"3", "--json"}, want: SessionsOptions{Target: "3", JSON: true}},
		{args: []string{"x"}, wantErr: "want a session ID"},
		{args: []string{"0"}, wantErr: "want a session ID"},
		{args: []string{"1", "2"}, wantErr: "sessions takes at most one session ID or all; got 2 arguments"},
	} {
		f, _ := testFactory(t)
		var got *SessionsOptions
		err := execute(NewCmdSessions(f, func(o *SessionsOptions) error { got = o; return nil }), tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got.Target != tc.want.Target || got.JSON != tc.want.JSON {
			t.Errorf("%v: got %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

func TestParseMessageAndKill(t *testing.T) {
	f, _ := testFactory(t)
	var m *MessageOptions
	if err := execute(NewCmdMessage(f, func(o *MessageOptions) error { m = o; return nil }), "4", "hello", "world"); err != nil {
		t.Fatal(err)
	}
	if m.Target != "4" || m.Text != "hello world" {
		t.Errorf("message options %+v", *m)
	}
	for _, args := range [][]string{{"all"}, {"x", "hi"}, {}} {
		if err := execute(NewCmdMessage(f, func(*MessageOptions) error { return nil }), args...); err == nil {
			t.Errorf("message %v accepted", args)
		}
	}
	var k *KillOptions
	if err := execute(NewCmdKill(f, func(o *KillOptions) error { k = o; return nil }), "all", "--message", "bye"); err != nil {
		t.Fatal(err)
	}
	if k.Target != "all" || k.Message != "bye" {
		t.Errorf("kill options %+v", *k)
	}
	if err := execute(NewCmdKill(f, func(*KillOptions) error { return nil }), "1", "2"); err == nil {
		t.Error("kill 1 2 accepted")
	}
}

func TestParseConfig(t *testing.T) {
	f, _ := testFactory(t)
	var c *ConfigOptions
	if err := execute(NewCmdConfig(f, func(o *ConfigOptions) error { c = o; return nil }), "MaxConn=3", "banner=a=b"); err != nil {
		t.Fatal(err)
	}
	want := []admin.Setting{{Key: "maxconn", Value: "3"}, {Key: "banner", Value: "a=b"}}
	if !reflect.DeepEqual(c.Changes, want) {
		t.Errorf("changes = %+v, want %+v", c.Changes, want)
	}
	if err := execute(NewCmdConfig(f, func(*ConfigOptions) error { return nil }), "maxconn"); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("config maxconn: err = %v", err)
	}
}

func TestParseUser(t *testing.T) {
	f, _ := testFactory(t)
	var u *UserOptions
	if err := execute(NewCmdUserAdd(f, func(o *UserOptions) error { u = o; return nil }), "alice", "--os-account", "al", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.OSAccount != "al" || !u.PasswordStdin || u.Action != "add" {
		t.Errorf("user add options %+v", *u)
	}
	for _, args := range [][]string{{"../etc"}, {"a b"}, {"--", "-f"}, {}} {
		if err := execute(NewCmdUserAdd(f, func(*UserOptions) error { return nil }), args...); err == nil {
			t.Errorf("user add %q accepted", args)
		}
	}
}

func TestTranslateWindows(t *testing.T) {
	cur := []admin.Setting{{Key: "listen", Value: `["127.0.0.1:23", "[::1]:23"]`}, {Key: "idle_timeout", Value: "0s"}}
	for _, tc := range []struct {
		in      admin.Setting
		want    []admin.Setting
		wantErr string
	}{
		{in: admin.Setting{Key: "timeout", Value: "01:30:00"}, want: []admin.Setting{{Key: "idle_timeout", Value: "1h30m"}}},
		{in: admin.Setting{Key: "timeout", Value: "00:00:45"}, want: []admin.Setting{{Key: "idle_timeout", Value: "45s"}}},
		{in: admin.Setting{Key: "timeout", Value: "1:70:00"}, wantErr: "hh:mm:ss"},
		{in: admin.Setting{Key: "timeoutactive", Value: "no"}, want: []admin.Setting{{Key: "idle_timeout", Value: "0"}}},
		{in: admin.Setting{Key: "timeoutactive", Value: "yes"}, want: []admin.Setting{{Key: "idle_timeout", Value: "1h"}}},
		{in: admin.Setting{Key: "timeoutactive", Value: "maybe"}, wantErr: "yes or no"},
		{in: admin.Setting{Key: "maxfail", Value: "5"}, want: []admin.Setting{{Key: "max_failed_logons", Value: "5"}}},
		{in: admin.Setting{Key: "maxconn", Value: "9"}, want: []admin.Setting{{Key: "max_connections", Value: "9"}}},
		{in: admin.Setting{Key: "mode", Value: "Stream"}, want: []admin.Setting{{Key: "mode", Value: "stream"}}},
		{in: admin.Setting{Key: "port", Value: "2323"}, want: []admin.Setting{{Key: "listen", Value: `["127.0.0.1:2323", "[::1]:2323"]`}}},
		{in: admin.Setting{Key: "port", Value: "70000"}, wantErr: "1-65535"},
		{in: admin.Setting{Key: "ctrlakeymap", Value: "yes"}, wantErr: "no tlntsvr equivalent"},
		{in: admin.Setting{Key: "banner", Value: "hi"}, want: []admin.Setting{{Key: "banner", Value: "hi"}}},
	} {
		got, err := translateWindows([]admin.Setting{tc.in}, cur)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// timeoutactive=yes changes nothing when the timeout is on, in force or
// set earlier on the same command line.
func TestTranslateTimeoutActiveWhenOn(t *testing.T) {
	on := []admin.Setting{{Key: "idle_timeout", Value: "1h"}}
	if got, err := translateWindows([]admin.Setting{{Key: "timeoutactive", Value: "yes"}}, on); err != nil || len(got) != 0 {
		t.Errorf("timeoutactive=yes with the timeout on: %v, %v; want no change", got, err)
	}
	off := []admin.Setting{{Key: "idle_timeout", Value: "0s"}}
	got, err := translateWindows([]admin.Setting{{Key: "timeout", Value: "00:30:00"}, {Key: "timeoutactive", Value: "yes"}}, off)
	want := []admin.Setting{{Key: "idle_timeout", Value: "30m"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("timeout=00:30:00 timeoutactive=yes: %v, %v; want %v", got, err, want)
	}
}

// fakeDaemon serves the admin API on a Unix socket and records requests.
type fakeDaemon struct {
	socket string
	mu     sync.Mutex
	reqs   []string // "METHOD PATH BODY"
}

func startFakeDaemon(t *testing.T) *fakeDaemon {
	fd := &fakeDaemon{socket: filepath.Join(t.TempDir(), "admin.sock")}
	ln, err := net.Listen("unix", fd.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fd.mu.Lock()
		fd.reqs = append(fd.reqs, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
		fd.mu.Unlock()
		var v any = struct{}{}
		switch r.URL.Path {
		case admin.PathSessions:
			v = []admin.Session{{ID: 7, User: "alice", OSAccount: "alice", Remote: "127.0.0.1:5555", Term: "xterm",
				Cols: 80, Rows: 24, PID: 4242, LogonTime: time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC),
				LastActivity: time.Date(2026, 1, 1, 11, 58, 30, 0, time.UTC)}}
		case admin.PathMessage, admin.PathKill:
			v = admin.CountResponse{Count: 1}
		case admin.PathStatus:
			v = admin.Status{Sessions: 1}
		case admin.PathConfig:
			v = admin.ConfigResponse{Path: "/etc/tlntsvr/tlntsvr.yaml", Settings: []admin.Setting{{Key: "max_connections", Value: "64"}, {Key: "idle_timeout", Value: "1h"}}}
			if r.Method == http.MethodPost { // as the daemon answers: admin_socket waits for a restart
				var req admin.ConfigChangeRequest
				json.Unmarshal(body, &req)
				resp := admin.ConfigChangeResponse{Path: "/etc/tlntsvr/tlntsvr.yaml"}
				for _, c := range req.Changes {
					if c.Key == "admin_socket" {
						resp.RestartNeeded = append(resp.RestartNeeded, c.Key)
					} else {
						resp.Applied = append(resp.Applied, c.Key)
					}
				}
				v = resp
			}
		}
		json.NewEncoder(w).Encode(v)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fd
}

func (fd *fakeDaemon) requests() []string {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return append([]string(nil), fd.reqs...)
}

// The Windows spellings reach the same API calls as the commands.
func TestWindowsSpellings(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantReq string
		wantOut string
	}{
		{[]string{"-s"}, "GET /v1/sessions ", "00:01:30"},
		{[]string{"sessions"}, "GET /v1/sessions ", "4242"},
		{[]string{"-k", "7"}, `POST /v1/sessions/kill {"target":"7"}`, "Ended 1 session"},
		{[]string{"kill", "7"}, `POST /v1/sessions/kill {"target":"7"}`, "Ended 1 session"},
		{[]string{"-m", "all", "hi", "there"}, `POST /v1/sessions/message {"target":"all","text":"hi there"}`, "Message sent"},
		{[]string{"message", "all", "hi there"}, `POST /v1/sessions/message {"target":"all","text":"hi there"}`, "Message sent"},
		// Windows' text may start with '-': it is text, not flags.
		{[]string{"-m", "all", "-5 min", "--json"}, `POST /v1/sessions/message {"target":"all","text":"-5 min --json"}`, "Message sent"},
		{[]string{"-m=7", "-x"}, `POST /v1/sessions/message {"target":"7","text":"-x"}`, "Message sent"},
		{[]string{"-m", "all", "--", "-5 min"}, `POST /v1/sessions/message {"target":"all","text":"-5 min"}`, "Message sent"},
		{nil, "GET /v1/config ", "The following are the settings on localhost"},
		{[]string{"pause"}, "POST /v1/pause ", "Paused"},
	} {
		fd := startFakeDaemon(t)
		f, out := testFactory(t)
		if err := execute(NewCmdRoot(f), append([]string{"--socket", fd.socket}, tc.args...)...); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		reqs := fd.requests()
		if !strings.Contains(strings.Join(reqs, "\n"), tc.wantReq) {
			t.Errorf("%v: requests %q, want %q", tc.args, reqs, tc.wantReq)
		}
		if !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("%v: output %q lacks %q", tc.args, out, tc.wantOut)
		}
	}
}

func TestNotRunning(t *testing.T) {
	f, _ := testFactory(t)
	err := execute(NewCmdRoot(f), "--socket", filepath.Join(t.TempDir(), "none.sock"), "sessions")
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("err = %v, want not running", err)
	}
}

// user add, list, passwd and del edit the files; no daemon is needed.
func TestUserFilesOffline(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlntsvr.yaml")
	os.WriteFile(cfg, []byte("users_file: users\ngroups_file: groups\nadmin_socket: "+dir+"/none.sock\n"), 0o600)
	run := func(stdin string, args ...string) string {
		t.Helper()
		f, out := testFactory(t)
		f.In = strings.NewReader(stdin)
		if err := execute(NewCmdRoot(f), append([]string{"--config", cfg}, args...)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	run("pw1\n", "user", "add", "alice", "--password-stdin")
	run("pw2\n", "user", "passwd", "alice", "--password-stdin")
	run("", "group", "add", "administrators", "alice")
	out := run("", "user", "list")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "administrators,telnet-clients") && !strings.Contains(out, "telnet-clients,administrators") {
		t.Errorf("user list:\n%s", out)
	}
	users, _ := os.ReadFile(filepath.Join(dir, "users"))
	if !strings.HasPrefix(string(users), "alice:$2y$10$") {
		t.Errorf("users file: %q", users)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "users")); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", fi.Mode().Perm())
	}
	run("", "user", "del", "alice")
	if out := run("", "group", "list"); strings.Contains(out, "alice") {
		t.Errorf("alice still in a group:\n%s", out)
	}
}

// user add --os-account root says that the daemon refuses the user's
// logons unless allow_root is true, and what allowing it means.
func TestUserAddRootSaysSo(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlntsvr.yaml")
	for i, tc := range []struct{ config, want string }{
		{"", "refuses this user's logons unless the config sets allow_root: true"},
		{"allow_root: true\n", "logs on as root"},
	} {
		os.WriteFile(cfg, []byte("users_file: users\ngroups_file: groups\nadmin_socket: "+dir+"/none.sock\n"+tc.config), 0o600)
		f, out := testFactory(t)
		f.In = strings.NewReader("pw\n")
		name := fmt.Sprintf("admin%d", i)
		if err := execute(NewCmdRoot(f), "--config", cfg, "user", "add", name, "--os-account", "root", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: user add said %q, want %q", tc.config, out, tc.want)
		}
		f, out = testFactory(t)
		f.In = strings.NewReader("pw\n")
		if err := execute(NewCmdRoot(f), "--config", cfg, "user", "add", "plain"+name, "--os-account", "nobody", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "root") {
			t.Errorf("user add of a user who is not root said %q", out)
		}
	}
}

// Edits made at the same time all land: each takes the edit lock, so none
// reads the file before another has written its change back.
func TestConcurrentEditsAllLand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlntsvr.yaml")
	os.WriteFile(cfg, []byte("users_file: users\ngroups_file: groups\nadmin_socket: "+dir+"/none.sock\n"), 0o600)
	const n = 6
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			f, _ := testFactory(t)
			f.In = strings.NewReader("pw\n")
			errs <- execute(NewCmdRoot(f), "--config", cfg, "user", "add", fmt.Sprintf("user%d", i), "--password-stdin")
		}()
		go func() {
			defer wg.Done()
			f, _ := testFactory(t)
			errs <- execute(NewCmdRoot(f), "--config", cfg, "group", "add", fmt.Sprintf("group%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	users, _ := os.ReadFile(filepath.Join(dir, "users"))
	groups, _ := os.ReadFile(filepath.Join(dir, "groups"))
	for i := range n {
		if !strings.Contains(string(users), fmt.Sprintf("user%d:", i)) {
			t.Errorf("user%d lost from the users file:\n%s", i, users)
		}
		if !strings.Contains(string(groups), fmt.Sprintf("group%d:", i)) {
			t.Errorf("group%d lost from the groups file:\n%s", i, groups)
		}
		if !strings.Contains(string(groups), fmt.Sprintf(" user%d", i)) {
			t.Errorf("user%d lost from telnet-clients:\n%s", i, groups)
		}
	}
}

// Listing needs no edit lock, so it works while an edit is under way.
func TestListWhileEditing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlntsvr.yaml")
	os.WriteFile(cfg, []byte("users_file: users\ngroups_file: groups\nadmin_socket: "+dir+"/none.sock\n"), 0o600)
	unlock, err := lockForEdit(filepath.Join(dir, "users"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, args := range [][]string{{"user", "list"}, {"group", "list"}} {
		f, _ := testFactory(t)
		done := make(chan error, 1)
		go func() { done <- execute(NewCmdRoot(f), append([]string{"--config", cfg}, args...)...) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: %v", args, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v waited for the edit lock", args)
		}
	}
}

// With tlntsvr stopped, a change it could not start with (users file
// missing, no such group) is refused and the file left as it was, as the
// running daemon refuses it; a good change is written.
func TestConfigOfflineCheckedBeforeWrite(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"users": "", "groups": "telnet-clients:\nadministrators:\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "tlntsvr.yaml")
	orig := "users_file: users\ngroups_file: groups\nadmin_socket: " + filepath.Join(dir, "admin.sock") + "\n"
	if err := os.WriteFile(cfgPath, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.sock")
	for _, tc := range []struct{ change, want string }{
		{"users_file=absent-users", "absent-users"},
		{"admin_os_group=tlntsvr-no-such-group", "admin_os_group: \"tlntsvr-no-such-group\" is not a group of this host"},
	} {
		f, _ := testFactory(t)
		err := execute(NewCmdRoot(f), "--config", cfgPath, "--socket", none, "config", tc.change)
		if err == nil || !strings.Contains(err.Error(), "not changed") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %s with tlntsvr stopped: %v; want not changed, naming %q", tc.change, err, tc.want)
		}
		if got, _ := os.ReadFile(cfgPath); string(got) != orig {
			t.Errorf("config %s with tlntsvr stopped changed the file:\n%s", tc.change, got)
		}
	}
	f, out := testFactory(t)
	if err := execute(NewCmdRoot(f), "--config", cfgPath, "--socket", none, "config", "maxconn=5"); err != nil {
		t.Fatalf("config maxconn=5 with tlntsvr stopped: %v", err)
	}
	if got, _ := os.ReadFile(cfgPath); !strings.Contains(string(got), "max_connections: 5") || !strings.Contains(out.String(), "tlntsvr is not running: written") {
		t.Errorf("config maxconn=5 with tlntsvr stopped: output %q, file:\n%s", out, got)
	}
}

// After admin_socket is changed, tlntadmn (which finds the daemon by the
// file) says where the daemon still listens until it restarts.
func TestConfigAdminSocketSaysWhereUntilRestart(t *testing.T) {
	fd := startFakeDaemon(t)
	cfgPath := filepath.Join(t.TempDir(), "tlntsvr.yaml")
	if err := os.WriteFile(cfgPath, []byte("admin_socket: "+fd.socket+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, out := testFactory(t)
	if err := execute(NewCmdRoot(f), "--config", cfgPath, "config", "admin_socket=/run/other/admin.sock"); err != nil {
		t.Fatal(err)
	}
	if want := "reach it with tlntadmn --socket " + fd.socket; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out, want)
	}
	f, out = testFactory(t)
	if err := execute(NewCmdRoot(f), "--config", cfgPath, "config", "maxconn=5"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "--socket") {
		t.Errorf("a change of another key mentions --socket: %q", out)
	}
}
