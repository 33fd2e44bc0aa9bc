package protocol

// The RFC 1143 "Q method": each side of each option has a state and a
// one-bit queue, and a reply is sent only when the state really changes.
// Following it exactly is what makes negotiation loops impossible, whatever
// the peer sends.

type qState uint8

const (
	qNo qState = iota
	qYes
	qWantNo
	qWantYes
)

func (s qState) String() string {
	return [...]string{"NO", "YES", "WANTNO", "WANTYES"}[s]
}

// qSide is one direction of one option: "us" (we perform it: WILL/WONT)
// or "him" (the client performs it: DO/DONT).
type qSide struct {
	state    qState
	opposite bool // the queue bit: a request for the opposite state is queued
}

// qResult says what receiving a verb or making a request did.
type qResult struct {
	send    byte // verb to send (WILL, WONT, DO, DONT) or 0 for nothing
	enabled bool // the side became enabled
	disable bool // the side became disabled
}

// receivePositive handles WILL (for him) or DO (for us). allow says whether
// we agree to the option being enabled. pos/neg are the verbs we send back
// (DO/DONT for him, WILL/WONT for us).
func (q *qSide) receivePositive(allow bool, pos, neg byte) qResult {
	switch q.state {
	case qNo:
		if allow {
			q.state = qYes
			return qResult{send: pos, enabled: true}
		}
		return qResult{send: neg}
	case qYes:
		return qResult{}
	case qWantNo:
		// Our DONT (or WONT) was answered by WILL (or DO): the peer is
		// non-compliant. RFC 1143 settles on the state it asked for.
		if q.opposite {
			q.state, q.opposite = qYes, false
			return qResult{enabled: true}
		}
		q.state = qNo
		return qResult{}
	default: // qWantYes
		if q.opposite {
			q.state, q.opposite = qWantNo, false
			return qResult{send: neg}
		}
		q.state = qYes
		return qResult{enabled: true}
	}
}

// receiveNegative handles WONT (for him) or DONT (for us).
func (q *qSide) receiveNegative(pos, neg byte) qResult {
	switch q.state {
	case qNo:
		return qResult{}
	case qYes:
		q.state = qNo
		return qResult{send: neg, disable: true}
	case qWantNo:
		if q.opposite {
			q.state, q.opposite = qWantYes, false
			return qResult{send: pos}
		}
		q.state = qNo
		return qResult{disable: true}
	default: // qWantYes
		q.state, q.opposite = qNo, false
		return qResult{}
	}
}

// request asks for the side to become enabled (want=true) or disabled.
func (q *qSide) request(want bool, pos, neg byte) qResult {
	if want {
		switch q.state {
		case qNo:
			q.state = qWantYes
			return qResult{send: pos}
		case qWantNo:
			q.opposite = true
		case qWantYes:
			q.opposite = false
		}
		return qResult{}
	}
	switch q.state {
	case qYes:
		q.state = qWantNo
		return qResult{send: neg}
	case qWantNo:
		q.opposite = false
	case qWantYes:
		q.opposite = true
	}
	return qResult{}
}

// pending reports whether we are waiting for the peer's answer.
func (q *qSide) pending() bool { return q.state == qWantNo || q.state == qWantYes }
