package auth

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// LockoutPolicy is the brute-force rule: after Attempts failures within
// Window from one source address, or at one account from one source
// network, further attempts from that address, or at that account from
// that network, are refused for Duration; after AccountAttempts failures
// at one account from anywhere, attempts at it from everywhere are.
// Attempts 0 turns it off.
//
// The account is counted per source network first so that one host
// cannot keep a known user out by typing wrong passwords at the name (ten
// of them locked the account for everyone): it locks the account only
// for its own network, and its own address anyway. Locking the account
// for every source takes failures from many networks, which is a spread
// guessing attack, the thing the account lock is for.
type LockoutPolicy struct {
	Attempts int
	Window   time.Duration
	Duration time.Duration
	// AccountAttempts is the failures at one account, from any source,
	// that lock it for all; 0 means accountFactor × Attempts.
	AccountAttempts int
	// SourcePrefix4 and SourcePrefix6 are the prefix lengths that make an
	// IPv4 or IPv6 address's source network; 0 means 32 and 64 (one
	// host: a host has a /64 of its own). (The network edge's
	// source_netblock setting is the place to set them from.)
	SourcePrefix4, SourcePrefix6 int
}

// accountFactor is how many times Attempts failures, from any number of
// sources, lock an account for all of them when AccountAttempts is 0: with
// the default 10, 50 failures within the window, which no one source can
// make (its address locks at 10).
const accountFactor = 5

// The kinds of record the lockout keeps, as the audit trail names them.
const (
	kindAddress        = "address"         // one source address, any account
	kindAccountNetwork = "account_network" // one account from one source network
	kindAccount        = "account"         // one account from anywhere
)

// limit is the failures that lock a record of kind.
func (p LockoutPolicy) limit(kind string) int {
	if kind != kindAccount {
		return p.Attempts
	}
	if p.AccountAttempts > 0 {
		return p.AccountAttempts
	}
	return accountFactor * p.Attempts
}

// network returns the source network of address (a CIDR prefix), or
// address itself when it is not an IP address.
func (p LockoutPolicy) network(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	a = a.WithZone("").Unmap()
	bits := cmp.Or(p.SourcePrefix4, 32)
	if a.Is6() {
		bits = cmp.Or(p.SourcePrefix6, 64)
	}
	pfx, err := a.Prefix(bits)
	if err != nil {
		return address
	}
	return pfx.String()
}

// maxLockoutEntries caps the memory an attacker spraying addresses or
// names can make the lockout table take. Past it, the oldest-touched
// entries that are not locked are dropped first.
const maxLockoutEntries = 100000

// Lockout tracks failed logons per source address, per account from each
// source network, and per account (see LockoutPolicy). It is
// checked before any password work, so a locked-out attempt costs no
// bcrypt time. Unknown account names are tracked like known ones, so a
// lockout reveals nothing about which accounts exist.
//
// A logon reserves its attempt with BeginWait before the password check: a
// check takes long enough (and may wait for a bcrypt slot) that parallel
// connections would otherwise all pass the lock before the first failure
// was recorded, and get as many guesses as they have connections.
type Lockout struct {
	mu      sync.Mutex
	policy  LockoutPolicy
	entries map[lockKey]*lockEntry
	now     func() time.Time
	waiters []*waiter // BeginWait's, oldest first
}

type lockKey struct {
	kind    string // kindAddress, kindAccountNetwork or kindAccount
	name    string // the address or the account
	network string // kindAccountNetwork's source network
}

type lockEntry struct {
	failures    []time.Time // within the window, oldest first; at most Attempts
	inFlight    int         // attempts begun and not yet ended; they count as failures
	lockedUntil time.Time
	touched     time.Time
}

// recent counts the failures still inside the window.
func (e *lockEntry) recent(now time.Time, window time.Duration) int {
	n := 0
	for _, t := range e.failures {
		if now.Sub(t) < window {
			n++
		}
	}
	return n
}

// NewLockout returns a lockout table with policy p.
func NewLockout(p LockoutPolicy) *Lockout {
	return &Lockout{policy: p, entries: map[lockKey]*lockEntry{}, now: time.Now}
}

// SetPolicy changes the policy; records kept so far stay. Logons waiting
// for their turn are served, or refused, by the new policy at once.
func (l *Lockout) SetPolicy(p LockoutPolicy) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.policy = p
	l.serveWaiters()
}

// Attempt is one logon attempt reserved by BeginWait. End it with exactly one
// of Failure, Success or Release; further calls do nothing.
type Attempt struct {
	l                *Lockout
	address, account string
	reserved         []lockKey // whose inFlight this attempt counts in
	ended            bool
}

// beginLocked reserves an attempt from address at account, before its
// password is checked. It is refused (nil, false) when either is locked
// out, with until the end of the lock, or when failures and attempts in
// flight already reach the policy's Attempts (until is then zero: the
// refusal lasts until one of those attempts ends or a failure leaves the
// window). Called with l.mu held.
func (l *Lockout) beginLocked(address, account string) (a *Attempt, until time.Time, ok bool) {
	a = &Attempt{l: l, address: address, account: account}
	p := l.policy
	if p.Attempts <= 0 {
		return a, time.Time{}, true
	}
	now := l.now()
	full := false
	ks := p.keys(address, account)
	for _, k := range ks {
		e := l.entries[k]
		switch {
		case e == nil:
		case !now.Before(e.lockedUntil) && e.recent(now, p.Window) >= p.limit(k.kind):
			// Failures at the limit lock when the last of them is
			// recorded, so this many unlocked ones were recorded under
			// a higher limit. They lock now: waiting for an attempt in
			// flight to end, as below, could wait for none.
			e.lockedUntil = now.Add(p.Duration)
			e.failures = e.failures[:0]
			fallthrough
		case now.Before(e.lockedUntil):
			if e.lockedUntil.After(until) {
				until = e.lockedUntil
			}
		case e.recent(now, p.Window)+e.inFlight >= p.limit(k.kind):
			full = true
		}
	}
	if !until.IsZero() || full {
		return nil, until, false
	}
	for _, k := range ks {
		l.entry(k, now).inFlight++
	}
	a.reserved = ks
	return a, time.Time{}, true
}

// ErrLockedOut is BeginWait's refusal: the address or the account is
// locked out until the time it returns.
var ErrLockedOut = errors.New("locked out")

// BeginWait reserves a logon's attempt from address at account (see
// beginLocked); when attempts in flight fill the limit it waits, until ctx is done, for its turn, first come first served. A
// script or test rig that opens many sessions of one account at once
// must get them all (the password checks run a few at a time anyway);
// parallel guesses still get no more checks than the limit allows, and
// once their failures lock the account the waiters are refused. It
// returns ctx's error if ctx ends first.
func (l *Lockout) BeginWait(ctx context.Context, address, account string) (*Attempt, time.Time, error) {
	l.mu.Lock()
	a, until, ok := l.beginLocked(address, account)
	if ok || !until.IsZero() || len(l.waiters) > maxWaiters {
		l.mu.Unlock()
		return result(a, until, ok)
	}
	w := &waiter{address: address, account: account, done: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()
	select {
	case <-w.done:
		return result(w.a, w.until, w.a != nil)
	case <-ctx.Done():
	}
	l.mu.Lock()
	if i := slices.Index(l.waiters, w); i >= 0 {
		l.waiters = slices.Delete(l.waiters, i, i+1)
		l.mu.Unlock()
		return nil, time.Time{}, ctx.Err()
	}
	l.mu.Unlock()
	if w.a != nil { // served just as ctx ended
		w.a.Release()
	}
	return nil, time.Time{}, ctx.Err()
}

// maxWaiters bounds BeginWait's queue; past it an attempt is refused as
// beginLocked refuses it. (The server's max_connections bounds it first.)
const maxWaiters = 100000

func result(a *Attempt, until time.Time, ok bool) (*Attempt, time.Time, error) {
	if !ok {
		return nil, until, ErrLockedOut
	}
	return a, time.Time{}, nil
}

// waiter is a BeginWait waiting for its turn.
type waiter struct {
	address, account string
	done             chan struct{} // closed when served: a, or until
	a                *Attempt
	until            time.Time
}

// serveWaiters gives the waiters, oldest first, the attempts now free, and
// refuses those whose address or account is now locked. Called with l.mu
// held, after an attempt's end is fully recorded.
func (l *Lockout) serveWaiters() {
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		a, until, ok := l.beginLocked(w.address, w.account)
		switch {
		case ok:
			w.a = a
			close(w.done)
		case !until.IsZero():
			w.until = until
			close(w.done)
		default:
			kept = append(kept, w)
		}
	}
	clear(l.waiters[len(kept):])
	l.waiters = kept
}

// Failure ends the attempt as a failed logon, and returns which of
// "address", "account_network" and "account" became locked by it (for the
// audit trail).
func (a *Attempt) Failure() (locked []string) {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if !a.end() {
		return nil
	}
	locked = a.l.failureLocked(a.address, a.account)
	a.l.serveWaiters()
	return locked
}

// Success ends the attempt as a successful logon: see successLocked.
func (a *Attempt) Success() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.end() {
		a.l.successLocked(a.address, a.account)
		a.l.serveWaiters()
	}
}

// Release ends the attempt without counting it either way: the password
// was never checked (shutdown, the login deadline), or it was right but
// the logon was refused for another reason.
func (a *Attempt) Release() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.end() {
		a.l.serveWaiters()
	}
}

// end gives back the reservation; false if the attempt had ended already.
// Called with l.mu held.
func (a *Attempt) end() bool {
	if a.ended {
		return false
	}
	a.ended = true
	for _, k := range a.reserved {
		// makeRoom keeps entries with attempts in flight, so e is there.
		if e := a.l.entries[k]; e != nil && e.inFlight > 0 {
			e.inFlight--
		}
	}
	return true
}

// entry returns k's entry, made (room made for it) if there is none, and
// marks it touched now. Called with l.mu held.
func (l *Lockout) entry(k lockKey, now time.Time) *lockEntry {
	e := l.entries[k]
	if e == nil {
		l.makeRoom(now)
		e = &lockEntry{}
		l.entries[k] = e
	}
	e.touched = now
	return e
}

func (l *Lockout) failureLocked(address, account string) (locked []string) {
	p := l.policy
	if p.Attempts <= 0 {
		return nil
	}
	now := l.now()
	for _, k := range p.keys(address, account) {
		limit := p.limit(k.kind)
		e := l.entry(k, now)
		// Keep only the failures inside the window.
		kept := e.failures[:0]
		for _, t := range e.failures {
			if now.Sub(t) < p.Window {
				kept = append(kept, t)
			}
		}
		e.failures = append(kept, now)
		if len(e.failures) > limit {
			e.failures = e.failures[len(e.failures)-limit:]
		}
		if len(e.failures) >= limit && !now.Before(e.lockedUntil) {
			e.lockedUntil = now.Add(p.Duration)
			e.failures = e.failures[:0]
			locked = append(locked, k.kind)
		}
	}
	return locked
}

// successLocked clears the account's records, from everywhere and from
// the address's network, after a successful logon from address. The
// address keeps its record: one good password from an address does not
// excuse a spray from it. Called with l.mu held.
func (l *Lockout) successLocked(address, account string) {
	for _, k := range l.policy.keys(address, account) {
		if k.kind == kindAddress {
			continue
		}
		e := l.entries[k]
		switch {
		case e == nil || l.now().Before(e.lockedUntil):
		case e.inFlight > 0:
			// Other attempts at the account are still being checked:
			// their reservations stay.
			e.failures = nil
		default:
			delete(l.entries, k)
		}
	}
}

// keys are the records an attempt from address at account counts in.
func (p LockoutPolicy) keys(address, account string) []lockKey {
	var ks []lockKey
	if address != "" {
		ks = append(ks, lockKey{kind: kindAddress, name: address})
	}
	if account != "" {
		if address != "" {
			ks = append(ks, lockKey{kind: kindAccountNetwork, name: account, network: p.network(address)})
		}
		ks = append(ks, lockKey{kind: kindAccount, name: account})
	}
	return ks
}

// makeRoom drops expired entries when the table is full, and if that is
// not enough, the unlocked ones touched longest ago: a full table must
// never stop recording.
func (l *Lockout) makeRoom(now time.Time) {
	if len(l.entries) < maxLockoutEntries {
		return
	}
	// Entries with attempts in flight are never dropped: their
	// reservations must hold (there are at most as many as connections).
	for k, e := range l.entries {
		if e.inFlight == 0 && !now.Before(e.lockedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) >= l.policy.Window) {
			delete(l.entries, k)
		}
	}
	if len(l.entries) < maxLockoutEntries*9/10 {
		return
	}
	// Still full of failures inside the window: drop the unlocked entries
	// touched longest ago, down to nine tenths, so that a spray from many
	// addresses does not wipe the record of the one being attacked now.
	var old []lockKey
	for k, e := range l.entries {
		if e.inFlight == 0 && !now.Before(e.lockedUntil) {
			old = append(old, k)
		}
	}
	slices.SortFunc(old, func(a, b lockKey) int { return l.entries[a].touched.Compare(l.entries[b].touched) })
	for _, k := range old[:min(len(old), len(l.entries)-maxLockoutEntries*9/10)] {
		delete(l.entries, k)
	}
}
