package server

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// testStartup is a connection of the pool at a stage, last heard from
// `quiet` ago.
func testStartup(src string, st stage, quiet time.Duration) *startup {
	s := newStartup(netip.MustParsePrefix(src), netip.MustParsePrefix(src).Addr(), src, func() {})
	s.stage.Store(int32(st))
	s.heardAt.Store(monoNow() - int64(quiet))
	return s
}

// The eviction policy: the least advanced first, then the one silent
// longest; a source at its limit is refused instead.
func TestStartupsEviction(t *testing.T) {
	type conn struct {
		src   string
		stage stage
		quiet time.Duration
	}
	for _, tt := range []struct {
		name      string
		pool      []conn
		max, per  int
		newcomer  string
		victim    int // index in pool; -1 = none
		refused   bool
		remaining int
	}{
		{"room: nobody evicted", []conn{{"10.0.0.1/32", stageConnected, time.Minute}}, 2, 16, "10.0.0.2/32", -1, false, 2},
		{"full: the silent one goes before the talking one",
			[]conn{{"10.0.0.1/32", stageTalking, 30 * time.Second}, {"10.0.0.2/32", stageConnected, time.Second}}, 2, 16, "10.0.0.3/32", 1, false, 2},
		{"full: of the silent, the oldest",
			[]conn{{"10.0.0.1/32", stageConnected, time.Second}, {"10.0.0.2/32", stageConnected, 5 * time.Second}, {"10.0.0.3/32", stageConnected, 2 * time.Second}}, 3, 16, "10.0.0.4/32", 1, false, 3},
		{"full: a typed login name outlasts quiet negotiation",
			[]conn{{"10.0.0.1/32", stageNamed, time.Minute}, {"10.0.0.2/32", stageTalking, time.Second}}, 2, 16, "10.0.0.3/32", 1, false, 2},
		{"full of names: the quietest name goes",
			[]conn{{"10.0.0.1/32", stageNamed, 3 * time.Second}, {"10.0.0.2/32", stageNamed, 9 * time.Second}, {"10.0.0.3/32", stageChecking, time.Minute}}, 3, 16, "10.0.0.4/32", 1, false, 3},
		{"source at its limit: refused, nobody evicted",
			[]conn{{"10.0.0.1/32", stageConnected, time.Minute}, {"10.0.0.1/32", stageConnected, time.Minute}}, 10, 2, "10.0.0.1/32", -1, true, 2},
		{"source at its limit even when the pool is full",
			[]conn{{"10.0.0.1/32", stageConnected, time.Minute}, {"10.0.0.2/32", stageConnected, time.Minute}}, 2, 1, "10.0.0.1/32", -1, true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newStartups()
			var pool []*startup
			for _, c := range tt.pool {
				s := testStartup(c.src, c.stage, c.quiet)
				if _, ok := p.admit(s, 100, 100); !ok {
					t.Fatal("setting up the pool")
				}
				pool = append(pool, s)
			}
			victims, ok := p.admit(newStartup(netip.MustParsePrefix(tt.newcomer), netip.Addr{}, "", func() {}), tt.max, tt.per)
			if ok == tt.refused {
				t.Fatalf("admitted = %v, want %v", ok, !tt.refused)
			}
			switch {
			case tt.victim < 0 && len(victims) > 0:
				t.Errorf("evicted %d connections, want none", len(victims))
			case tt.victim >= 0 && (len(victims) != 1 || victims[0] != pool[tt.victim]):
				t.Errorf("evicted %v, want connection %d", victims, tt.victim)
			}
			if n, _ := p.len(); n != tt.remaining {
				t.Errorf("%d connections in the pool, want %d", n, tt.remaining)
			}
			for _, v := range victims {
				if p.release(v) != removedEvicted {
					t.Error("release of an evicted connection does not say it was evicted")
				}
			}
			if n, _ := p.len(); n != tt.remaining {
				t.Errorf("releasing the evicted changed the pool: %d, want %d", n, tt.remaining)
			}
		})
	}
}

// Lowering max_startups evicts down to it with the next newcomer, and
// the per-source counts follow every way out.
func TestStartupsShrinkAndRelease(t *testing.T) {
	p := newStartups()
	var all []*startup
	for i := range 10 {
		s := testStartup(fmt.Sprintf("10.0.0.%d/32", i%3), stageConnected, time.Duration(10-i)*time.Second)
		p.admit(s, 100, 100)
		all = append(all, s)
	}
	victims, ok := p.admit(testStartup("10.0.0.9/32", stageConnected, 0), 4, 100)
	if !ok || len(victims) != 7 {
		t.Fatalf("admit after lowering to 4: ok %v, %d evicted, want 7", ok, len(victims))
	}
	for i, v := range victims {
		if v != all[i] {
			t.Errorf("eviction %d was not the oldest left", i)
		}
	}
	for _, s := range all {
		p.release(s)
	}
	if n, sources := p.len(); n != 1 || sources != 1 {
		t.Errorf("after releasing all but the newcomer: %d connections from %d sources, want 1 from 1", n, sources)
	}
}

func TestStartupStageOnlyAdvances(t *testing.T) {
	s := newStartup(netip.MustParsePrefix("10.0.0.1/32"), netip.Addr{}, "", func() {})
	s.advance(stageNamed)
	s.heard() // talking is behind named
	if got := stage(s.stage.Load()); got != stageNamed {
		t.Errorf("stage %v after heard, want %v", got, stageNamed)
	}
	var none *startup
	none.heard() // a connection outside the pool (no startup) is fine
	none.advance(stageNamed)
	none.ended(outcomeFailed)
}

func TestPenalties(t *testing.T) {
	src := netip.MustParsePrefix("192.0.2.1/32")
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		at      time.Duration // after t0
		charge  time.Duration // 0 = only look
		refused bool          // refused just after
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"a typo or two is free", []step{{0, penaltyFailed, false}, {time.Second, penaltyFailed, false}}},
		{"charges add up to a refusal", []step{{0, penaltyTimeout, false}, {0, penaltyTimeout, false}, {0, penaltyTimeout, true}, {29 * time.Second, 0, true}, {31 * time.Second, 0, false}}},
		{"charges wear off in real time", []step{{0, penaltyTimeout, false}, {0, penaltyTimeout, false}, {20 * time.Second, penaltyTimeout, false}}},
		{"fifteen silent connections at once", func() []step {
			var s []step
			for range 14 {
				s = append(s, step{0, penaltySilent, false})
			}
			return append(s, step{0, penaltySilent, true})
		}()},
		{"capped at penaltyMax", func() []step {
			var s []step
			for range 200 {
				s = append(s, step{0, penaltyTimeout, true})
			}
			s[0].refused, s[1].refused = false, false
			return append(s, step{penaltyMax - time.Second, 0, true}, step{penaltyMax, 0, false})
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPenalties(10)
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				if st.charge > 0 {
					p.charge(src, st.charge, now)
				}
				if _, refused := p.refusedUntil(src, now); refused != st.refused {
					t.Fatalf("step %d (+%s): refused %v, want %v", i, st.at, refused, st.refused)
				}
			}
		})
	}
}

// The table is bounded: a new source past it is not charged (and says
// so) until worn-off entries are swept.
func TestPenaltiesBounded(t *testing.T) {
	p := newPenalties(3)
	t0 := time.Unix(1_000_000, 0)
	for i := range 3 {
		if _, full := p.charge(netip.MustParsePrefix(fmt.Sprintf("10.0.0.%d/32", i)), penaltySilent, t0); full {
			t.Fatal("full before its size")
		}
	}
	if _, full := p.charge(netip.MustParsePrefix("10.0.0.9/32"), penaltySilent, t0); !full {
		t.Error("a fourth source was charged in a table of three")
	}
	if p.len() != 3 {
		t.Errorf("%d entries, want 3", p.len())
	}
	if _, full := p.charge(netip.MustParsePrefix("10.0.0.9/32"), penaltySilent, t0.Add(time.Minute)); full {
		t.Error("worn-off entries were not swept to make room")
	}
	if p.len() != 1 {
		t.Errorf("%d entries after the sweep, want 1", p.len())
	}
}

func TestAllowed(t *testing.T) {
	cidrs := func(s ...string) config.CIDRs {
		var out config.CIDRs
		for _, c := range s {
			out = append(out, netip.MustParsePrefix(c))
		}
		return out
	}
	for _, tt := range []struct {
		name        string
		allow, deny config.CIDRs
		addr        string
		want        bool
	}{
		{"no lists: everyone", nil, nil, "203.0.113.5", true},
		{"denied", nil, cidrs("203.0.113.0/24"), "203.0.113.5", false},
		{"not denied", nil, cidrs("203.0.113.0/24"), "198.51.100.1", true},
		{"allowed", cidrs("10.0.0.0/8"), nil, "10.1.1.1", true},
		{"not in allow", cidrs("10.0.0.0/8"), nil, "11.1.1.1", false},
		{"deny wins over allow", cidrs("10.0.0.0/8"), cidrs("10.66.0.0/16"), "10.66.1.1", false},
		{"IPv6 allowed", cidrs("2001:db8::/32"), nil, "2001:db8::7", true},
		{"IPv4-mapped matches as IPv4", nil, cidrs("10.0.0.0/8"), "::ffff:10.0.0.1", false},
		{"an address that is not IP, with an allow list", cidrs("10.0.0.0/8"), nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Allow, cfg.Deny = tt.allow, tt.deny
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			if got := allowed(&cfg, a); got != tt.want {
				t.Errorf("allowed(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

// Under any rate of refusals, the audit gets at most floodFirst records
// per source and kind, for floodSources sources, and the summaries.
func TestFloodAuditBounded(t *testing.T) {
	srv, audit := newTestServer(t, "", "telnet-clients:\n", "")
	f := newFloodAudit(srv.audit, time.Hour) // flushed by hand
	for i := range 1000 {
		src := fmt.Sprintf("127.0.%d.%d", i/250, i%250+1)
		for range 50 {
			f.record(refusedPerSource, src, "remote", src+":1000")
		}
		f.record(refusedDenied, "127.0.9.1", "remote", "127.0.9.1:1")
	}
	f.flush()
	lines := strings.Count(audit.String(), "\n")
	// refusedDenied from one source: 3 + 1 summary; refusedPerSource:
	// the other 127 sources' 3 each and summaries, and one for the rest.
	if want := floodSources*(floodFirst+1) + 1; lines != want {
		t.Errorf("%d records, want %d", lines, want)
	}
	// The interval's length is how long the loop took: 0s, or more on a
	// loaded machine (a minute or more reads 1m0s).
	if !regexp.MustCompile(`"msg":"refused 1000 connections from 127\.0\.9\.1 in ([0-9]+h)?([0-9]+m)?[0-9]+s: address not allowed \(allow, deny\)"`).MatchString(audit.String()) {
		t.Errorf("no summary for 127.0.9.1:\n%s", tail(audit.String(), 5))
	}
	if got := countSummarised(t, audit, "connection_refused"); got != 1000*51 {
		t.Errorf("the records and summaries count %d refusals, want %d", got, 1000*51)
	}
	// A new interval writes the first ones again.
	before := len(audit.String())
	f.record(refusedDenied, "127.0.9.1", "remote", "127.0.9.1:1")
	f.flush()
	if next := audit.String()[before:]; strings.Count(next, `"event":"connection_refused"`) != 1 || strings.Contains(next, "audit_summary") {
		t.Errorf("the next interval:\n%s", next)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Through serveConn: a denied address is closed before any byte; with
// the pool full, a newcomer gets its prompt and the silent connection
// that has waited longest is closed; a source at its limit is refused.
func TestAdmission(t *testing.T) {
	srv, audit := newTestServer(t, "", "telnet-clients:\n", "max_startups: 3\nper_source_max_startups: 2\ndeny: [192.0.2.99]\n")

	server, client := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveConn(srv.ctx, &addrConn{Conn: server, remote: tcpAddr("192.0.2.99", 1)}, false)
	}()
	if b, err := io.ReadAll(client); len(b) != 0 || err != nil {
		t.Errorf("a denied address got %q, %v; want nothing and a close", b, err)
	}
	<-done

	// Three silent connections fill the pool; each is closed when evicted.
	var silent []*testClient
	var ended []chan struct{}
	for i := range 3 {
		tc, done := connect(srv, fmt.Sprintf("198.51.100.%d", i+1), 1000)
		waitPool(t, srv, i+1)
		silent, ended = append(silent, tc), append(ended, done)
	}
	// A fourth, from elsewhere, is let in: it answers negotiation at
	// once and gets its prompt.
	tc, _ := connect(srv, "203.0.113.1", 1000)
	tc.Write([]byte{255, 253, 1, 255, 253, 3})
	tc.waitFor(t, "login: ")
	select {
	case <-ended[0]:
	case <-time.After(10 * time.Second):
		t.Fatal("the oldest silent connection was not closed")
	}
	// The second source connection from 203.0.113.1 is let in; a
	// third is refused.
	tc2, _ := connect(srv, "203.0.113.1", 1001)
	tc2.Write([]byte{255, 253, 1})
	tc2.waitFor(t, "login: ")
	tc3, done3 := connect(srv, "203.0.113.1", 1002)
	tc3.waitFor(t, msgTooManyPending)
	<-done3
	select {
	case <-ended[1]:
	case <-time.After(10 * time.Second):
		t.Fatal("the second silent connection was not closed")
	}
	tc.Close()
	tc2.Close()
	for _, c := range silent {
		c.Close()
	}
	if n := countEvents(audit, "connection_evicted"); n != 2 {
		t.Errorf("%d connection_evicted records, want 2:\n%s", n, audit)
	}
}

func waitPool(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := srv.startups.len(); got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool never held %d connections", n)
		}
		time.Sleep(time.Millisecond)
	}
}
