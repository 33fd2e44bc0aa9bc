package session

import (
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Many sessions ending at once share scans of /proc, and each still gets
// its own members, found by a scan begun after it asked.
func TestSessionMembersShareScans(t *testing.T) {
	const sessions, callers = 4, 50
	var leaders []int
	for range sessions {
		cmd := exec.Command("sleep", "30")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		leaders = append(leaders, cmd.Process.Pid)
	}
	before := scans.Load()
	var wg sync.WaitGroup
	got := make([][]int, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = sessionMembers(leaders[i%sessions])
		}()
	}
	wg.Wait()
	for i, pids := range got {
		if want := leaders[i%sessions]; !slices.Equal(pids, []int{want}) {
			t.Errorf("caller %d: members of session %d = %v, want [%d]", i, want, pids, want)
		}
	}
	if n := scans.Load() - before; n >= callers/2 {
		t.Errorf("%d scans of /proc for %d callers at once; want them shared", n, callers)
	}
}

// A session ID that now leads another session (our shell reaped, its PID
// taken by a new session's leader) is not signalled in our session's name:
// a leader whose start time is not that of the process now at its PID
// gets nothing; the right one gets its whole session killed.
func TestKillSessionsSkipsReusedSessionID(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	st, ok := readStat(pid)
	if !ok || st.sid != pid || st.start == 0 {
		t.Fatalf("stat of the new session's leader: %+v, %v", st, ok)
	}

	other := Leader{SID: pid, Start: st.start - 1} // a shell that had this PID before
	if n := KillSessions([]Leader{other}); n != 0 {
		t.Fatalf("KillSessions signalled %d processes of a session ID now leading another session", n)
	}
	select {
	case err := <-exited:
		t.Fatalf("the other session's leader was killed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	if n := KillSessions([]Leader{{SID: pid, Start: st.start}}); n != 1 {
		t.Fatalf("KillSessions of the right leader signalled %d processes, want 1", n)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader was not killed")
	}
}
