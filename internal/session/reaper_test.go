package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// exitReport collects what watchExit reports for one child.
type exitReport struct {
	pid    int
	calls  atomic.Int32
	status error
	done   chan struct{}
}

func newExitReport() *exitReport { return &exitReport{done: make(chan struct{})} }

// report is the done callback: the first call records the status, any
// later one is counted so that the test can fail on it.
func (r *exitReport) report(status error) {
	if r.calls.Add(1) == 1 {
		r.status = status
		close(r.done)
	}
}

func (r *exitReport) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.status
	case <-time.After(30 * time.Second):
		t.Fatalf("pid %d: never reported", r.pid)
		return nil
	}
}

// startChild starts argv and hands it to watchExit. The caller must see
// the child reported (or kill it by PID), as nothing else reaps it.
func startChild(t *testing.T, argv ...string) *exitReport {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := newExitReport()
	r.pid = cmd.Process.Pid
	watchExit(cmd, r.report)
	return r
}

func statusString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// checkReaped fails unless the shared reaper has let go of every pid:
// nothing left registered, so its pidfd was closed.
func checkReaped(t *testing.T, pids map[int]bool) {
	t.Helper()
	r, err := sharedReaper()
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.waiters {
		if pids[w.pid] {
			t.Errorf("pid %d reported but still registered", w.pid)
		}
	}
}

func TestReaperReportsEachChildOnce(t *testing.T) {
	const n = 200
	want := make([]string, n)
	reports := make([]*exitReport, n)
	var wg sync.WaitGroup
	for i := range n {
		var argv []string
		switch i % 4 {
		case 0:
			argv = []string{"sh", "-c", fmt.Sprintf("exit %d", i%7)}
			want[i] = "<nil>"
			if i%7 != 0 {
				want[i] = fmt.Sprintf("exit status %d", i%7)
			}
		case 1:
			argv = []string{"sleep", fmt.Sprintf("0.0%d", i%10)}
			want[i] = "<nil>"
		case 2:
			argv = []string{"sh", "-c", "kill -KILL $$"}
			want[i] = "signal: killed"
		case 3:
			argv = []string{"sh", "-c", "sleep 0.05; exit 200"}
			want[i] = "exit status 200"
		}
		wg.Go(func() { reports[i] = startChild(t, argv...) })
	}
	wg.Wait()
	pids := make(map[int]bool)
	for i, r := range reports {
		if got := statusString(r.wait(t)); got != want[i] {
			t.Errorf("child %d (pid %d): status %q, want %q", i, r.pid, got, want[i])
		}
		pids[r.pid] = true
	}
	// A second report would come from the same drain or soon after.
	time.Sleep(100 * time.Millisecond)
	for i, r := range reports {
		if c := r.calls.Load(); c != 1 {
			t.Errorf("child %d (pid %d): reported %d times", i, r.pid, c)
		}
	}
	checkReaped(t, pids)
}

// zombie waits until pid has exited and is not yet reaped.
func zombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i:]), ") Z") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}

func TestReaperReapsChildThatExitedBeforeRegistration(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"true"}, "<nil>"},
		{[]string{"sh", "-c", "exit 7"}, "exit status 7"},
		{[]string{"sh", "-c", "kill -TERM $$"}, "signal: terminated"},
	} {
		cmd := exec.Command(tc.argv[0], tc.argv[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		zombie(t, cmd.Process.Pid)
		r := newExitReport()
		r.pid = cmd.Process.Pid
		watchExit(cmd, r.report)
		if got := statusString(r.wait(t)); got != tc.want {
			t.Errorf("%q: status %q, want %q", tc.argv, got, tc.want)
		}
		checkReaped(t, map[int]bool{r.pid: true})
	}
}

func TestReaperFallbackReports(t *testing.T) {
	var refused atomic.Int32
	testHookReaperAdd = func(int) error {
		refused.Add(1)
		return errors.New("refused by test")
	}
	defer func() { testHookReaperAdd = nil }()
	exit := startChild(t, "sh", "-c", "sleep 0.05; exit 3")
	killed := startChild(t, "sh", "-c", "kill -KILL $$")
	if got := statusString(exit.wait(t)); got != "exit status 3" {
		t.Errorf("status %q, want exit status 3", got)
	}
	if got := statusString(killed.wait(t)); got != "signal: killed" {
		t.Errorf("status %q, want signal: killed", got)
	}
	if n := refused.Load(); n != 2 {
		t.Errorf("reaper asked %d times, want 2", n)
	}
}

// When epoll_wait fails, what the reaper holds and what comes after go to
// the fallback: reported all the same.
func TestReaperFailHandsOverWaiters(t *testing.T) {
	r, err := newReaper() // not run: fail is called by hand
	if err != nil {
		t.Fatal(err)
	}
	defer r.epf.Close()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		t.Skip("no pidfd_open:", err)
	}
	cmd.Process.Release()
	rep := newExitReport()
	rep.pid = pid
	if err := r.add(&exitWaiter{pid: pid, pidfd: fd, done: rep.report}); err != nil {
		t.Fatal(err)
	}
	r.fail(errors.New("failed by test"))
	if err := r.add(&exitWaiter{pid: -1, pidfd: -1}); err == nil {
		t.Error("add after fail succeeded")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := statusString(rep.wait(t)); got != "signal: killed" {
		t.Errorf("status %q, want signal: killed", got)
	}
}

// The point of the reaper: a child waited for costs no goroutine.
func TestReaperNoGoroutinePerChild(t *testing.T) {
	// The reaper's own goroutine, started once, is not counted.
	startChild(t, "true").wait(t)
	const n = 200
	before := runtime.NumGoroutine()
	reports := make([]*exitReport, n)
	for i := range n {
		reports[i] = startChild(t, "sleep", "60")
	}
	after := runtime.NumGoroutine()
	if after-before > 5 {
		t.Errorf("%d goroutines before starting %d children, %d while they run", before, n, after)
	}
	for _, r := range reports {
		// Unreaped until reported, so the PID is still this child's.
		if err := syscall.Kill(r.pid, syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	}
	for _, r := range reports {
		if got := statusString(r.wait(t)); got != "signal: killed" {
			t.Errorf("pid %d: status %q, want signal: killed", r.pid, got)
		}
	}
}
