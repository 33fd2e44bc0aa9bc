package auth

import (
	"sync"
	"time"
)

// LockoutPolicy is the brute-force rule: after Attempts failures within
// Window from one source address, or against one account, further attempts
// from that address or at that account are refused for Duration.
// Attempts 0 turns it off.
type LockoutPolicy struct {
	Attempts int
	Window   time.Duration
	Duration time.Duration
}

// maxLockoutEntries caps the memory an attacker spraying addresses or
// names can make the lockout table take. Past it, the oldest-touched
// entries that are not locked are dropped first.
const maxLockoutEntries = 100000

// Lockout tracks failed logons per source address and per account. It is
// checked before any password work, so a locked-out attempt costs no
// bcrypt time. Unknown account names are tracked like known ones, so a
// lockout reveals nothing about which accounts exist.
type Lockout struct {
	mu      sync.Mutex
	policy  LockoutPolicy
	entries map[lockKey]*lockEntry
	now     func() time.Time
}

type lockKey struct {
	kind string // "address" or "account"
	name string
}

type lockEntry struct {
	failures    []time.Time // within the window, oldest first; at most Attempts
	lockedUntil time.Time
	touched     time.Time
}

// NewLockout returns a lockout table with policy p.
func NewLockout(p LockoutPolicy) *Lockout {
	return &Lockout{policy: p, entries: map[lockKey]*lockEntry{}, now: time.Now}
}

// SetPolicy changes the policy; records kept so far stay.
func (l *Lockout) SetPolicy(p LockoutPolicy) {
	l.mu.Lock()
	l.policy = p
	l.mu.Unlock()
}

// Locked reports whether attempts from address or at account are refused
// now, and until when.
func (l *Lockout) Locked(address, account string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.policy.Attempts <= 0 {
		return false, time.Time{}
	}
	now := l.now()
	var until time.Time
	for _, k := range keys(address, account) {
		if e := l.entries[k]; e != nil && now.Before(e.lockedUntil) && e.lockedUntil.After(until) {
			until = e.lockedUntil
		}
	}
	return !until.IsZero(), until
}

// Failure records a failed logon. It returns which of "address" and
// "account" became locked by it (for the audit trail).
func (l *Lockout) Failure(address, account string) (locked []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.policy
	if p.Attempts <= 0 {
		return nil
	}
	now := l.now()
	for _, k := range keys(address, account) {
		e := l.entries[k]
		if e == nil {
			l.makeRoom(now)
			e = &lockEntry{}
			l.entries[k] = e
		}
		e.touched = now
		// Keep only the failures inside the window.
		kept := e.failures[:0]
		for _, t := range e.failures {
			if now.Sub(t) < p.Window {
				kept = append(kept, t)
			}
		}
		e.failures = append(kept, now)
		if len(e.failures) > p.Attempts {
			e.failures = e.failures[len(e.failures)-p.Attempts:]
		}
		if len(e.failures) >= p.Attempts && !now.Before(e.lockedUntil) {
			e.lockedUntil = now.Add(p.Duration)
			e.failures = e.failures[:0]
			locked = append(locked, k.kind)
		}
	}
	return locked
}

// Success clears the account's record after a successful logon. The
// address keeps its record: one good password from an address does not
// excuse a spray from it.
func (l *Lockout) Success(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey{"account", account}
	if e := l.entries[k]; e != nil && !l.now().Before(e.lockedUntil) {
		delete(l.entries, k)
	}
}

func keys(address, account string) []lockKey {
	var ks []lockKey
	if address != "" {
		ks = append(ks, lockKey{"address", address})
	}
	if account != "" {
		ks = append(ks, lockKey{"account", account})
	}
	return ks
}

// makeRoom drops expired entries when the table is full, and if that is
// not enough, unlocked ones: a full table must never stop recording.
func (l *Lockout) makeRoom(now time.Time) {
	if len(l.entries) < maxLockoutEntries {
		return
	}
	for k, e := range l.entries {
		if !now.Before(e.lockedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) >= l.policy.Window) {
			delete(l.entries, k)
		}
	}
	for k, e := range l.entries {
		if len(l.entries) < maxLockoutEntries*9/10 {
			break
		}
		if !now.Before(e.lockedUntil) {
			delete(l.entries, k)
		}
	}
}
