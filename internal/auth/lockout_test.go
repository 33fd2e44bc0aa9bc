package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLockout(p LockoutPolicy) (*Lockout, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLockout(p)
	l.now = c.now
	return l, c
}

func TestLockoutPerAddressAndAccount(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: 10 * time.Minute, AccountAttempts: 3})
	// Three failures from one address at three different accounts lock
	// the address, not the accounts.
	for i, acct := range []string{"a", "b", "c"} {
		got := l.failUnreserved("10.0.0.1", acct)
		if i < 2 && len(got) != 0 || i == 2 && !slices.Equal(got, []string{"address"}) {
			t.Fatalf("failure %d locked %v", i, got)
		}
		clock.advance(time.Second)
	}
	if locked, _ := l.locked("10.0.0.1", "zzz"); !locked {
		t.Error("address not locked after 3 failures")
	}
	if locked, _ := l.locked("10.0.0.2", "a"); locked {
		t.Error("account a locked by failures spread over accounts")
	}
	// Three failures at one account from three addresses lock the account.
	for i, addr := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"} {
		got := l.failUnreserved(addr, "root")
		if i == 2 && !slices.Equal(got, []string{"account"}) {
			t.Fatalf("third failure at root locked %v", got)
		}
	}
	if locked, until := l.locked("10.9.9.9", "root"); !locked || !until.Equal(clock.t.Add(10*time.Minute)) {
		t.Errorf("root: locked=%v until=%v", locked, until)
	}
	// The lock ends after Duration.
	clock.advance(10*time.Minute + time.Second)
	if locked, _ := l.locked("10.9.9.9", "root"); locked {
		t.Error("still locked after duration")
	}
}

func TestLockoutWindow(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: time.Hour, AccountAttempts: 3})
	l.failUnreserved("a", "x")
	l.failUnreserved("a", "x")
	clock.advance(2 * time.Minute) // the first two fall out of the window
	if got := l.failUnreserved("a", "x"); len(got) != 0 {
		t.Errorf("locked %v by failures spread beyond the window", got)
	}
}

func TestLockoutSuccessClearsAccountOnly(t *testing.T) {
	l, _ := newTestLockout(LockoutPolicy{Attempts: 2, Window: time.Minute, Duration: time.Hour, AccountAttempts: 2})
	l.failUnreserved("a", "x")
	l.succeedUnreserved("a", "x")
	if got := l.failUnreserved("a", "x"); !slices.Equal(got, []string{"address"}) {
		t.Errorf("second failure locked %v, want address only (the account was cleared)", got)
	}
}

func TestLockoutOff(t *testing.T) {
	l, _ := newTestLockout(LockoutPolicy{})
	for i := 0; i < 100; i++ {
		l.failUnreserved("a", "x")
	}
	if locked, _ := l.locked("a", "x"); locked {
		t.Error("locked with attempts 0")
	}
}

// A spray of distinct addresses cannot grow the table without bound.
func TestLockoutBoundedMemory(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 5, Window: time.Second, Duration: time.Minute, AccountAttempts: 5})
	for i := 0; i < maxLockoutEntries+5000; i++ {
		l.failUnreserved(fmt.Sprint("addr", i), "")
		if i%1000 == 0 {
			clock.advance(2 * time.Second)
		}
	}
	if n := len(l.entries); n > maxLockoutEntries {
		t.Errorf("%d entries, cap %d", n, maxLockoutEntries)
	}
}

// TestLockoutEvictsOldestFirst: when the table is full of failures still
// inside the window, the entries touched longest ago go first, and an
// account being attacked now keeps its count.
func TestLockoutEvictsOldestFirst(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 5, Window: time.Hour, Duration: time.Minute, AccountAttempts: 5})
	for i := range maxLockoutEntries - 1 {
		l.failUnreserved(fmt.Sprint("addr", i), "")
		if i%1000 == 0 {
			clock.advance(time.Second)
		}
	}
	clock.advance(time.Second)
	for range 4 {
		l.failUnreserved("", "alice") // one short of the lock
	}
	clock.advance(time.Second)
	if n := len(l.entries); n != maxLockoutEntries {
		t.Fatalf("%d entries; want the table full, %d", n, maxLockoutEntries)
	}
	l.failUnreserved("sprayer", "") // makes room for itself
	if n := len(l.entries); n != maxLockoutEntries*9/10+1 {
		t.Fatalf("%d entries after making room; want %d", n, maxLockoutEntries*9/10+1)
	}
	if _, ok := l.entries[lockKey{kind: kindAddress, name: "addr0"}]; ok {
		t.Error("the entry touched first is still there")
	}
	if _, ok := l.entries[lockKey{kind: kindAddress, name: fmt.Sprint("addr", maxLockoutEntries-2)}]; !ok {
		t.Error("a recent entry was dropped")
	}
	locked := l.failUnreserved("", "alice")
	if !slices.Equal(locked, []string{"account"}) {
		t.Fatalf("alice's fifth failure locked %v; want [account]: her four were dropped", locked)
	}
}

// Attempts in flight count toward the limit, so parallel attempts cannot
// all pass before the first failure is recorded.
func TestLockoutBeginReservesParallelAttempts(t *testing.T) {
	const attempts = 3
	l, _ := newTestLockout(LockoutPolicy{Attempts: attempts, Window: time.Minute, Duration: time.Hour, AccountAttempts: attempts})
	for _, tt := range []struct {
		name          string
		address, user func(i int) string
	}{
		{"one address", func(int) string { return "10.0.0.1" }, func(i int) string { return fmt.Sprint("u", i) }},
		{"one account", func(i int) string { return fmt.Sprint("10.0.1.", i) }, func(int) string { return "root" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var begun []*Attempt
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if a, _, ok := l.begin(tt.address(i), tt.user(i)); ok {
						mu.Lock()
						begun = append(begun, a)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(begun) != attempts {
				t.Fatalf("%d of 64 parallel attempts begun, want %d", len(begun), attempts)
			}
			var locked []string
			for _, a := range begun {
				locked = append(locked, a.Failure()...)
			}
			if len(locked) != 1 {
				t.Errorf("the failures locked %v, want one key", locked)
			}
			if _, until, ok := l.begin(tt.address(99), tt.user(99)); ok || until.IsZero() {
				t.Errorf("Begin after %d failures: ok=%v until=%v, want refused until the lock ends", attempts, ok, until)
			}
		})
	}
}

func TestLockoutAttemptEnds(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 2, Window: time.Minute, Duration: time.Hour, AccountAttempts: 2})
	begin := func(address, account string) *Attempt {
		t.Helper()
		a, until, ok := l.begin(address, account)
		if !ok {
			t.Fatalf("Begin(%q, %q) refused (until %v)", address, account, until)
		}
		return a
	}
	refused := func(address, account string) {
		t.Helper()
		if a, until, ok := l.begin(address, account); ok {
			a.Release()
			t.Fatalf("Begin(%q, %q) allowed", address, account)
		} else if !until.IsZero() {
			t.Fatalf("Begin(%q, %q) refused until %v, want zero (attempts in flight, not a lock)", address, account, until)
		}
	}

	// Released attempts count neither way; a second end does nothing.
	a1, a2 := begin("a", "x"), begin("a", "x")
	refused("b", "x")
	a1.Release()
	a1.Failure()
	a1.Release()
	a3 := begin("b", "x")
	a2.Release()
	a3.Release()
	if locked, _ := l.locked("a", "x"); locked {
		t.Fatal("locked by released attempts")
	}

	// A success clears the account's failures but keeps the reservation
	// of another attempt still being checked.
	a1, a2 = begin("a", "x"), begin("b", "x")
	a1.Success()
	a3 = begin("c", "x") // a2 and a3 in flight: the account is full
	refused("d", "x")
	a2.Failure()
	if got := a3.Failure(); !slices.Equal(got, []string{"account"}) {
		t.Fatalf("two failures at x locked %v, want the account", got)
	}
	if _, until, ok := l.begin("e", "x"); ok || !until.Equal(clock.t.Add(time.Hour)) {
		t.Fatalf("after the lock: ok=%v until=%v", ok, until)
	}

	// Turned off, nothing is reserved; turned on again, an attempt begun
	// while off ends without harm.
	l.SetPolicy(LockoutPolicy{})
	off := begin("f", "y")
	l.SetPolicy(LockoutPolicy{Attempts: 1, Window: time.Minute, Duration: time.Hour, AccountAttempts: 1})
	off.Release()
	begin("f", "y").Release()
}

// Entries with attempts in flight survive a full table.
func TestLockoutKeepsReservationsWhenFull(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 1, Window: time.Second, Duration: time.Minute, AccountAttempts: 1})
	a, _, ok := l.begin("keep", "")
	if !ok {
		t.Fatal("Begin refused")
	}
	for i := 0; i < maxLockoutEntries+5000; i++ {
		l.failUnreserved(fmt.Sprint("addr", i), "")
		if i%1000 == 0 {
			clock.advance(2 * time.Second)
		}
	}
	if _, _, ok := l.begin("keep", ""); ok {
		t.Error("the reservation was dropped when the table filled")
	}
	a.Release()
}

// Many logons of one account at once with the right password all get
// through BeginWait (a test rig opening 50 sessions of one account), never
// more than Attempts checks at a time; wrong passwords at once get no more
// checks than Attempts, and the rest are refused once the lock is set.
func TestLockoutBeginWait(t *testing.T) {
	const attempts, parallel = 3, 20
	l := NewLockout(LockoutPolicy{Attempts: attempts, Window: time.Minute, Duration: time.Minute, AccountAttempts: attempts})
	var mu sync.Mutex
	inFlight, most, failures, refused := 0, 0, 0, 0
	run := func(right bool) {
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, _, err := l.BeginWait(context.Background(), fmt.Sprint("10.0.0.", i), "alice")
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					return
				}
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // the password check
				mu.Lock()
				inFlight--
				if !right {
					failures++
				}
				mu.Unlock()
				if right {
					a.Success()
				} else {
					a.Failure()
				}
			}()
		}
		wg.Wait()
	}
	run(true)
	if refused != 0 || most > attempts {
		t.Fatalf("right passwords: %d refused, at most %d at once; want 0 refused, at most %d", refused, most, attempts)
	}
	run(false)
	if failures > attempts || failures+refused != parallel {
		t.Errorf("wrong passwords: %d checked, %d refused; want at most %d checked and the rest refused", failures, refused, attempts)
	}
	// A waiter gives up when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l2 := NewLockout(LockoutPolicy{Attempts: 1, Window: time.Minute, Duration: time.Minute, AccountAttempts: 1})
	if _, _, err := l2.BeginWait(ctx, "10.0.0.1", "bob"); err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	if _, _, err := l2.BeginWait(ctx, "10.0.0.2", "bob"); !errors.Is(err, context.Canceled) {
		t.Errorf("second attempt while the first is in flight, context ended: %v, want context.Canceled", err)
	}
}

// Waiters are served first come, first served: under a steady stream of
// logons none waits behind later arrivals until its deadline.
func TestLockoutBeginWaitInOrder(t *testing.T) {
	l := NewLockout(LockoutPolicy{Attempts: 1, Window: time.Minute, Duration: time.Minute, AccountAttempts: 1})
	first, _, err := l.BeginWait(context.Background(), "10.0.0.1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 5)
	for i := range 5 {
		go func() {
			a, _, err := l.BeginWait(context.Background(), fmt.Sprint("10.0.1.", i), "alice")
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			a.Success()
		}()
		for { // queued before the next one starts
			l.mu.Lock()
			n := len(l.waiters)
			l.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	first.Success()
	for want := range 5 {
		if got := <-order; got != want {
			t.Fatalf("waiter %d served in place %d", got, want)
		}
	}
}

// TestLockoutPolicyLowered: failures recorded under a higher limit, now at
// or over a lowered one, lock at once; they must not leave a logon waiting
// for a turn that nothing in flight will ever give back. A waiter queued
// under the old policy is served or refused by the new one.
func TestLockoutPolicyLowered(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 10, Window: 10 * time.Minute, Duration: 5 * time.Minute, AccountAttempts: 10})
	for range 5 {
		l.failUnreserved("10.0.0.1", "alice")
	}
	l.SetPolicy(LockoutPolicy{Attempts: 3, Window: 10 * time.Minute, Duration: 5 * time.Minute, AccountAttempts: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, until, err := l.BeginWait(ctx, "10.0.0.2", "alice")
	if !errors.Is(err, ErrLockedOut) || !until.Equal(clock.now().Add(5*time.Minute)) {
		t.Fatalf("account over the lowered limit: BeginWait = %v until %v; want ErrLockedOut until %v", err, until, clock.now().Add(5*time.Minute))
	}
	if _, until, ok := l.begin("10.0.0.1", "carol"); ok || until.IsZero() {
		t.Fatalf("address over the lowered limit: Begin = %v until %v; want refused, locked", ok, until)
	}

	// One in flight fills a limit of 1; raising the limit serves the waiter.
	l.SetPolicy(LockoutPolicy{Attempts: 1, Window: time.Minute, Duration: time.Minute, AccountAttempts: 1})
	first, _, ok := l.begin("10.0.1.1", "bob")
	if !ok {
		t.Fatal("first attempt refused")
	}
	got := make(chan error, 1)
	go func() {
		a, _, err := l.BeginWait(ctx, "10.0.1.2", "bob")
		if err == nil {
			a.Release()
		}
		got <- err
	}()
	for {
		l.mu.Lock()
		n := len(l.waiters)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	l.SetPolicy(LockoutPolicy{Attempts: 2, Window: time.Minute, Duration: time.Minute, AccountAttempts: 2})
	if err := <-got; err != nil {
		t.Fatalf("waiter after the limit was raised: %v", err)
	}
	first.Release()
}

// One source typing wrong passwords at a known name locks the name for its
// own network only (and its own address): the account's owner elsewhere
// still logs on. Failures from many networks lock the account for all,
// at accountFactor times the limit. An IPv6 source network is its /64.
func TestLockoutAccountPerSourceNetworkFirst(t *testing.T) {
	const attempts = 10
	l, clock := newTestLockout(LockoutPolicy{Attempts: attempts, Window: 10 * time.Minute, Duration: 15 * time.Minute})
	for i := range attempts {
		got := l.failUnreserved("203.0.113.5", "alice")
		if i == attempts-1 && !slices.Equal(got, []string{kindAddress, kindAccountNetwork}) {
			t.Fatalf("the %dth failure from one address locked %v; want the address and alice from its network", attempts, got)
		}
	}
	if locked, _ := l.locked("198.51.100.7", "alice"); locked {
		t.Fatal("alice locked for everyone by one address's failures")
	}
	a, _, ok := l.begin("198.51.100.7", "alice")
	if !ok {
		t.Fatal("alice's logon from another network refused")
	}
	a.Success()

	// Addresses of one /64 are one source for an account.
	for i := range attempts {
		l.failUnreserved(fmt.Sprintf("2001:db8:1:2::%x", i+1), "bob")
	}
	if locked, _ := l.locked("2001:db8:1:2::ffff", "bob"); !locked {
		t.Error("bob not locked from the /64 whose addresses failed at him")
	}
	for _, ok := range []struct{ address, account string }{{"2001:db8:1:2::ffff", "carol"}, {"2001:db8:1:3::1", "bob"}} {
		if locked, _ := l.locked(ok.address, ok.account); locked {
			t.Errorf("%s from %s locked", ok.account, ok.address)
		}
	}

	// A spread attack: failures from many networks lock the account for
	// every source once they reach accountFactor × attempts.
	n := accountFactor * attempts
	for i := range n {
		got := l.failUnreserved(fmt.Sprintf("192.0.2.%d", i+1), "dave")
		if locks := slices.Contains(got, kindAccount); locks != (i == n-1) {
			t.Fatalf("failure %d of %d from distinct networks locked %v", i+1, n, got)
		}
	}
	if locked, until := l.locked("10.0.0.1", "dave"); !locked || !until.Equal(clock.t.Add(15*time.Minute)) {
		t.Errorf("dave after %d failures from many networks: locked %v until %v", n, locked, until)
	}
}

func TestLockoutSourceNetwork(t *testing.T) {
	for _, c := range []struct {
		p             LockoutPolicy
		address, want string
	}{
		{LockoutPolicy{}, "192.0.2.7", "192.0.2.7/32"},
		{LockoutPolicy{}, "::ffff:192.0.2.7", "192.0.2.7/32"},
		{LockoutPolicy{}, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{LockoutPolicy{}, "fe80::1%eth0", "fe80::/64"},
		{LockoutPolicy{SourcePrefix4: 24, SourcePrefix6: 48}, "192.0.2.7", "192.0.2.0/24"},
		{LockoutPolicy{SourcePrefix4: 24, SourcePrefix6: 48}, "2001:db8:1:2::1", "2001:db8:1::/48"},
		{LockoutPolicy{}, "pipe", "pipe"},
	} {
		if got := c.p.network(c.address); got != c.want {
			t.Errorf("%+v: network(%q) = %q, want %q", c.p, c.address, got, c.want)
		}
	}
}
