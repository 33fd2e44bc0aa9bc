package server

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// The wait for a bcrypt slot ends at the login deadline: a queue of
// checks longer than what is left of login_timeout gives the connections
// at its end "Logon timed out" at their deadline, not a check long after
// it (before, the wait was bounded by shutdown only).
func TestBcryptWaitEndsAtLoginDeadline(t *testing.T) {
	const parallel = 16
	// One slot, and 16 checks of cost 11 (over 100 ms each, more under
	// -race): far more than the 0.5 s left of login_timeout once the
	// client has been through the 1 s negotiation timeout.
	hash, err := auth.HashPasswordCost("right", 11)
	if err != nil {
		t.Fatal(err)
	}
	srv, audit := newTestServer(t, "alice:"+hash+"\n", "telnet-clients: alice\n", "login_timeout: 1500ms\n")
	opts := AuthOptions(srv.Config(), slog.New(slog.DiscardHandler))
	opts.MaxConcurrentChecks = 1
	if err := srv.store.SetOptions(opts); err != nil {
		t.Fatal(err)
	}

	// Distinct addresses and names: the lockout is not under test.
	wrongPasswordsAtOnce(t, srv, parallel, 3000,
		func(i int) string { return fmt.Sprint("10.4.0.", i+1) },
		func(i int) string { return fmt.Sprint("nobody", i) },
		msgLoginTimeout)

	if failed := countEvents(audit, "logon_failed"); failed == parallel {
		t.Errorf("all %d queued checks ran, though most queued past the login deadline", parallel)
	}
	if timedOut := countEvents(audit, "logon_timeout"); timedOut != parallel {
		t.Errorf("%d logon_timeout records, want %d", timedOut, parallel)
	}
}
