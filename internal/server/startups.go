package server

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// stage is how far a connection not yet logged on has come. When the
// pool is full, the least advanced connection makes room first.
type stage int32

const (
	stageConnected stage = iota // nothing received yet
	stageTalking                // the client has sent something (negotiation, TLS)
	stageNamed                  // a login name typed
	stageChecking               // a password typed; being checked
)

// outcome is how a connection's logon ended, for the penalties.
type outcome int32

const (
	outcomeNone     outcome = iota // logged on, or left of its own accord
	outcomeFailed                  // failed logons, a refused client certificate, noise
	outcomeTimedOut                // login_timeout reached
)

// monoEpoch anchors the pool's clock: time.Since on it is monotonic, and
// an int64 of it fits an atomic.
var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// removal is why a connection left the startup pool before its logon
// ended, if it did.
type removal int8

const (
	notRemoved     removal = iota // still in the pool, or released by its own goroutine
	removedEvicted                // closed to make room (max_startups)
	removedDenied                 // closed because allow or deny, changed since, refuse it
)

// startup is one connection not yet logged on.
type startup struct {
	source netip.Prefix // its source (source_netblock)
	addr   netip.Addr   // the client's address (from the PROXY header, behind a balancer), for allow and deny
	remote string       // host:port, for the audit trail
	proxy  string       // the balancer's host:port behind PROXY, else ""
	end    func()       // closes the connection, for an eviction or a deny

	heardAt atomic.Int64 // monoNow of the last byte received; of admission until then
	stage   atomic.Int32
	outcome atomic.Int32

	// Under startups.mu.
	index   int // in startups.all; -1 once out of the pool
	removed removal
}

func newStartup(source netip.Prefix, addr netip.Addr, remote string, end func()) *startup {
	st := &startup{source: source, addr: addr, remote: remote, end: end, index: -1}
	st.heardAt.Store(monoNow())
	return st
}

// peer is the attributes of a record about st's connection (peerAttrs).
func (st *startup) peer(more ...any) []any {
	if st == nil {
		return peerAttrs("", "", more...)
	}
	return peerAttrs(st.remote, st.proxy, more...)
}

// heard records bytes from the client.
func (st *startup) heard() {
	if st == nil {
		return
	}
	st.heardAt.Store(monoNow())
	st.advance(stageTalking)
}

// advance moves st on to stage to; never back.
func (st *startup) advance(to stage) {
	if st == nil {
		return
	}
	for {
		cur := st.stage.Load()
		if stage(cur) >= to || st.stage.CompareAndSwap(cur, int32(to)) {
			return
		}
	}
}

// ended records how the logon ended (the last word counts).
func (st *startup) ended(o outcome) {
	if st != nil {
		st.outcome.Store(int32(o))
	}
}

// startups is the pool of connections not yet logged on (max_startups),
// counted per source as well (per_source_max_startups).
type startups struct {
	mu        sync.Mutex
	all       []*startup
	perSource map[netip.Prefix]int
}

func newStartups() *startups { return &startups{perSource: map[netip.Prefix]int{}} }

// admit puts st in the pool. A source at its limit is refused (ok
// false): it can only crowd out itself. A full pool refuses no one: the
// connections that have made least progress are taken out of it to make
// room (victims), and the caller closes them. The newcomer always gets
// its chance, so a flood of silent connections, however many addresses
// it comes from, only ever evicts itself.
func (p *startups) admit(st *startup, max, perSource int) (victims []*startup, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perSource[st.source] >= perSource {
		return nil, false
	}
	for len(p.all) >= max && len(p.all) > 0 { // more than one after max_startups is lowered
		v := p.victim()
		p.remove(v)
		v.removed = removedEvicted
		victims = append(victims, v)
	}
	st.index = len(p.all)
	p.all = append(p.all, st)
	p.perSource[st.source]++
	return victims, true
}

// victim is the connection to evict: the least advanced, and of those
// the one silent longest. A real client answers negotiation at once and
// types its name within seconds, so it is behind every connection that
// has sent nothing, and behind every one that has been quiet for longer
// than it has.
func (p *startups) victim() *startup {
	var best *startup
	var bestStage int32
	var bestHeard int64
	for _, c := range p.all {
		s, h := c.stage.Load(), c.heardAt.Load()
		if best == nil || s < bestStage || s == bestStage && h < bestHeard {
			best, bestStage, bestHeard = c, s, h
		}
	}
	return best
}

// release takes st out of the pool (logged on, or gone); it says whether
// an eviction or a deny already had, and so closed its connection.
func (p *startups) release(st *startup) removal {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.index >= 0 {
		p.remove(st)
	}
	return st.removed
}

// removeRefused takes out of the pool every connection whose address
// refused reports true for, and returns them; the caller closes them.
func (p *startups) removeRefused(refused func(netip.Addr) bool) (gone []*startup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Backwards: remove moves the last connection, already seen, into
	// the place it empties.
	for i := len(p.all) - 1; i >= 0; i-- {
		if st := p.all[i]; refused(st.addr) {
			p.remove(st)
			st.removed = removedDenied
			gone = append(gone, st)
		}
	}
	return gone
}

func (p *startups) remove(st *startup) {
	last := len(p.all) - 1
	p.all[st.index] = p.all[last]
	p.all[st.index].index = st.index
	p.all[last] = nil
	p.all = p.all[:last]
	st.index = -1
	if p.perSource[st.source]--; p.perSource[st.source] <= 0 {
		delete(p.perSource, st.source)
	}
}

// len returns the connections in the pool and the sources they come from.
func (p *startups) len() (conns, sources int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.perSource)
}
