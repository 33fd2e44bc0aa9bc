package session

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

// runLoginScript runs the login script on the session's terminal (the
// incubator's 0, 1 and 2), to its end, before the shell. The terminal's
// signal keys are off while it runs (ISIG cleared: Ctrl-C, Ctrl-\ and
// Ctrl-Z, and Telnet's IP, BRK and SUSP, which follow ISIG, reach it as
// plain characters), so a user cannot cut it short and get the shell
// early; a script that wants them gives them back with stty isig. Its
// signal dispositions stay the defaults. After timeout (login_timeout)
// it is killed and the session ends without a shell: were the shell
// started then, waiting would be the way around the script. Its exit
// status does not stop the shell (it is reported): the script runs as
// the user, so it cannot hold anything against them once the shell is
// theirs; it sets up and shows, it does not guard.
func runLoginScript(path string, env []string, timeout time.Duration) error {
	restore := signalKeysOff(0)
	cmd := exec.Command(path)
	cmd.Env = env
	// Its errors are the user's to see: the terminal, not the
	// incubator's stderr, which goes to the daemon's log.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stdout
	if err := cmd.Start(); err != nil {
		restore()
		fmt.Fprintf(os.Stdout, "tlntsvr: login script %s: %v\r\n", path, err)
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case err := <-done:
		restore()
		if err != nil {
			fmt.Fprintf(os.Stdout, "tlntsvr: login script %s: %v\r\n", path, err)
		}
		return nil
	case <-expired:
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("login script %s did not finish within %s", path, timeout)
	}
}

// signalKeysOff clears ISIG on the terminal fd and returns what sets it
// again. It changes only that bit, then and after, so what the script
// sets with stty (erase, rows) stays for the shell. A terminal whose
// attributes cannot be read is left alone.
func signalKeysOff(fd int) (restore func()) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil || t.Lflag&unix.ISIG == 0 {
		return func() {}
	}
	t.Lflag &^= unix.ISIG
	// TCSETSW: after what was written reaches the terminal; typed input
	// is kept.
	if unix.IoctlSetTermios(fd, unix.TCSETSW, t) != nil {
		return func() {}
	}
	return func() {
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			t.Lflag |= unix.ISIG
			unix.IoctlSetTermios(fd, unix.TCSETSW, t)
		}
	}
}
