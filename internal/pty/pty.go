// Package pty opens Unix pseudo-terminals.
//
// The master is opened non-blocking and handed to Go's poller, so reads on
// it honour deadlines and Close, and a goroutine blocked reading a PTY never
// outlives the session. (A blocking master can only be woken by every slave
// descriptor closing, which a stray background process may never do.)
package pty

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Open returns a new PTY pair. The slave is opened without making it the
// caller's controlling terminal; the child process acquires it (Setsid and
// Setctty in its SysProcAttr).
func Open() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	// unlockpt(3)
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	// os.NewFile sees O_NONBLOCK on the master and registers it with the
	// poller.
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), name), nil
}

// SetSize sets the window size; the kernel sends SIGWINCH to the
// terminal's foreground process group when it changes.
func SetSize(f *os.File, cols, rows int) error {
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	return control(f, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
}

// Size returns the window size.
func Size(f *os.File) (cols, rows int, err error) {
	var ws *unix.Winsize
	err = control(f, func(fd int) (e error) {
		ws, e = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return e
	})
	if err != nil {
		return 0, 0, err
	}
	return int(ws.Col), int(ws.Row), nil
}

// Termios returns the terminal's attributes.
func Termios(f *os.File) (*unix.Termios, error) {
	var t *unix.Termios
	err := control(f, func(fd int) (e error) {
		t, e = unix.IoctlGetTermios(fd, unix.TCGETS)
		return e
	})
	return t, err
}

// SetTermios sets the terminal's attributes at once.
func SetTermios(f *os.File, t *unix.Termios) error {
	return control(f, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, t) })
}

// control runs an ioctl on f's descriptor without taking it out of
// non-blocking mode (which f.Fd() would do).
func control(f *os.File, op func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = op(int(fd)) }); err != nil {
		return err
	}
	return opErr
}
