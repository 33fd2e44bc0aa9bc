package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ceilingRun is the bare-PTY ceiling: `cat FILE` writes into a PTY's
// slave, this process reads the master with blocking 32 KiB reads and
// throws the bytes away. No network, no Telnet, no poller: what the
// kernel's PTY allows on this machine. cred (may be nil) runs cat as the
// benchmark account, as the sessions do.
func ceilingRun(file string, cred *syscall.Credential, timeout time.Duration) (elapsed, cpu time.Duration, n int64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return 0, 0, 0, fmt.Errorf("unlock pty: %w", err)
	}
	ptn, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pty number: %w", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(ptn), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	cmd := exec.Command("cat", file)
	cmd.Stdout, cmd.Stderr = slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1, Credential: cred}

	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &before)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		slave.Close()
		return 0, 0, 0, fmt.Errorf("start cat: %w", err)
	}
	slave.Close()
	// Ending cat closes the slave, which ends the reads below.
	stop := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	defer stop.Stop()
	buf := make([]byte, 32<<10)
	for {
		m, rerr := unix.Read(mfd, buf)
		if m > 0 {
			n += int64(m)
		}
		if rerr == unix.EINTR {
			continue
		}
		if m <= 0 || rerr != nil {
			break // EIO: cat exited and closed the terminal
		}
	}
	elapsed = time.Since(start)
	unix.Getrusage(unix.RUSAGE_THREAD, &after)
	werr := cmd.Wait()
	if !stop.Stop() {
		return 0, 0, 0, fmt.Errorf("cat %s: timed out after %v", file, timeout)
	}
	if werr != nil {
		return 0, 0, 0, fmt.Errorf("cat %s: %w", file, werr)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = tv(after.Utime) + tv(after.Stime) - tv(before.Utime) - tv(before.Stime) +
		time.Duration(ru.Utime.Nano()+ru.Stime.Nano())
	return elapsed, cpu, n, nil
}

func tv(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }
