package session

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// leakMarks are what a Go crash or an incubator's error prints; none of it
// may reach the client.
var leakMarks = []string{"SIGQUIT", "goroutine", "PC=", "cannot start the session", "exec /"}

// startFailing starts a session that is to fail before its shell runs
// and returns what the client received and what the daemon logged.
func startFailing(t *testing.T, spec Spec) (client, logged string) {
	t.Helper()
	var logBuf testutil.LockedBuffer
	spec.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	if spec.Account.Name == "" {
		spec.Account = self(t)
	}
	conn, p := connPair(t)
	s, err := Start(conn, spec)
	if err != nil {
		// What the server does with it: the one line.
		conn.Write([]byte(CannotStartMessage + "\r\n"))
		conn.Close()
		t.Logf("Start: %v", err)
	} else {
		waitReason(t, runAsync(s, context.Background(), nil))
	}
	<-p.eof
	return p.output(), logBuf.String()
}

func checkNoLeak(t *testing.T, client string) {
	t.Helper()
	for _, m := range leakMarks {
		if strings.Contains(client, m) {
			t.Errorf("the client got the incubator's %q:\n%q", m, client)
		}
	}
	if strings.TrimSpace(client) != CannotStartMessage {
		t.Errorf("the client got %q, want the one line %q", client, CannotStartMessage)
	}
}

// A Go runtime crash in the incubator (here SIGQUIT, which makes the
// runtime print registers and every goroutine's stack, as a failed thread
// start does) goes to the daemon's log; the client gets one line.
func TestIncubatorCrashGoesToLogOnly(t *testing.T) {
	testHookIncubatorStarted = func(pid int) {
		// Once the runtime has its handlers in place, SIGQUIT makes it
		// dump its stacks rather than just die.
		for deadline := time.Now().Add(10 * time.Second); !catches(pid, syscall.SIGQUIT); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the incubator never caught SIGQUIT")
				return
			}
		}
		syscall.Kill(pid, syscall.SIGQUIT)
	}
	defer func() { testHookIncubatorStarted = nil }()
	client, logged := startFailing(t, Spec{Shell: "/bin/sh"})
	checkNoLeak(t, client)
	if !strings.Contains(logged, "SIGQUIT") || !strings.Contains(logged, "goroutine") {
		t.Errorf("the crash is not in the daemon's log:\n%s", logged)
	}
}

// A shell that cannot be exec'd (after the login script's turn) ends the
// session with the same one line; the error is logged.
func TestIncubatorExecFailureGoesToLogOnly(t *testing.T) {
	client, logged := startFailing(t, Spec{Shell: "/nonexistent/shell"})
	checkNoLeak(t, client)
	if !strings.Contains(logged, "exec /nonexistent/shell") {
		t.Errorf("the exec error is not in the daemon's log:\n%s", logged)
	}
}

// catches reports whether process pid has a handler for sig.
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if mask, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
			return err == nil && v&(1<<(sig-1)) != 0
		}
	}
	return false
}
