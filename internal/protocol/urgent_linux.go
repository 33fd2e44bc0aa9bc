package protocol

import (
	"sync"
	"syscall"
	"unsafe"
)

// Urgent data (RFC 854's Synch, TCP's urgent pointer) cannot be seen
// through net.Conn, and Go's poller does not watch for it. One epoll
// instance for the whole process does: every Telnet socket is registered
// for EPOLLPRI, and one goroutine, blocked in epoll_wait, raises the
// connection's flag when urgent data arrives. The data path pays one
// atomic load per network read for this; the kernel is asked (ppoll)
// only after the flag went up.
//
// Sockets are registered edge-triggered and never need removing: the
// kernel drops a registration when its socket is closed. Events carry an
// ID, not a pointer, so a late event for a closed connection finds
// nothing.

var urgentWatch struct {
	once  sync.Once
	epfd  int // -1 if epoll is unavailable
	mu    sync.Mutex
	next  uint64
	flags map[uint64]*urgentFlag
}

func startUrgentWatch() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		urgentWatch.epfd = -1
		return
	}
	urgentWatch.epfd = fd
	urgentWatch.flags = map[uint64]*urgentFlag{}
	go urgentLoop(fd)
}

func urgentLoop(epfd int) {
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			urgentWatch.mu.Lock()
			f := urgentWatch.flags[id]
			urgentWatch.mu.Unlock()
			if f == nil {
				continue
			}
			f.set.Store(true)
			if h := f.handler.Load(); h != nil {
				(*h)()
			}
		}
	}
}

// watchUrgent keeps urgent data in the stream (SO_OOBINLINE: else the
// kernel takes the urgent byte out, and a client's IAC DM arrives as IAC
// followed by whatever comes next) and registers the socket with the
// watcher. It returns nil if the socket cannot be watched.
func watchUrgent(rc syscall.RawConn) (*urgentFlag, uint64) {
	urgentWatch.once.Do(startUrgentWatch)
	var f *urgentFlag
	rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1) != nil {
			return // not a TCP socket
		}
		if urgentWatch.epfd < 0 {
			return
		}
		urgentWatch.mu.Lock()
		defer urgentWatch.mu.Unlock()
		urgentWatch.next++
		id := urgentWatch.next
		const epollET = 1 << 31 // syscall.EPOLLET, which is negative there
		ev := syscall.EpollEvent{Events: syscall.EPOLLPRI | epollET, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		if syscall.EpollCtl(urgentWatch.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) != nil {
			return
		}
		f = &urgentFlag{id: id}
		urgentWatch.flags[id] = f
	})
	if f == nil {
		return nil, 0
	}
	return f, f.id
}

// unwatchUrgent removes a registration before its socket is closed.
func unwatchUrgent(rc syscall.RawConn, f *urgentFlag) {
	forgetUrgent(f.id)
	rc.Control(func(fd uintptr) {
		// On a descriptor number already reused by another socket this
		// finds nothing: epoll keys registrations by the open file too.
		syscall.EpollCtl(urgentWatch.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// forgetUrgent drops a connection's flag; also run when a Conn that was
// never closed is collected.
func forgetUrgent(id uint64) {
	urgentWatch.mu.Lock()
	delete(urgentWatch.flags, id)
	urgentWatch.mu.Unlock()
}

// urgentPending asks the kernel whether the client has sent urgent data we
// have not yet read past: either it is here (POLLPRI), or the urgent
// pointer came (with a window probe, say) ahead of the byte, which waits
// behind data we have not read. The kernel shows that second case only to
// recv(MSG_OOB), and only with SO_OOBINLINE off; switching it off for the
// question is safe because no read runs meanwhile (the reading goroutine
// asks), and the flag matters only when a read passes the urgent byte.
func urgentPending(rc syscall.RawConn) bool {
	const pollPRI = 0x2
	pending := false
	rc.Control(func(fd uintptr) {
		p := struct {
			fd      int32
			events  int16
			revents int16
		}{fd: int32(fd), events: pollPRI}
		var ts syscall.Timespec
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&p)), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if errno == 0 && n == 1 && p.revents&pollPRI != 0 {
			pending = true
			return
		}
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 0) != nil {
			return
		}
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_OOB|syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
		// EINVAL: no urgent data, or already read past. EAGAIN: signalled,
		// not here yet.
		pending = err == nil || err == syscall.EAGAIN
	})
	return pending
}

// sendUrgent sends b as TCP urgent data.
func sendUrgent(rc syscall.RawConn, b byte) error {
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), []byte{b}, syscall.MSG_OOB, nil)
		return serr != syscall.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}
