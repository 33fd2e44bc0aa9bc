package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A shell is waited for by one reaper for the whole daemon, not by a
// goroutine of its session: a goroutine parked per session costs its
// stack (8 KiB at least, more once it has grown), and the shell's pidfd
// is all that is needed to learn that it exited. Every session's pidfd
// sits in one epoll instance; that instance's descriptor is in turn
// waited on through Go's poller, so neither a session nor the reaper
// holds an OS thread blocked in the kernel.

// exitWaiter is one shell the reaper waits for.
type exitWaiter struct {
	pid   int
	pidfd int
	done  func(error) // called once, from the reaper, when pid is reaped
}

// reaper owns the epoll instance and the shells registered in it.
type reaper struct {
	ep      int      // epoll instance holding every registered pidfd
	epf     *os.File // ep, for Go's poller
	mu      sync.Mutex
	next    uint64 // the next registration key
	waiters map[uint64]*exitWaiter
	broken  error // once set, add refuses: registrations go to fallbacks
}

var (
	reaperOnce sync.Once
	theReaper  *reaper
	reaperErr  error
)

// testHookReaperAdd, when set, is called instead of registering a shell
// with the reaper; an error from it takes the fallback path, as a
// refused epoll_ctl would.
var testHookReaperAdd func(pid int) error

// sharedReaper returns the daemon's reaper, started on first use, so a
// process that never starts a session (tlntadmn, the incubator, tests of
// other things) has no epoll instance and no goroutine for it.
func sharedReaper() (*reaper, error) {
	reaperOnce.Do(func() {
		theReaper, reaperErr = newReaper()
		if reaperErr == nil {
			go theReaper.run()
		}
	})
	return theReaper, reaperErr
}

func newReaper() (*reaper, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create epoll instance for the reaper: %w", err)
	}
	// Non-blocking so that os.NewFile hands it to Go's poller; epoll_wait
	// itself takes its timeout, not this flag, into account.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("make the reaper's epoll instance non-blocking: %w", err)
	}
	return &reaper{ep: ep, epf: os.NewFile(uintptr(ep), "reaper-epoll"), waiters: make(map[uint64]*exitWaiter)}, nil
}

// add registers w; from then on the reaper reaps w.pid and calls w.done.
// The pidfd is registered level-triggered: a shell that has exited
// already (before add) is readable at once and so reaped at the next
// wait, not missed for want of an edge.
func (r *reaper) add(w *exitWaiter) error {
	// Held across epoll_ctl, so that the reaper, which may see the shell
	// ready the moment it is registered, finds it in the map, and so that
	// fail cannot hand out a waiter that is half registered.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return r.broken
	}
	// The key, not the pidfd's number, identifies the shell in the epoll
	// event: a number is reused as soon as it is closed.
	key := r.next
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(uint32(key)), Pad: int32(uint32(key >> 32))}
	if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, w.pidfd, &ev); err != nil {
		return fmt.Errorf("add pidfd of pid %d to the reaper: %w", w.pid, err)
	}
	r.next++
	r.waiters[key] = w
	return nil
}

// run is the reaper's goroutine.
func (r *reaper) run() {
	events := make([]unix.EpollEvent, 64)
	var werr error
	rc, err := r.epf.SyscallConn()
	if err == nil {
		// Go's poller is edge-triggered: it reports the epoll instance
		// readable when something becomes ready in it, not while
		// something is. So everything ready is handled before parking;
		// a batch that fills events may have left some behind.
		err = rc.Read(func(uintptr) bool {
			for {
				n, err := unix.EpollWait(r.ep, events, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				r.reap(events[:n])
				if n < len(events) {
					return false
				}
			}
		})
	}
	if err != nil && werr == nil {
		// The poller could not take the epoll instance (epoll_ctl failing,
		// e.g. at max_user_watches): wait in epoll_wait, one thread
		// blocked for the whole daemon, rather than not at all.
		for {
			n, err := unix.EpollWait(r.ep, events, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				break
			}
			r.reap(events[:n])
		}
	}
	r.fail(fmt.Errorf("wait on the reaper's epoll instance: %w", werr))
}

// reap reaps the shells whose pidfds are ready and tells their sessions.
// Waiters are removed only on the reaper's goroutine (here and in fail),
// so one looked up here stays until reap removes it.
func (r *reaper) reap(events []unix.EpollEvent) {
	for _, ev := range events {
		key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		r.mu.Lock()
		w := r.waiters[key]
		r.mu.Unlock()
		if w == nil {
			continue
		}
		var ws syscall.WaitStatus
		wpid, err := wait4(w.pid, &ws, syscall.WNOHANG)
		if wpid == 0 && err == nil {
			// Still running: a pidfd is readable only once its process
			// has exited, but reaping nothing costs one system call.
			continue
		}
		r.mu.Lock()
		delete(r.waiters, key)
		r.mu.Unlock()
		// Removed before it is closed, so a later pidfd reusing the
		// number is never the one in the epoll instance.
		unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, w.pidfd, nil)
		unix.Close(w.pidfd)
		w.done(exitError(w.pid, ws, err))
	}
}

// fail is what happens when epoll_wait fails, which it does only for a
// bad descriptor or buffer: the shells registered are each handed to a
// goroutine blocked in wait4, and so are those started from now on, as
// without the reaper.
func (r *reaper) fail(err error) {
	r.mu.Lock()
	r.broken = err
	waiters := r.waiters
	r.waiters = nil
	r.mu.Unlock()
	for _, w := range waiters {
		unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, w.pidfd, nil)
		go w.block()
	}
}

// block waits for w's shell in a thread blocked in wait4: the fallback
// when the reaper cannot take it.
func (w *exitWaiter) block() {
	unix.Close(w.pidfd)
	var ws syscall.WaitStatus
	_, err := wait4(w.pid, &ws, 0)
	w.done(exitError(w.pid, ws, err))
}

// watchExit arranges for cmd's process to be reaped once it exits and
// for done to be called with its exit status then, from another
// goroutine. It is the one place the shell is waited for.
func watchExit(cmd *exec.Cmd, done func(error)) {
	pid := cmd.Process.Pid
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		go func() { done(cmd.Wait()) }() // before Linux 5.10
		return
	}
	// The shell is the reaper's to wait for from here: let go of
	// os.Process's handle (a pidfd of its own since Go 1.23) now, so that
	// a session holds one descriptor for its shell, not two (RLIMIT_NOFILE
	// is what bounds the sessions of a daemon first). The shell stays
	// unreaped until the reaper reaps it, so its PID cannot be reused
	// meanwhile.
	cmd.Process.Release()
	w := &exitWaiter{pid: pid, pidfd: fd, done: done}
	if err := registerExit(w); err != nil {
		// No reaper, or it refused (epoll_ctl failing, e.g. at
		// max_user_watches): wait the old way rather than not at all.
		go w.block()
	}
}

func registerExit(w *exitWaiter) error {
	if testHookReaperAdd != nil {
		return testHookReaperAdd(w.pid)
	}
	r, err := sharedReaper()
	if err != nil {
		return err
	}
	return r.add(w)
}

// wait4 is syscall.Wait4, retried when a signal interrupts it.
func wait4(pid int, ws *syscall.WaitStatus, options int) (int, error) {
	for {
		wpid, err := syscall.Wait4(pid, ws, options, nil)
		if !errors.Is(err, syscall.EINTR) {
			return wpid, err
		}
	}
}

// exitError reports an exit status as cmd.Wait does.
func exitError(pid int, ws syscall.WaitStatus, werr error) error {
	switch {
	case werr != nil:
		return fmt.Errorf("wait for pid %d: %w", pid, werr)
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	case ws.ExitStatus() != 0:
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	}
	return nil
}
