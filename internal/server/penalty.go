package server

import (
	"net/netip"
	"sync"
	"time"
)

// What a source is charged for a connection that ends without a logon.
// Charges add up and wear off in real time; a source whose charges stand
// at penaltyThreshold or more is refused until they have worn off. A
// person who mistypes a password or leaves a prompt open now and then
// stays far below it; a source that keeps holding pre-logon slots does
// not.
const (
	penaltySilent    = 2 * time.Second  // sent nothing, or was evicted before typing a login name
	penaltyFailed    = 5 * time.Second  // failed logons, a refused certificate or TLS handshake, noise
	penaltyTimeout   = 10 * time.Second // reached login_timeout
	penaltyThreshold = 30 * time.Second
	penaltyMax       = 10 * time.Minute // charges stand at most this high

	// penaltyTableSize bounds the sources with charges standing. When it
	// is full, a new source is not charged: the safe side for real users,
	// while the startup pool's eviction still protects them.
	penaltyTableSize = 16384
	// penaltySweepEvery spaces the sweeps for worn-off entries that a full
	// table triggers, so a flood of new sources does not sweep per
	// connection.
	penaltySweepEvery = time.Second
)

// penalties holds the charges of each source.
type penalties struct {
	mu        sync.Mutex
	m         map[netip.Prefix]*penaltyEntry
	size      int
	lastSweep time.Time
}

type penaltyEntry struct {
	due     time.Time // when the charges have worn off
	refused time.Time // the source is refused until then
}

func newPenalties(size int) *penalties {
	return &penalties{m: map[netip.Prefix]*penaltyEntry{}, size: size}
}

// charge adds d to src's charges. refusedUntil is the end of the refusal
// that this charge begins or lengthens (zero if the source is not
// refused); full says the table had no room for src.
func (p *penalties) charge(src netip.Prefix, d time.Duration, now time.Time) (refusedUntil time.Time, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.m[src]
	if e == nil {
		if len(p.m) >= p.size {
			p.sweep(now)
		}
		if len(p.m) >= p.size {
			return time.Time{}, true
		}
		e = &penaltyEntry{}
		p.m[src] = e
	}
	e.due = earlier(later(e.due, now).Add(d), now.Add(penaltyMax))
	if e.due.Sub(now) >= penaltyThreshold {
		e.refused = e.due
		return e.refused, false
	}
	return time.Time{}, false
}

// refusedUntil reports whether src is refused now, and until when.
func (p *penalties) refusedUntil(src netip.Prefix, now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.m[src]
	if e == nil || !now.Before(e.refused) {
		return time.Time{}, false
	}
	return e.refused, true
}

// sweep drops the entries whose charges have worn off, at most once per
// penaltySweepEvery.
func (p *penalties) sweep(now time.Time) {
	if now.Sub(p.lastSweep) < penaltySweepEvery {
		return
	}
	p.lastSweep = now
	for src, e := range p.m {
		if !now.Before(e.due) && !now.Before(e.refused) {
			delete(p.m, src)
		}
	}
}

// len returns the sources with charges standing.
func (p *penalties) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
