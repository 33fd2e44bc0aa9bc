package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tlntsvr/tlntsvr/internal/auth"
)

// Parallel logon attempts cannot run more password checks than the lockout
// allows: each attempt is reserved before its bcrypt comparison. Before,
// the lock was only looked at, so all the connections an address may have
// logging on at once (or, across addresses, max_connections) passed it
// before the first failure was recorded.
//
// The comparisons are held until every attempt has sent its password, so
// that none of them can end (and record a failure) while others have yet
// to reach the lock: that is what a slow bcrypt does, without making the
// test's time depend on bcrypt's. (It did: at cost 10, 15 comparisons
// under -race took 8 s of its 20 s wait, past it on a loaded machine.)
func TestLockoutHoldsUnderParallelAttempts(t *testing.T) {
	const attempts, parallel = 3, 16 // per_source_max_startups' default
	// The lowest cost: the hold, not the cost, keeps the checks in flight.
	hash, err := auth.HashPasswordCost("right", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := "alice:" + hash + "\n"
	extra := fmt.Sprintf("lockout: {attempts: %d, window: 10m, duration: 15m}\n", attempts)

	for _, tt := range []struct {
		name   string
		from   func(i int) string // address of connection i
		user   func(i int) string // the name it tries
		checks int                // at most
	}{
		{"one address, many names",
			func(int) string { return "10.2.0.1" },
			func(i int) string { return fmt.Sprint("nobody", i) }, attempts},
		// An account is locked for every source at five times the
		// limit (auth.LockoutPolicy), which one address never reaches.
		{"one account, many addresses",
			func(i int) string { return fmt.Sprint("10.3.0.", i+1) },
			func(int) string { return "alice" }, 5 * attempts},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, audit := newTestServer(t, users, "telnet-clients: alice\n", extra)
			// A slot for every attempt: the lockout, not the bcrypt
			// pool, must be what keeps checks from starting.
			opts := AuthOptions(srv.Config(), slog.New(slog.DiscardHandler))
			opts.MaxConcurrentChecks = parallel
			if err := srv.store.SetOptions(opts); err != nil {
				t.Fatal(err)
			}
			var started atomic.Int32
			hold := make(chan struct{})
			srv.store.ObserveQueueWait(func(time.Duration) { started.Add(1); <-hold })
			released := make(chan error, 1)
			go func() {
				// Every attempt has read its password, and the checks the
				// lockout lets through have started (a broken lockout
				// lets more): all have passed, or are queued at, the lock.
				// The hold ends by itself even if that never comes: a
				// held check does not end when its connection closes.
				released <- waitUntil(time.Minute, func() bool {
					return startupsAt(srv, stageChecking) == parallel && int(started.Load()) >= tt.checks
				})
				close(hold)
			}()
			wrongPasswordsAtOnce(t, srv, parallel, 2000, tt.from, tt.user, msgLoginIncorrect, msgLockedOut)
			if err := <-released; err != nil {
				t.Fatalf("holding the checks: %v (%d at the password check, %d checks started)",
					err, startupsAt(srv, stageChecking), started.Load())
			}

			srv.flood.flush()
			failed, refused := countEvents(audit, "logon_failed"), countSummarised(t, audit, "logon_locked_out")
			if n := int(started.Load()); failed > tt.checks || n > tt.checks {
				t.Errorf("%d password checks (%d failures) for %d parallel attempts, want at most %d", n, failed, parallel, tt.checks)
			}
			if failed+refused != parallel {
				t.Errorf("%d failed and %d refused, want %d in all", failed, refused, parallel)
			}
			if countEvents(audit, "lockout") != 1 {
				t.Errorf("%d lockout records, want 1:\n%s", countEvents(audit, "lockout"), audit.String())
			}
		})
	}
}

// startupsAt counts the connections in the startup pool that have come
// to stage (or past it).
func startupsAt(srv *Server, st stage) int {
	srv.startups.mu.Lock()
	defer srv.startups.mu.Unlock()
	n := 0
	for _, c := range srv.startups.all {
		if stage(c.stage.Load()) >= st {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds, or returns an error after timeout.
func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not reached in %s", timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// A source in penalty_exempt skips the lockout: an account locked by
// failures from elsewhere still logs on from there, and its own failures
// are not counted.
func TestLockoutSkippedForExemptSources(t *testing.T) {
	srv, _ := newTestServer(t, "", "", "lockout: {attempts: 1, window: 10m, duration: 15m}\npenalty_exempt: [192.0.2.0/24]\n")
	cfg := srv.Config()
	ctx := context.Background()
	ok := func() (auth.Identity, error) { return auth.Identity{User: "alice"}, nil }
	bad := func() (auth.Identity, error) { return auth.Identity{}, auth.ErrBadCredentials }
	// Failures from five addresses lock alice for every source.
	for i := 1; i <= 5; i++ {
		srv.authenticate(ctx, cfg, fmt.Sprintf("198.51.100.%d", i), "alice", bad)
	}
	var lo *lockedOutError
	if _, err := srv.authenticate(ctx, cfg, "203.0.113.9", "alice", ok); !errors.As(err, &lo) {
		t.Fatalf("from elsewhere, the locked account: %v, want locked out", err)
	}
	for range 3 { // not counted: no lock of the exempt address follows
		srv.authenticate(ctx, cfg, "192.0.2.5", "bob", bad)
	}
	if id, err := srv.authenticate(ctx, cfg, "192.0.2.5", "alice", ok); err != nil || id.User != "alice" {
		t.Fatalf("from the exempt network: %v, %v; want logged on", id, err)
	}
	if _, err := srv.authenticate(ctx, cfg, "192.0.2.5", "bob", ok); err != nil {
		t.Fatalf("bob from the exempt network after failures there: %v", err)
	}
}
