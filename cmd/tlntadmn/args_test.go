package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// runRoot runs tlntadmn with args against a fake daemon and returns the
// output, the requests the daemon got and the error.
func runRoot(t *testing.T, args ...string) (string, []string, error) {
	t.Helper()
	fd := startFakeDaemon(t)
	f, out := testFactory(t)
	err := execute(NewCmdRoot(f), append([]string{"--socket", fd.socket}, args...)...)
	return out.String(), fd.requests(), err
}

// Windows' "tlntadmn -s ID" (a space, not "=") lists that session.
func TestWindowsSessionsTarget(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{args: []string{"-s", "7"}, wantOut: "4242"},
		{args: []string{"-s", "all"}, wantOut: "4242"},
		{args: []string{"-s=7"}, wantOut: "4242"},
		{args: []string{"-s", "7", "--json"}, wantOut: `"pid": 4242`},
		{args: []string{"-s", "8"}, wantErr: "no session 8"},
		{args: []string{"-s", "x"}, wantErr: "want a session ID"},
		{args: []string{"-s", "7", "8"}, wantErr: "-s takes at most one session ID or all; got 2 arguments"},
		{args: []string{"-s=7", "8"}, wantErr: "-s takes at most one session ID or all; got 2 arguments"},
	} {
		out, _, err := runRoot(t, tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !strings.Contains(out, tc.wantOut) {
			t.Errorf("%v: output %q lacks %q", tc.args, out, tc.wantOut)
		}
	}
}

// -s, -k and -m name different actions: given together, nothing is done.
func TestWindowsFlagsRefusedTogether(t *testing.T) {
	for _, args := range [][]string{
		{"-k", "1", "-s"},
		{"-s", "-k", "1"},
		{"-s", "-m", "all", "hi"},
		{"-k", "1", "-m", "all", "hi"},
		{"-k", "", "-s"},
	} {
		_, reqs, err := runRoot(t, args...)
		if err == nil || !strings.Contains(err.Error(), "cannot be combined") {
			t.Errorf("%q: err = %v, want cannot be combined", args, err)
		}
		if len(reqs) > 0 {
			t.Errorf("%q: daemon got %q", args, reqs)
		}
	}
	// An empty -k value is a bad session ID, not "no -k" (which printed
	// the settings).
	if _, reqs, err := runRoot(t, "-k", ""); err == nil || len(reqs) > 0 {
		t.Errorf(`-k "": err = %v, requests %q; want an error and no request`, err, reqs)
	}
}

// user and group with no subcommand, or one they do not have, fail.
func TestUnknownUserGroupCommand(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"user", "bogus"}, `unknown user command "bogus"; want add, del, list or passwd`},
		{[]string{"user", "bogus", "x"}, `unknown user command "bogus"; want add, del, list or passwd`},
		{[]string{"user"}, `user needs a command: add, del, list or passwd`},
		{[]string{"group", "bogus", "x"}, `unknown group command "bogus"; want add, del or list`},
		{[]string{"group"}, `group needs a command: add, del or list`},
	} {
		_, reqs, err := runRoot(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.wantErr)
		}
		if len(reqs) > 0 {
			t.Errorf("%q: daemon got %q", tc.args, reqs)
		}
	}
	// Help is still help.
	if _, _, err := runRoot(t, "user", "--help"); err != nil {
		t.Errorf("user --help: %v", err)
	}
}

// Message text may start with '-'; "--" before it still works.
func TestMessageTextWithDash(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantText string
	}{
		{[]string{"all", "-5 min to reboot"}, "-5 min to reboot"},
		{[]string{"all", "-5", "min"}, "-5 min"},
		{[]string{"3", "--help", "me"}, "--help me"},
		{[]string{"all", "--", "-5 min"}, "-5 min"},
		{[]string{"--", "all", "-5 min"}, "-5 min"},
		{[]string{"all", "--", "--"}, "--"},
		{[]string{"all", "hi", "--", "there"}, "hi -- there"},
	} {
		f, _ := testFactory(t)
		var got *MessageOptions
		if err := execute(NewCmdMessage(f, func(o *MessageOptions) error { got = o; return nil }), tc.args...); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got == nil || got.Text != tc.wantText {
			t.Errorf("%q: options %+v, want text %q", tc.args, got, tc.wantText)
		}
	}
	f, _ := testFactory(t)
	if err := execute(NewCmdMessage(f, func(*MessageOptions) error { return nil }), "all", "--"); err == nil {
		t.Error(`message all -- accepted`)
	}
	// Through the whole command tree, to the daemon.
	_, reqs, err := runRoot(t, "message", "all", "-5 min to reboot")
	want := `POST /v1/sessions/message {"target":"all","text":"-5 min to reboot"}`
	if err != nil || !strings.Contains(strings.Join(reqs, "\n"), want) {
		t.Errorf("message all -5...: %v, requests %q; want %q", err, reqs, want)
	}
}

// A wrong number of arguments is refused saying what the command takes.
func TestArgCountErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"sessions", "1", "2"}, "sessions takes at most one session ID or all; got 2 arguments"},
		{[]string{"kill"}, "kill takes one session ID or all; got no arguments"},
		{[]string{"kill", "1", "2"}, "kill takes one session ID or all; got 2 arguments"},
		{[]string{"message"}, "message takes a session ID or all, then the text; got no arguments"},
		{[]string{"message", "all"}, "message takes a session ID or all, then the text; got 1 argument"},
		{[]string{"pause", "now"}, "pause takes no arguments; got 1 argument"},
		{[]string{"continue", "now"}, "continue takes no arguments; got 1 argument"},
		{[]string{"start", "now"}, "start takes no arguments; got 1 argument"},
		{[]string{"stop", "now"}, "stop takes no arguments; got 1 argument"},
		{[]string{"reload", "now"}, "reload takes no arguments; got 1 argument"},
		{[]string{"user", "add"}, "user add takes one user name; got no arguments"},
		{[]string{"user", "del", "a", "b"}, "user del takes one user name; got 2 arguments"},
		{[]string{"user", "passwd"}, "user passwd takes one user name; got no arguments"},
		{[]string{"user", "list", "a"}, "user list takes no arguments; got 1 argument"},
		{[]string{"group", "add"}, "group add takes a group name, then any user names; got no arguments"},
		{[]string{"group", "del"}, "group del takes a group name, then any user names; got no arguments"},
		{[]string{"group", "list", "a"}, "group list takes no arguments; got 1 argument"},
		{[]string{"-k", "1", "2"}, "-k takes one session ID or all; got 2 arguments"},
		{[]string{"-m", "all"}, "-m takes a session ID or all, then the text; got 1 argument"},
	} {
		_, reqs, err := runRoot(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.wantErr)
		}
		if len(reqs) > 0 {
			t.Errorf("%q: daemon got %q", tc.args, reqs)
		}
	}
}

// Every command checks its arguments, and says what it takes when they are
// wrong (cobra's own "accepts 1 arg(s), received 0" says neither).
func TestEveryCommandSaysWhatItTakes(t *testing.T) {
	f, _ := testFactory(t)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Args == nil {
			t.Errorf("%s: no argument check", c.CommandPath())
			return
		}
		name := strings.TrimPrefix(c.CommandPath(), "tlntadmn ")
		want := regexp.MustCompile("^" + regexp.QuoteMeta(name) + ` takes [^;]+; got (no arguments|1 argument|\d+ arguments)$`)
		for n := range 4 {
			args := strings.Fields(strings.Repeat("1 ", n))
			if err := c.Args(c, args); err != nil && !want.MatchString(err.Error()) {
				t.Errorf("%s with %d arguments: %q does not say what it takes", c.CommandPath(), n, err)
			}
		}
	}
	walk(NewCmdRoot(f))
}

// A message longer than admin.MaxMessageBytes is refused before the daemon is
// asked; so is a kill --message.
func TestMessageSizeCap(t *testing.T) {
	long := strings.Repeat("x", admin.MaxMessageBytes+1)
	longUTF8 := strings.Repeat("é", admin.MaxMessageBytes/2) + "x" // 4097 bytes, 2049 characters
	for _, args := range [][]string{
		{"message", "all", long},
		{"message", "all", longUTF8},
		{"message", "all", long[:admin.MaxMessageBytes/2], long[:admin.MaxMessageBytes/2]}, // joined with a space
		{"-m", "7", long},
		{"kill", "7", "--message", long},
	} {
		_, reqs, err := runRoot(t, args...)
		if err == nil || !strings.Contains(err.Error(), "the limit is 4096 bytes") {
			t.Errorf("%.40q: err = %v, want the limit named", args, err)
		}
		if len(reqs) > 0 {
			t.Errorf("%.40q: daemon got a request", args)
		}
	}
	for _, args := range [][]string{
		{"message", "all", long[:admin.MaxMessageBytes]},
		{"kill", "7", "--message", long[:admin.MaxMessageBytes]},
	} {
		if _, reqs, err := runRoot(t, args...); err != nil || len(reqs) != 1 {
			t.Errorf("%.40q: %v, %d requests; want it sent", args, err, len(reqs))
		}
	}
}
