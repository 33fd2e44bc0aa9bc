package session

import (
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
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
