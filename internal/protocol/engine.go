package protocol

import (
	"bytes"
)

// Limits on what a client can make us hold. Every buffer fed by the network
// has one.
const (
	// MaxSubnegotiation caps one subnegotiation's payload; a longer one is
	// discarded whole.
	MaxSubnegotiation = 1024
	// MaxTermTypes caps the TTYPE cycle (RFC 1091): we stop asking after
	// this many answers even if the client never repeats itself.
	MaxTermTypes = 8
	// MaxTermTypeLen caps one terminal type name.
	MaxTermTypeLen = 40
	// MaxEnvVars and MaxEnvValueLen cap what NEW-ENVIRON can set.
	MaxEnvVars     = 32
	MaxEnvValueLen = 256
	maxEnvNameLen  = 64
)

// Parser states.
type pstate uint8

const (
	stData   pstate = iota
	stCR            // a CR was passed on; a following LF or NUL is dropped
	stIAC           // saw IAC
	stVerb          // saw IAC WILL/WONT/DO/DONT, waiting for the option byte
	stSB            // saw IAC SB, waiting for the option byte
	stSBData        // inside a subnegotiation
	stSBIAC         // saw IAC inside a subnegotiation
)

// AYTReply is what a client's Are-You-There gets: a visible line.
var AYTReply = []byte("\r\n[tlntsvr: yes]\r\n")

// policy says which options we agree to, per side.
type policy struct {
	us  [256]bool // options we will perform (client's DO is accepted)
	him [256]bool // options we let the client perform (client's WILL is accepted)
}

var defaultPolicy = func() policy {
	var p policy
	for _, o := range []byte{OptBinary, OptEcho, OptSGA} {
		p.us[o] = true
	}
	for _, o := range []byte{OptBinary, OptSGA, OptTTYPE, OptNAWS, OptNewEnviron} {
		p.him[o] = true
	}
	return p
}()

// engine is the protocol state machine with no I/O: Feed takes bytes from
// the client and returns the data bytes for the application (written in
// place over the input) while appending any replies to e.out. Being a pure
// function of the byte sequence, it gives the same result however the
// input is split, which the tests and the fuzz target check.
type engine struct {
	cfg    Config
	pol    *policy
	state  pstate
	verb   byte
	sbOpt  byte
	sb     []byte // subnegotiation payload, capped at MaxSubnegotiation
	sbOver bool   // payload exceeded the cap: discard at SE

	us, him [256]qSide

	out []byte // replies waiting to be written to the client

	// What the client told us.
	termTypes  []string // TTYPE answers in order, capped
	ttypeDone  bool     // we have stopped asking
	ttypeAsked bool     // a SEND is outstanding
	env        map[string]string
	envDone    bool // the first NEW-ENVIRON IS/INFO has arrived
	envAsked   bool
	cols, rows int
	nawsSeen   bool
	resized    bool // NAWS arrived since the flag was last cleared
	// aytAnswered: an AYT was answered and no data has come since.
	aytAnswered bool
	learned     bool // term types, env or size changed since last cleared

	// cmdBytes maps a Telnet command (IP, EC, ...) to the byte the
	// program's terminal should receive in its place; zero means the
	// command is ignored. All zero until the session starts, so commands
	// sent before logon do nothing.
	cmdBytes [256]byte
}

func newEngine(cfg Config) *engine {
	return &engine{cfg: cfg, pol: &defaultPolicy, env: map[string]string{}}
}

// start returns our opening offers. Every one is made through the Q method
// so the answers are matched against what we asked.
func (e *engine) start() []byte {
	e.requestUs(OptEcho, true)
	e.requestUs(OptSGA, true)
	e.requestHim(OptTTYPE, true)
	e.requestHim(OptNAWS, true)
	e.requestHim(OptNewEnviron, true)
	return e.takeOut()
}

func (e *engine) takeOut() []byte {
	o := e.out
	e.out = nil
	return o
}

func (e *engine) requestUs(opt byte, want bool) {
	r := e.us[opt].request(want, WILL, WONT)
	e.apply(r, opt, true)
}

func (e *engine) requestHim(opt byte, want bool) {
	r := e.him[opt].request(want, DO, DONT)
	e.apply(r, opt, false)
}

func (e *engine) apply(r qResult, opt byte, us bool) {
	if r.send != 0 {
		e.out = append(e.out, IAC, r.send, opt)
	}
	if r.enabled && !us {
		e.himEnabled(opt)
	}
}

// himEnabled runs when the client starts performing an option.
func (e *engine) himEnabled(opt byte) {
	switch opt {
	case OptTTYPE:
		if !e.ttypeDone && !e.ttypeAsked {
			e.askTermType()
		}
	case OptNewEnviron:
		if !e.envAsked {
			e.envAsked = true
			// An empty SEND asks for every variable; we keep only the
			// allowlisted ones.
			e.out = append(e.out, IAC, SB, OptNewEnviron, sbSEND, IAC, SE)
		}
	}
}

func (e *engine) askTermType() {
	e.ttypeAsked = true
	e.out = append(e.out, IAC, SB, OptTTYPE, sbSEND, IAC, SE)
}

// negotiating reports whether an answer we are waiting for is outstanding.
func (e *engine) negotiating() bool {
	for _, o := range []byte{OptEcho, OptSGA} {
		if e.us[o].pending() {
			return true
		}
	}
	for _, o := range []byte{OptTTYPE, OptNAWS, OptNewEnviron} {
		if e.him[o].pending() {
			return true
		}
	}
	if e.him[OptTTYPE].state == qYes && !e.ttypeDone {
		return true
	}
	if e.him[OptNewEnviron].state == qYes && !e.envDone {
		return true
	}
	// A client that agreed to NAWS sends its size straight after.
	if e.him[OptNAWS].state == qYes && !e.nawsSeen {
		return true
	}
	return false
}

// binaryIn reports whether the client sends in binary mode, in which case
// CR is passed on as is.
func (e *engine) binaryIn() bool { return e.him[OptBinary].state == qYes }

// feed parses p, writes the data bytes to the front of p and returns their
// count. Replies go to e.out.
func (e *engine) feed(p []byte) int {
	w := 0
	// Where the next IAC and CR are, each found once and reused until
	// passed: searching the rest of p for IAC again after every CR made a
	// feed of many short lines quadratic. Writes never reach past the run
	// being read, so positions found beyond it stay valid.
	nextIAC, nextCR := -1, -1
	for r := 0; r < len(p); {
		switch e.state {
		case stData:
			// Fast path: copy the run up to the next IAC or CR at once.
			if nextIAC < r {
				nextIAC = indexFrom(p, r, IAC)
			}
			end := nextIAC
			if !e.binaryIn() {
				if nextCR < r {
					nextCR = indexFrom(p, r, '\r')
				}
				if nextCR < end {
					end = nextCR + 1
					e.state = stCR
				}
			}
			if end > r {
				w += copy(p[w:], p[r:end])
				r = end
				e.aytAnswered = false
				continue
			}
			// p[r] is IAC.
			e.state = stIAC
			r++
		case stCR:
			b := p[r]
			e.state = stData
			if b == '\n' || b == 0 {
				r++ // CR LF and CR NUL become CR
			}
		case stIAC:
			b := p[r]
			r++
			e.state = stData
			switch b {
			case IAC:
				p[w] = IAC
				w++
				e.aytAnswered = false
			case WILL, WONT, DO, DONT:
				e.verb = b
				e.state = stVerb
			case SB:
				e.state = stSB
			case AYT:
				// One answer per run of AYTs with no data between them: a
				// person asks once, and a flood gets no amplification.
				if !e.aytAnswered {
					e.out = append(e.out, AYTReply...)
					e.aytAnswered = true
				}
			default:
				if c := e.cmdBytes[b]; c != 0 {
					p[w] = c
					w++
				}
			}
		case stVerb:
			e.negotiate(e.verb, p[r])
			r++
			e.state = stData
		case stSB:
			e.sbOpt = p[r]
			e.sb = e.sb[:0]
			e.sbOver = false
			r++
			e.state = stSBData
		case stSBData:
			run := p[r:]
			if i := bytes.IndexByte(run, IAC); i >= 0 {
				run = run[:i]
				e.state = stSBIAC
				r++ // the IAC
			}
			e.sbAppend(run)
			r += len(run)
		case stSBIAC:
			b := p[r]
			r++
			switch b {
			case IAC:
				e.sbAppend([]byte{IAC})
				e.state = stSBData
			case SE:
				if !e.sbOver {
					e.subnegotiation(e.sbOpt, e.sb)
				}
				e.state = stData
			default:
				if b < EOF {
					// Not a command: the client forgot to double an IAC
					// in the payload (busybox's NAWS for a 255 size).
					// Keep both bytes rather than let the rest of the
					// payload leak into the data stream.
					e.sbAppend([]byte{IAC, b})
					e.state = stSBData
					continue
				}
				// IAC followed by a command inside SB: the client forgot
				// the IAC SE. Drop the subnegotiation and treat the byte
				// as the command it is.
				e.state = stIAC
				r--
			}
		}
	}
	return w
}

// indexFrom returns the index of the first c in p at or after i, or len(p).
func indexFrom(p []byte, i int, c byte) int {
	if j := bytes.IndexByte(p[i:], c); j >= 0 {
		return i + j
	}
	return len(p)
}

func (e *engine) sbAppend(b []byte) {
	if e.sbOver {
		return
	}
	if len(e.sb)+len(b) > MaxSubnegotiation {
		e.sbOver = true
		e.sb = e.sb[:0]
		return
	}
	e.sb = append(e.sb, b...)
}

func (e *engine) negotiate(verb, opt byte) {
	switch verb {
	case WILL:
		e.apply(e.him[opt].receivePositive(e.pol.him[opt], DO, DONT), opt, false)
	case WONT:
		e.apply(e.him[opt].receiveNegative(DO, DONT), opt, false)
		if opt == OptTTYPE {
			e.ttypeDone = true
		}
	case DO:
		e.apply(e.us[opt].receivePositive(e.pol.us[opt], WILL, WONT), opt, true)
	case DONT:
		e.apply(e.us[opt].receiveNegative(WILL, WONT), opt, true)
	}
}

func (e *engine) subnegotiation(opt byte, data []byte) {
	switch opt {
	case OptTTYPE:
		e.termTypeReply(data)
	case OptNAWS:
		if st := e.him[OptNAWS].state; st != qYes && st != qWantYes {
			return
		}
		// Any NAWS answers our DO, even one with a size we cannot use
		// (0x0 is "unknown"): negotiation must not wait for another.
		e.nawsSeen = true
		if cols, rows, ok := decodeNAWS(data); ok {
			e.cols, e.rows = cols, rows
			e.resized = true
			e.learned = true
		}
	case OptNewEnviron:
		if e.him[OptNewEnviron].state != qYes {
			return
		}
		e.envReply(data)
	}
	// Every other option's subnegotiation is ignored: we never agreed to it.
}

func (e *engine) termTypeReply(data []byte) {
	if e.him[OptTTYPE].state != qYes || !e.ttypeAsked || e.ttypeDone {
		return // unsolicited
	}
	e.ttypeAsked = false
	name, ok := decodeTermType(data)
	if !ok {
		e.ttypeDone = true
		return
	}
	repeat := false
	for _, t := range e.termTypes {
		if t == name {
			repeat = true
		}
	}
	if !repeat {
		e.termTypes = append(e.termTypes, name)
		e.learned = true
	}
	known := e.cfg.KnownTerm != nil && e.cfg.KnownTerm(name)
	if repeat || known || len(e.termTypes) >= MaxTermTypes {
		e.ttypeDone = true
		return
	}
	e.askTermType()
}

// term returns the terminal type to use: the first the client offered that
// the host knows, else the first offered, else "".
func (e *engine) term() string {
	for _, t := range e.termTypes {
		if e.cfg.KnownTerm != nil && e.cfg.KnownTerm(t) {
			return t
		}
	}
	if len(e.termTypes) > 0 {
		return e.termTypes[0]
	}
	return ""
}

func (e *engine) envReply(data []byte) {
	if len(data) == 0 || (data[0] != sbIS && data[0] != sbINFO) {
		return
	}
	if data[0] == sbIS {
		e.envDone = true
	}
	for _, v := range decodeEnviron(data[1:]) {
		if e.cfg.EnvAllowed == nil || !e.cfg.EnvAllowed(v.name) {
			continue
		}
		if _, exists := e.env[v.name]; !exists && len(e.env) >= MaxEnvVars {
			continue
		}
		e.env[v.name] = v.value
		e.learned = true
	}
}
