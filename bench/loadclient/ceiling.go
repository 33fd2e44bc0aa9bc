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

// catOnPTY starts `cat FILE` on a new PTY, with the terminal settings a
// new PTY has (opost and onlcr on, as in a session), as the account cred
// (nil: whoever runs this). It returns the master, read with blocking
// reads.
func catOnPTY(file string, cred *syscall.Credential) (mfd int, cmd *exec.Cmd, err error) {
	mfd, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(err error) (int, *exec.Cmd, error) {
		unix.Close(mfd)
		return -1, nil, err
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlock pty: %w", err))
	}
	ptn, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("pty number: %w", err))
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(ptn), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	defer slave.Close()
	cmd = exec.Command("cat", file)
	cmd.Stdout, cmd.Stderr = slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1, Credential: cred}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start cat: %w", err))
	}
	return mfd, cmd, nil
}

// readMaster reads the master with blocking 32 KiB reads until cat has
// exited and closed the terminal (EIO), handing each read to use.
func readMaster(mfd int, use func([]byte) error) (n int64, err error) {
	buf := make([]byte, 32<<10)
	for {
		m, rerr := unix.Read(mfd, buf)
		if rerr == unix.EINTR {
			continue
		}
		if m <= 0 || rerr != nil {
			return n, nil // EIO: cat exited and closed the terminal
		}
		n += int64(m)
		if err := use(buf[:m]); err != nil {
			return n, err
		}
	}
}

// ceilingRun is the bare-PTY ceiling: `cat FILE` writes into a PTY's
// slave, this process reads the master with blocking 32 KiB reads and
// throws the bytes away. No network, no Telnet, no poller: what the
// kernel's PTY allows on this machine. cred (may be nil) runs cat as the
// benchmark account, as the sessions do.
func ceilingRun(file string, cred *syscall.Credential, timeout time.Duration) (elapsed, cpu time.Duration, n int64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &before)
	start := time.Now()
	mfd, cmd, err := catOnPTY(file, cred)
	if err != nil {
		return 0, 0, 0, err
	}
	defer unix.Close(mfd)
	// Ending cat closes the slave, which ends the reads below.
	stop := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	defer stop.Stop()
	n, _ = readMaster(mfd, func([]byte) error { return nil })
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
