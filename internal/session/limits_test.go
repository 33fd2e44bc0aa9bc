package session

import (
	"os"
	"testing"
)

// accountProcesses sees this test's own process, and no process of an
// account that runs none.
func TestAccountProcesses(t *testing.T) {
	if n := accountProcesses(uint32(os.Geteuid())); n < 1 {
		t.Errorf("accountProcesses(own uid) = %d, want at least this process", n)
	}
	if n := accountProcesses(4294967294); n != 0 {
		t.Errorf("accountProcesses(an unused uid) = %d, want 0", n)
	}
}
