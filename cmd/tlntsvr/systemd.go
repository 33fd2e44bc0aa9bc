package main

// What the daemon does for systemd: listening sockets passed by a socket
// unit (LISTEN_FDS), and the notifications of a Type=notify service
// (READY=1, RELOADING=1, STOPPING=1, STATUS=). Outside systemd both are
// no-ops: no LISTEN_FDS, no NOTIFY_SOCKET.

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/tlntsvr/tlntsvr/internal/server"
)

// The FileDescriptorName= of a socket unit's sockets: telnets for TLS from
// the first byte (as listen_tls), telnet for the rest (as listen). A
// socket without a name (systemd then names it after its unit) is telnet.
const (
	fdTelnet  = "telnet"
	fdTelnets = "telnets"
)

// activated takes the listening sockets systemd passed, if any, and gives
// them to srv in place of listen and listen_tls. It reports whether there
// were any.
func activated(srv *server.Server, log *slog.Logger) (bool, error) {
	named, err := activation.ListenersWithNames()
	if err != nil {
		return false, fmt.Errorf("sockets passed by systemd: %w", err)
	}
	if len(named) == 0 {
		return false, nil
	}
	var plain, tlsFirst []net.Listener
	for name, lns := range named {
		switch {
		case name == fdTelnets:
			tlsFirst = append(tlsFirst, lns...)
		case name == fdTelnet || strings.HasSuffix(name, ".socket") || strings.HasPrefix(name, "LISTEN_FD_"):
			plain = append(plain, lns...)
		default:
			for _, ln := range lns {
				ln.Close()
			}
			return true, fmt.Errorf("a socket passed by systemd is named %q: name each socket unit's sockets %s (as listen) or %s (as listen_tls) with FileDescriptorName=",
				name, fdTelnet, fdTelnets)
		}
		for _, ln := range lns {
			log.Info("socket passed by systemd", "name", name, "addr", ln.Addr().String())
		}
	}
	if err := srv.Adopt(plain, tlsFirst); err != nil {
		return true, fmt.Errorf("sockets passed by systemd: %w", err)
	}
	log.Info("listening on the sockets systemd passed; listen and listen_tls are not used")
	return true, nil
}

// notifier sends the service manager's notifications. Its zero value
// works; without NOTIFY_SOCKET every call does nothing.
type notifier struct {
	log *slog.Logger
	srv *server.Server
}

func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("notifying systemd failed", "state", strings.ReplaceAll(state, "\n", " "), "err", err)
	}
}

// ready: the daemon listens and takes connections.
func (n notifier) ready() { n.send(daemon.SdNotifyReady + "\n" + n.status()) }

// Reloading and Reloaded bracket a reload (server.Lifecycle).
func (n notifier) Reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

func (n notifier) Reloaded(err error) {
	st := n.status()
	if err != nil {
		st = "STATUS=last reload refused (see the log); " + strings.TrimPrefix(st, "STATUS=")
	}
	n.send(daemon.SdNotifyReady + "\n" + st)
}

func (n notifier) stopping() {
	n.send(daemon.SdNotifyStopping + "\nSTATUS=stopping: ending " + sessions(n.srv.Sessions().Len()))
}

func (n notifier) status() string {
	st := "STATUS=" + sessions(n.srv.Sessions().Len())
	if n.srv.Paused() {
		st += "; paused"
	}
	return st
}

func sessions(k int) string {
	if k == 1 {
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", k)
}

// statusInterval is the least time between two STATUS= updates: a logon
// flood must not become a flood of notifications.
const statusInterval = time.Second

// followSessions updates STATUS= as sessions start and end, until done.
func (n notifier) followSessions(done <-chan struct{}) {
	for {
		select {
		case <-n.srv.SessionChanges():
			n.send(n.status())
		case <-done:
			return
		}
		select {
		case <-time.After(statusInterval):
		case <-done:
			return
		}
	}
}
