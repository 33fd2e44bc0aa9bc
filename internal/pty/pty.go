//go:build linux

// Package pty opens Unix pseudo-terminals.
//
// Linux only: it uses Linux's ioctls, TIOCSPTLCK and TIOCGPTN to unlock
// and name the slave, TIOCGPTPEER to reach the terminal's side from the
// master, and TIOCSIG, TIOCPKT and TCGETS/TCSETS.
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

// SetPacketMode turns the master's packet mode (TIOCPKT) on: every read
// then starts with a status byte, 0 before data; a read of a single
// non-zero byte reports a change, such as TIOCPKT_DOSTOP and
// TIOCPKT_NOSTOP when the program turns XON/XOFF flow control (IXON) on
// or off.
func SetPacketMode(master *os.File) error {
	return control(master, func(fd int) error { return unix.IoctlSetPointerInt(fd, unix.TIOCPKT, 1) })
}

// Signal sends sig (SIGINT, SIGQUIT or SIGTSTP) to the terminal's
// foreground process group, as its interrupt, quit and suspend characters
// would, but whatever the terminal's settings and queued input.
func Signal(master *os.File, sig unix.Signal) error {
	return control(master, func(fd int) error { return unix.IoctlSetInt(fd, unix.TIOCSIG, int(sig)) })
}

// FlushOutput discards what programs wrote to the terminal and the master
// has not read yet.
func FlushOutput(master *os.File) error {
	return control(master, func(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) })
}

// FlushInput discards what was written to the master and programs have not
// read yet: both what the terminal has queued and what it has not taken
// in yet.
func FlushInput(master *os.File) error {
	return control(master, func(fd int) error {
		// The terminal's own queue can only be flushed from its side: a
		// descriptor for it, never a controlling terminal of ours.
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER,
			uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK))
		if errno != 0 {
			return fmt.Errorf("open the terminal's side: %w", errno)
		}
		defer unix.Close(int(r))
		if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCOFLUSH); err != nil {
			return err
		}
		return unix.IoctlSetInt(int(r), unix.TCFLSH, unix.TCIFLUSH)
	})
}

// speeds are the rates termios can express, with their codes.
var speeds = []struct {
	bps  int
	code uint32
}{
	{50, unix.B50}, {75, unix.B75}, {110, unix.B110}, {134, unix.B134}, {150, unix.B150},
	{200, unix.B200}, {300, unix.B300}, {600, unix.B600}, {1200, unix.B1200}, {1800, unix.B1800},
	{2400, unix.B2400}, {4800, unix.B4800}, {9600, unix.B9600}, {19200, unix.B19200},
	{38400, unix.B38400}, {57600, unix.B57600}, {115200, unix.B115200}, {230400, unix.B230400},
	{460800, unix.B460800}, {500000, unix.B500000}, {576000, unix.B576000}, {921600, unix.B921600},
	{1000000, unix.B1000000}, {1152000, unix.B1152000}, {1500000, unix.B1500000},
	{2000000, unix.B2000000}, {2500000, unix.B2500000}, {3000000, unix.B3000000},
	{3500000, unix.B3500000}, {4000000, unix.B4000000},
}

// speedCode returns the code of the highest rate termios can express that
// is not above bps (cfsetspeed takes only those), and false below 50.
func speedCode(bps int) (uint32, bool) {
	code, ok := uint32(0), false
	for _, s := range speeds {
		if s.bps > bps {
			break
		}
		code, ok = s.code, true
	}
	return code, ok
}

// SetSpeed sets the terminal's input and output speeds in bits per second,
// as cfsetispeed and cfsetospeed would. A pseudo-terminal does nothing
// with them but report them (stty speed; curses programs use them to
// pace their output).
func SetSpeed(f *os.File, in, out int) error {
	ic, iok := speedCode(in)
	oc, ook := speedCode(out)
	if !iok || !ook {
		return fmt.Errorf("terminal speed %d,%d out of range", in, out)
	}
	t, err := Termios(f)
	if err != nil {
		return err
	}
	t.Cflag = t.Cflag&^(unix.CBAUD|unix.CIBAUD) | oc | ic<<unix.IBSHIFT
	return SetTermios(f, t)
}
