package auth

import "time"

// Entry points into Lockout for its tests only. The daemon goes through
// BeginWait and ends each Attempt; these reach the table directly, so a
// test can set up a state (failures recorded without a reservation, a
// check of the lock with no attempt) that no logon could.

// begin is BeginWait without the wait: a refusal returns at once.
func (l *Lockout) begin(address, account string) (a *Attempt, until time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.beginLocked(address, account)
}

// locked reports whether attempts from address or at account are refused
// now, and until when.
func (l *Lockout) locked(address, account string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.policy.Attempts <= 0 {
		return false, time.Time{}
	}
	now := l.now()
	var until time.Time
	for _, k := range l.policy.keys(address, account) {
		if e := l.entries[k]; e != nil && now.Before(e.lockedUntil) && e.lockedUntil.After(until) {
			until = e.lockedUntil
		}
	}
	return !until.IsZero(), until
}

// failUnreserved records a failed logon that reserved no attempt, and
// returns which of "address" and "account" became locked by it.
func (l *Lockout) failUnreserved(address, account string) (locked []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failureLocked(address, account)
}

// succeedUnreserved records a successful logon that reserved no attempt.
func (l *Lockout) succeedUnreserved(address, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.successLocked(address, account)
}
