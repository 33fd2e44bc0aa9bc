package protocol

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// qEvent is something that happens to one side of one option.
type qEvent int

const (
	evRecvPosAllow  qEvent = iota // WILL (him) or DO (us), and we agree
	evRecvPosRefuse               // the same, and we do not
	evRecvNeg                     // WONT (him) or DONT (us)
	evReqEnable                   // we ask for the option to be enabled
	evReqDisable                  // we ask for it to be disabled
)

func (ev qEvent) String() string {
	return [...]string{"recv WILL/DO (allowed)", "recv WILL/DO (refused)", "recv WONT/DONT",
		"request enable", "request disable"}[ev]
}

func (q *qSide) handle(ev qEvent, pos, neg byte) qResult {
	switch ev {
	case evRecvPosAllow:
		return q.receivePositive(true, pos, neg)
	case evRecvPosRefuse:
		return q.receivePositive(false, pos, neg)
	case evRecvNeg:
		return q.receiveNegative(pos, neg)
	case evReqEnable:
		return q.request(true, pos, neg)
	default:
		return q.request(false, pos, neg)
	}
}

// TestQMethod checks every reachable (state, queue) pair against every event
// with RFC 1143 section 7's tables. Send is written for the "him" side
// (DO/DONT); the same table is run for the "us" side with WILL/WONT.
// "Error" entries of the RFC change nothing and send nothing.
func TestQMethod(t *testing.T) {
	const (
		E = false // queue EMPTY
		O = true  // queue OPPOSITE
	)
	type row struct {
		state   qState
		queue   bool
		ev      qEvent
		want    qState
		wantQ   bool
		send    byte // DO, DONT or 0
		enabled bool
	}
	rows := []row{
		// Upon receipt of WILL (him) / DO (us).
		{qNo, E, evRecvPosAllow, qYes, E, DO, true},
		{qNo, E, evRecvPosRefuse, qNo, E, DONT, false},
		{qYes, E, evRecvPosAllow, qYes, E, 0, false},
		{qYes, E, evRecvPosRefuse, qYes, E, 0, false},
		{qWantNo, E, evRecvPosAllow, qNo, E, 0, false}, // error: DONT answered by WILL
		{qWantNo, E, evRecvPosRefuse, qNo, E, 0, false},
		{qWantNo, O, evRecvPosAllow, qYes, E, 0, true}, // error: DONT answered by WILL
		{qWantNo, O, evRecvPosRefuse, qYes, E, 0, true},
		{qWantYes, E, evRecvPosAllow, qYes, E, 0, true},
		{qWantYes, E, evRecvPosRefuse, qYes, E, 0, true},
		{qWantYes, O, evRecvPosAllow, qWantNo, E, DONT, false},
		{qWantYes, O, evRecvPosRefuse, qWantNo, E, DONT, false},

		// Upon receipt of WONT (him) / DONT (us).
		{qNo, E, evRecvNeg, qNo, E, 0, false},
		{qYes, E, evRecvNeg, qNo, E, DONT, false},
		{qWantNo, E, evRecvNeg, qNo, E, 0, false},
		{qWantNo, O, evRecvNeg, qWantYes, E, DO, false},
		{qWantYes, E, evRecvNeg, qNo, E, 0, false},
		{qWantYes, O, evRecvNeg, qNo, E, 0, false},

		// If we decide to ask him to enable.
		{qNo, E, evReqEnable, qWantYes, E, DO, false},
		{qYes, E, evReqEnable, qYes, E, 0, false},         // error: already enabled
		{qWantNo, E, evReqEnable, qWantNo, O, 0, false},   // queued
		{qWantNo, O, evReqEnable, qWantNo, O, 0, false},   // error: already queued
		{qWantYes, E, evReqEnable, qWantYes, E, 0, false}, // error: already negotiating
		{qWantYes, O, evReqEnable, qWantYes, E, 0, false},

		// If we decide to ask him to disable.
		{qNo, E, evReqDisable, qNo, E, 0, false}, // error: already disabled
		{qYes, E, evReqDisable, qWantNo, E, DONT, false},
		{qWantNo, E, evReqDisable, qWantNo, E, 0, false}, // error: already negotiating
		{qWantNo, O, evReqDisable, qWantNo, E, 0, false},
		{qWantYes, E, evReqDisable, qWantYes, O, 0, false}, // queued
		{qWantYes, O, evReqDisable, qWantYes, O, 0, false}, // error: already queued
	}

	// Every reachable pair meets every event exactly once in the table.
	seen := map[string]bool{}
	for _, r := range rows {
		key := fmt.Sprint(r.state, r.queue, r.ev)
		if seen[key] {
			t.Fatalf("duplicate row %s", key)
		}
		seen[key] = true
	}
	if want := 6 * 5; len(seen) != want {
		t.Fatalf("table has %d rows, want %d", len(seen), want)
	}

	sides := []struct {
		name     string
		pos, neg byte
	}{
		{"him", DO, DONT},
		{"us", WILL, WONT},
	}
	for _, side := range sides {
		for _, r := range rows {
			q := qSide{state: r.state, opposite: r.queue}
			res := q.handle(r.ev, side.pos, side.neg)
			wantSend := r.send
			if side.pos == WILL && wantSend != 0 {
				wantSend = map[byte]byte{DO: WILL, DONT: WONT}[wantSend]
			}
			if q.state != r.want || q.opposite != r.wantQ || res.send != wantSend || res.enabled != r.enabled {
				t.Errorf("%s %v/%v + %v: got %v/%v send %s enabled %v; want %v/%v send %s enabled %v",
					side.name, r.state, queueName(r.queue), r.ev,
					q.state, queueName(q.opposite), verbName(res.send), res.enabled,
					r.want, queueName(r.wantQ), verbName(wantSend), r.enabled)
			}
		}
	}
}

func queueName(opposite bool) string {
	if opposite {
		return "OPPOSITE"
	}
	return "EMPTY"
}

func verbName(b byte) string {
	if b == 0 {
		return "nothing"
	}
	return CommandName(b)
}

// TestQMethodInvariants drives one side with random events: the queue bit
// is only ever set while a request is outstanding, a verb is sent only on
// a state change or to refuse a request, and two sides following the method settle with no more
// messages (no loops), whatever both decide.
func TestQMethodInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1143, 1))
	var q qSide
	for i := range 100000 {
		before := q
		ev := qEvent(r.IntN(5))
		res := q.handle(ev, DO, DONT)
		if (q.state == qNo || q.state == qYes) && q.opposite {
			t.Fatalf("step %d: %v with queue OPPOSITE", i, q.state)
		}
		refusal := ev == evRecvPosRefuse && before.state == qNo && res.send == DONT
		if res.send != 0 && before.state == q.state && !refusal {
			t.Fatalf("step %d: sent %s without a state change (%v)", i, CommandName(res.send), q.state)
		}
	}

	// Two compliant peers over an in-order channel: our "him" side for one
	// option against the client's "us" side for it. Random requests on
	// both ends, random agreement; every message is delivered, and the
	// exchange always drains.
	for trial := range 2000 {
		var him, peer qSide // our view of the client's side; the client's own view
		var toPeer, toUs []byte
		allowUs, allowPeer := r.IntN(2) == 0, r.IntN(2) == 0
		for step := 0; step < 20 || len(toPeer)+len(toUs) > 0; step++ {
			if step > 10000 {
				t.Fatalf("trial %d: no quiescence; %d messages in flight", trial, len(toPeer)+len(toUs))
			}
			switch {
			case step < 20 && r.IntN(3) == 0:
				if res := him.request(r.IntN(2) == 0, DO, DONT); res.send != 0 {
					toPeer = append(toPeer, res.send)
				}
			case step < 20 && r.IntN(3) == 0:
				if res := peer.request(r.IntN(2) == 0, WILL, WONT); res.send != 0 {
					toUs = append(toUs, res.send)
				}
			case len(toPeer) > 0 && (len(toUs) == 0 || r.IntN(2) == 0):
				v := toPeer[0]
				toPeer = toPeer[1:]
				var res qResult
				if v == DO {
					res = peer.receivePositive(allowPeer, WILL, WONT)
				} else {
					res = peer.receiveNegative(WILL, WONT)
				}
				if res.send != 0 {
					toUs = append(toUs, res.send)
				}
			case len(toUs) > 0:
				v := toUs[0]
				toUs = toUs[1:]
				var res qResult
				if v == WILL {
					res = him.receivePositive(allowUs, DO, DONT)
				} else {
					res = him.receiveNegative(DO, DONT)
				}
				if res.send != 0 {
					toPeer = append(toPeer, res.send)
				}
			}
		}
		// Settled: both agree on whether the option is on.
		if him.pending() || peer.pending() || (him.state == qYes) != (peer.state == qYes) {
			t.Fatalf("trial %d: settled with him=%v peer=%v", trial, him.state, peer.state)
		}
	}
}
