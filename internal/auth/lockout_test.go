package auth

import (
	"fmt"
	"slices"
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
	l, clock := newTestLockout(LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: 10 * time.Minute})
	// Three failures from one address at three different accounts lock
	// the address, not the accounts.
	for i, acct := range []string{"a", "b", "c"} {
		got := l.Failure("10.0.0.1", acct)
		if i < 2 && len(got) != 0 || i == 2 && !slices.Equal(got, []string{"address"}) {
			t.Fatalf("failure %d locked %v", i, got)
		}
		clock.advance(time.Second)
	}
	if locked, _ := l.Locked("10.0.0.1", "zzz"); !locked {
		t.Error("address not locked after 3 failures")
	}
	if locked, _ := l.Locked("10.0.0.2", "a"); locked {
		t.Error("account a locked by failures spread over accounts")
	}
	// Three failures at one account from three addresses lock the account.
	for i, addr := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"} {
		got := l.Failure(addr, "root")
		if i == 2 && !slices.Equal(got, []string{"account"}) {
			t.Fatalf("third failure at root locked %v", got)
		}
	}
	if locked, until := l.Locked("10.9.9.9", "root"); !locked || !until.Equal(clock.t.Add(10*time.Minute)) {
		t.Errorf("root: locked=%v until=%v", locked, until)
	}
	// The lock ends after Duration.
	clock.advance(10*time.Minute + time.Second)
	if locked, _ := l.Locked("10.9.9.9", "root"); locked {
		t.Error("still locked after duration")
	}
}

func TestLockoutWindow(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: time.Hour})
	l.Failure("a", "x")
	l.Failure("a", "x")
	clock.advance(2 * time.Minute) // the first two fall out of the window
	if got := l.Failure("a", "x"); len(got) != 0 {
		t.Errorf("locked %v by failures spread beyond the window", got)
	}
}

func TestLockoutSuccessClearsAccountOnly(t *testing.T) {
	l, _ := newTestLockout(LockoutPolicy{Attempts: 2, Window: time.Minute, Duration: time.Hour})
	l.Failure("a", "x")
	l.Success("x")
	if got := l.Failure("a", "x"); !slices.Equal(got, []string{"address"}) {
		t.Errorf("second failure locked %v, want address only (the account was cleared)", got)
	}
}

func TestLockoutOff(t *testing.T) {
	l, _ := newTestLockout(LockoutPolicy{})
	for i := 0; i < 100; i++ {
		l.Failure("a", "x")
	}
	if locked, _ := l.Locked("a", "x"); locked {
		t.Error("locked with attempts 0")
	}
}

// A spray of distinct addresses cannot grow the table without bound.
func TestLockoutBoundedMemory(t *testing.T) {
	l, clock := newTestLockout(LockoutPolicy{Attempts: 5, Window: time.Second, Duration: time.Minute})
	for i := 0; i < maxLockoutEntries+5000; i++ {
		l.Failure(fmt.Sprint("addr", i), "")
		if i%1000 == 0 {
			clock.advance(2 * time.Second)
		}
	}
	if n := len(l.entries); n > maxLockoutEntries {
		t.Errorf("%d entries, cap %d", n, maxLockoutEntries)
	}
}
