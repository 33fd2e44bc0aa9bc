package protocol

import (
	"bytes"
	"maps"
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
	// MaxEnvVars and MaxEnvValueLen cap what NEW-ENVIRON, OLD-ENVIRON and
	// XDISPLOC can set, together.
	MaxEnvVars     = 32
	MaxEnvValueLen = 256
	maxEnvNameLen  = 64
	// MaxSpeed is the highest terminal speed TSPEED may report, in bits
	// per second (Linux's highest standard rate); a higher one is refused.
	MaxSpeed = 4000000
	// MaxDisplayLen caps XDISPLOC's display name.
	MaxDisplayLen = 128
)

// Parser states.
type pstate uint8

const (
	stData     pstate = iota
	stCR              // a CR was passed on; a following LF or NUL is dropped
	stIAC             // saw IAC
	stVerb            // saw IAC WILL/WONT/DO/DONT, waiting for the option byte
	stSB              // saw IAC SB, waiting for the option byte
	stSBIACOpt        // saw IAC SB IAC: an empty subnegotiation, or EXOPL's
	stSBFirst         // inside a subnegotiation of an sbCoded option, before its first byte
	stSBData          // inside a subnegotiation
	stSBIAC           // saw IAC inside a subnegotiation
	// stNAWSFull: a NAWS payload reached its 4 bytes with a doubled IAC.
	// busybox telnet does not double IAC in NAWS, so for a height of 255
	// it sends IAC SB NAWS 0 w 0 IAC IAC SE: the last IAC of the size and
	// the IAC of IAC SE read as a doubled IAC, and a bare SE follows. A
	// client that doubles its IACs always sends IAC SE here, never SE.
	stNAWSFull
)

// stopReason says why feed returned before the end of its input: something
// the caller must act on between the data before it and the data after.
type stopReason uint8

const (
	stopNone    stopReason = iota
	stopCommand            // an NVT command the application handles (feedResult.arg)
	stopMark               // the DM that ends a Synch: is more urgent data pending?
	// stopEnd: the Telnet stream ended, by agreement, right after the last
	// byte used; feedResult.arg is the option that ended it. LOGOUT ends
	// the connection; an option after which the connection carries
	// another protocol (START_TLS's FOLLOWS, AUTHENTICATION's SSL) ends
	// it the same way, and what follows the stop is that protocol's. The
	// engine parses nothing more.
	stopEnd
)

// feedResult is what one feed did.
type feedResult struct {
	n    int        // data bytes for the application, written to the front of the input
	used int        // input bytes parsed: all of them unless stop is set
	stop stopReason // why feed returned before the end of its input
	// arg goes with stop: the command (stopCommand), the option that
	// ended the stream (stopEnd).
	arg byte
	// changed: the negotiated state differs from the last snapshot.
	changed bool
	// resized: a usable window size arrived (the snapshot has it), even
	// the one already known.
	resized bool
}

// Bits of engine.answered: requests answered since data last arrived.
const (
	answeredAYT uint8 = 1 << iota
	answeredStatus
)

// AYTReply is what a client's Are-You-There gets: a visible line.
var AYTReply = []byte("\r\n[tlntsvr: yes]\r\n")

// charsetRequest is our CHARSET REQUEST (RFC 2066): UTF-8 only, ';' as the
// separator.
var charsetRequest = []byte{IAC, SB, OptCharset, csREQUEST, ';', 'U', 'T', 'F', '-', '8', IAC, SE}

// sbCoded marks the options whose subnegotiations we read and whose
// messages start with a code, a control byte (IS, SEND, INFO; LFLOW's
// commands; CHARSET's REQUEST to TTABLE-NAK). A subnegotiation of one of
// them that starts with text instead is not one: it is cut short there
// and the text is read as data, so that a client that sends a bare IAC SB
// and never IAC SE does not have everything it types after it taken as
// payload (the npm telnet-client answers CHARSET's REQUEST with
// IAC SB CHARSET alone, then types its login name). An unknown code (a
// control byte) keeps the old reading, payload up to IAC SE, ignored.
// Options not listed (NAWS, whose payload is any 4 bytes, and every option
// we refuse) keep their payload up to IAC SE, whatever it is.
var sbCoded = [256]bool{
	OptTTYPE: true, OptStatus: true, OptTSpeed: true, OptXDispLoc: true,
	OptNewEnviron: true, OptOldEnviron: true, OptLFlow: true, OptCharset: true,
	OptStartTLS: true, OptAuth: true,
}

// policy says which options we agree to, per side.
type policy struct {
	us  [256]bool // options we will perform (client's DO is accepted)
	him [256]bool // options we let the client perform (client's WILL is accepted)
}

// newPolicy is the option table of docs/protocol.md. XDISPLOC is agreed only
// when DISPLAY may be kept: asking for a value we would drop is pointless.
func newPolicy(cfg Config) policy {
	var p policy
	for _, o := range []byte{OptBinary, OptEcho, OptSGA, OptStatus, OptTimingMark, OptLogout, OptEOR, OptCharset} {
		p.us[o] = true
	}
	for _, o := range []byte{OptBinary, OptSGA, OptStatus, OptTTYPE, OptEOR, OptNAWS, OptTSpeed, OptLFlow,
		OptOldEnviron, OptNewEnviron, OptCharset} {
		p.him[o] = true
	}
	p.him[OptXDispLoc] = cfg.EnvAllowed != nil && cfg.EnvAllowed("DISPLAY")
	p.him[OptStartTLS] = cfg.OfferTLS
	p.him[OptAuth] = cfg.OfferTLS
	return p
}

// engine is the protocol state machine with no I/O: feed takes bytes from
// the client and returns the data bytes for the application (written in
// place over the input) while appending any replies to e.out, and says
// what else happened in its result; snapshot hands out the negotiated
// state as a value. Being a pure function of the byte sequence, it gives
// the same result however the input is split, which the tests and the
// fuzz target check.
type engine struct {
	cfg    Config
	pol    policy
	state  pstate
	verb   byte
	sbOpt  byte
	sb     []byte // subnegotiation payload, capped at MaxSubnegotiation
	sbOver bool   // payload exceeded the cap: discard at SE

	us, him [256]qSide

	out []byte // replies waiting to be written to the client

	// Why the feed under way stops early, and the stop's argument: set
	// where it happens, handed out in the feed's result.
	stop    stopReason
	stopArg byte
	// cmdHandled marks the NVT commands (IP, AO, BRK, ...) the application
	// acts on: feed stops after each so it can act between the data before
	// and after. All false until the session starts, so commands sent
	// before logon do nothing.
	cmdHandled [256]bool
	// synch: urgent data is pending (a Synch, RFC 854): feed stops at the
	// DM that ends it. The data fed meanwhile is all from before the mark
	// and is discarded; commands are obeyed as usual. Only the caller,
	// which can see the socket, knows when to start (discardToMark), so
	// the data path never looks for urgent data.
	synch   bool
	ended   byte // the option that ended the stream (stopEnd), or 0
	started bool // start sent our offers

	// What the client told us.
	termTypes  []string // TTYPE answers in order, capped
	ttypeDone  bool     // we have stopped asking
	ttypeAsked bool     // a SEND is outstanding
	// env is shared with the last snapshot when envShared: copied before
	// it changes.
	env       map[string]string
	envShared bool
	envDone   bool // the first NEW-ENVIRON IS has arrived
	envAsked  bool
	// OLD-ENVIRON is asked for once, when the client refuses NEW-ENVIRON.
	oldEnvAsked, oldEnvSent, oldEnvDone bool
	tspeedAsked, tspeedDone             bool
	txSpeed, rxSpeed                    int
	xdispAsked, xdispDone               bool
	// CHARSET: our REQUEST is sent once; charset is what was agreed.
	charsetAsked, charsetDone bool
	charset                   string
	tls                       tlsOffer // START_TLS and AUTH SSL (tlsoptions.go)
	lflowAgreed               uint32   // how many times LFLOW was agreed
	// goAhead: the client refused SGA (DONT SGA), so by RFC 858 it
	// expects IAC GA where the server waits for input: at the prompts.
	goAhead    bool
	cols, rows int
	nawsSeen   bool
	resized    bool // NAWS brought a size in the feed under way
	// answered: answers given since data last arrived (answeredAYT, ...):
	// a flood of the same question gets one answer, not one per request.
	answered uint8
	dirty    bool // the state differs from the last snapshot
}

func newEngine(cfg Config) *engine {
	return &engine{cfg: cfg, pol: newPolicy(cfg), env: map[string]string{}}
}

// start returns our opening offers. Every one is made through the Q method
// so the answers are matched against what we asked.
func (e *engine) start() []byte {
	if e.started {
		return nil // a Negotiate after Resume: the offers are out
	}
	e.started = true
	// First, so that a client that can encrypt does before anything else
	// is said in clear text.
	e.offerTLS()
	e.requestUs(OptEcho, true)
	e.requestUs(OptSGA, true)
	e.requestHim(OptTTYPE, true)
	e.requestHim(OptNAWS, true)
	e.requestHim(OptNewEnviron, true)
	// Last, and not waited for (see negotiating): the clients that know
	// CHARSET (MUD clients, telnetlib3) wait for the server to offer it.
	e.requestUs(OptCharset, true)
	return e.takeOut()
}

func (e *engine) takeOut() []byte {
	o := e.out
	e.out = nil
	return o
}

func (e *engine) requestUs(opt byte, want bool) {
	e.applyUs(e.us[opt].request(want, WILL, WONT), opt)
}

func (e *engine) requestHim(opt byte, want bool) {
	e.applyHim(e.him[opt].request(want, DO, DONT), opt)
}

func (e *engine) applyUs(r qResult, opt byte) {
	if r.send != 0 {
		e.out = append(e.out, IAC, r.send, opt)
	}
	if r.enabled || r.disable {
		e.optionChanged(opt)
	}
	if r.enabled {
		e.usEnabled(opt)
	}
}

func (e *engine) applyHim(r qResult, opt byte) {
	if r.send != 0 {
		e.out = append(e.out, IAC, r.send, opt)
	}
	if r.enabled || r.disable {
		e.optionChanged(opt)
	}
	if r.enabled {
		e.himEnabled(opt)
	}
}

// optionChanged notes that an option went on or off: the snapshot lists
// them. TIMING-MARK is never on for long enough to show (usEnabled).
func (e *engine) optionChanged(opt byte) {
	if opt != OptTimingMark {
		e.dirty = true
	}
}

// usEnabled runs when we start performing an option.
func (e *engine) usEnabled(opt byte) {
	switch opt {
	case OptTimingMark:
		// RFC 860: the WILL just queued is the mark, sent once everything
		// before the DO has been processed. The option then goes back to
		// NO without a WONT, so the next DO gets its own WILL (BSD telnet
		// sends one after every interrupt and discards output until it).
		e.us[OptTimingMark] = qSide{}
	case OptLogout:
		// RFC 727: the client asked to be logged out; our WILL confirms.
		e.end(OptLogout)
	case OptCharset:
		// RFC 2066: the side that sent WILL and got DO may REQUEST.
		if !e.charsetAsked {
			e.charsetAsked = true
			e.out = append(e.out, charsetRequest...)
		}
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
	case OptOldEnviron:
		if !e.oldEnvSent {
			e.oldEnvSent = true
			e.out = append(e.out, IAC, SB, OptOldEnviron, sbSEND, IAC, SE)
		}
	case OptTSpeed:
		if !e.tspeedAsked {
			e.tspeedAsked = true
			e.out = append(e.out, IAC, SB, OptTSpeed, sbSEND, IAC, SE)
		}
	case OptLFlow:
		e.lflowAgreed++
	case OptXDispLoc:
		if !e.xdispAsked {
			e.xdispAsked = true
			e.out = append(e.out, IAC, SB, OptXDispLoc, sbSEND, IAC, SE)
		}
	case OptStartTLS, OptAuth:
		e.tlsOptionEnabled(opt)
	}
}

func (e *engine) askTermType() {
	e.ttypeAsked = true
	e.out = append(e.out, IAC, SB, OptTTYPE, sbSEND, IAC, SE)
}

// negotiating reports whether an answer we are waiting for is outstanding:
// the answers to our opening offers, then the replies to the SENDs and
// REQUEST of the options the client agreed to. Two requests are not waited
// for: WILL CHARSET (sent last, and nearly every client refuses it) and
// the DO OLD-ENVIRON that follows a refused NEW-ENVIRON. Clients answer in
// order, so their answers come with the ones we wait for; and what they
// bring is only needed when the shell starts, after the password.
func (e *engine) negotiating() bool {
	for _, o := range []byte{OptEcho, OptSGA} {
		if e.us[o].pending() {
			return true
		}
	}
	for _, o := range []byte{OptTTYPE, OptNAWS, OptNewEnviron, OptStartTLS, OptAuth} {
		if e.him[o].pending() {
			return true
		}
	}
	if e.tlsNegotiating() {
		return true
	}
	yes := func(o byte) bool { return e.him[o].state == qYes }
	switch {
	case yes(OptTTYPE) && !e.ttypeDone,
		yes(OptNewEnviron) && !e.envDone,
		// A client that agreed to NAWS sends its size straight after.
		yes(OptNAWS) && !e.nawsSeen,
		yes(OptOldEnviron) && e.oldEnvSent && !e.oldEnvDone,
		yes(OptTSpeed) && e.tspeedAsked && !e.tspeedDone,
		yes(OptXDispLoc) && e.xdispAsked && !e.xdispDone,
		e.us[OptCharset].state == qYes && e.charsetAsked && !e.charsetDone:
		return true
	}
	return false
}

// end ends the Telnet stream right after the byte being parsed (stopEnd).
func (e *engine) end(opt byte) {
	e.ended = opt
	e.stop, e.stopArg = stopEnd, opt
}

// resume takes up the stream again after an end that keeps the state
// (Conn.Resume).
func (e *engine) resume() { e.ended = 0 }

// binaryIn reports whether the client sends in binary mode, in which case
// CR is passed on as is.
func (e *engine) binaryIn() bool { return e.him[OptBinary].state == qYes }

// handleCommands sets the NVT commands feed stops at (see cmdHandled).
func (e *engine) handleCommands(cmds []byte) {
	e.cmdHandled = [256]bool{}
	for _, b := range cmds {
		e.cmdHandled[b] = true
	}
}

// discardToMark starts discarding data up to the DM that ends a Synch.
func (e *engine) discardToMark() { e.synch = true }

// feed parses p, writes the data bytes to the front of p and says in its
// result how many there are and what else happened. Replies go to e.out.
// It parses all of p (used == len(p)) unless it stops early, right after
// the byte that made it stop; the caller acts on the stop and feeds
// p[used:] again. After a stopEnd it parses nothing (used is 0).
func (e *engine) feed(p []byte) feedResult {
	if e.ended != 0 {
		return feedResult{stop: stopEnd, arg: e.ended, changed: e.dirty}
	}
	synch := e.synch
	n, used := e.parse(p)
	if synch {
		n = 0 // all from before the urgent mark (RFC 854)
	}
	r := feedResult{n: n, used: used, stop: e.stop, arg: e.stopArg, changed: e.dirty, resized: e.resized}
	e.stop, e.stopArg, e.resized = stopNone, 0, false
	return r
}

// parse is feed's state machine: it returns the count of data bytes
// written to the front of p and of the bytes of p it used.
func (e *engine) parse(p []byte) (n, used int) {
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
				e.answered = 0
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
				e.answered = 0
			case WILL, WONT, DO, DONT:
				e.verb = b
				e.state = stVerb
			case SB:
				e.state = stSB
			case AYT:
				// One answer per run of AYTs with no data between them: a
				// person asks once, and a flood gets no amplification.
				if e.answered&answeredAYT == 0 {
					e.out = append(e.out, AYTReply...)
					e.answered |= answeredAYT
				}
			case DM:
				// Without urgent data a DM means nothing (RFC 854).
				if e.synch {
					e.synch = false
					e.stop = stopMark
					return w, r
				}
			default:
				if e.cmdHandled[b] {
					e.stop, e.stopArg = stopCommand, b
					return w, r
				}
			}
		case stVerb:
			e.negotiate(e.verb, p[r])
			r++
			e.state = stData
			if e.stop != stopNone {
				return w, r
			}
		case stSB:
			if p[r] == IAC {
				// No option yet: IAC SE after it makes an empty
				// subnegotiation, IAC IAC option 255 (inetutils telnetd
				// reads them so).
				r++
				e.state = stSBIACOpt
				continue
			}
			e.sbOpt = p[r]
			e.sb = e.sb[:0]
			e.sbOver = false
			r++
			e.state = stSBData
			if sbCoded[e.sbOpt] {
				e.state = stSBFirst
			}
		case stSBFirst:
			e.state = stSBData
			if b := p[r]; b >= ' ' && b != IAC {
				// Text where a message code belongs: the client never
				// finished this subnegotiation (see sbCoded). It ends
				// here, and the text is read as data.
				e.state = stData
				e.subnegotiationCut(e.sbOpt)
			}
		case stSBIACOpt:
			switch p[r] {
			case SE:
				r++ // an empty subnegotiation: nothing to do
				e.state = stData
			case IAC:
				r++
				e.sbOpt = IAC
				e.sb = e.sb[:0]
				e.sbOver = false
				e.state = stSBData
			default:
				// The subnegotiation ended before it began; the byte
				// after IAC is read as a command (an unknown one is
				// ignored).
				e.state = stIAC
			}
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
				if e.sbOpt == OptNAWS && len(e.sb) == 4 {
					e.state = stNAWSFull
				}
			case SE:
				e.state = stData
				if e.sbOver {
					e.subnegotiationDropped(e.sbOpt, e.sb)
				} else {
					e.subnegotiation(e.sbOpt, e.sb)
				}
				if e.stop != stopNone {
					return w, r
				}
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
		case stNAWSFull:
			e.state = stSBData
			if p[r] == SE {
				r++
				e.state = stData
				e.subnegotiation(e.sbOpt, e.sb)
				if e.stop != stopNone {
					return w, r
				}
			}
		}
	}
	return w, len(p)
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
		// Only the payload's first byte is kept (IS, SEND, INFO): an
		// answer dropped for its size still answers (subnegotiationDropped).
		// (b is not empty: the bytes before it were within the cap.)
		if len(e.sb) == 0 {
			e.sb = append(e.sb, b[0])
		}
		e.sb = e.sb[:1]
		return
	}
	e.sb = append(e.sb, b...)
}

func (e *engine) negotiate(verb, opt byte) {
	switch verb {
	case WILL:
		allow := e.pol.him[opt]
		if opt == OptOldEnviron && e.him[OptNewEnviron].state == qYes {
			allow = false // one environment option at a time, the newer one
		}
		e.applyHim(e.him[opt].receivePositive(allow, DO, DONT), opt)
	case WONT:
		refused := e.him[opt].state == qWantYes // the answer to our DO
		e.applyHim(e.him[opt].receiveNegative(DO, DONT), opt)
		switch opt {
		case OptTTYPE:
			e.ttypeDone = true
		case OptStartTLS:
			e.maybeSendAuth() // the other way in, now that this one is refused
		case OptNewEnviron:
			// RFC 1571: a client without NEW-ENVIRON may have the old
			// one. Asked once, and only of a client that refused the new.
			if refused && !e.oldEnvAsked {
				e.oldEnvAsked = true
				e.requestHim(OptOldEnviron, true)
			}
		}
	case DO:
		e.applyUs(e.us[opt].receivePositive(e.pol.us[opt], WILL, WONT), opt)
		if opt == OptSGA && e.us[opt].state == qYes && e.goAhead {
			e.goAhead, e.dirty = false, true
		}
	case DONT:
		e.applyUs(e.us[opt].receiveNegative(WILL, WONT), opt)
		if opt == OptSGA && e.us[opt].state == qNo && !e.goAhead {
			e.goAhead, e.dirty = true, true
		}
	}
}

// subnegotiationDropped takes what is left of a subnegotiation dropped
// for its size, its first byte. An environment IS too long to keep (a
// client exporting many variables) is still the answer to our SEND: its
// variables are lost, but negotiation does not wait out its timeout for
// another answer, which would not come.
func (e *engine) subnegotiationDropped(opt byte, first []byte) {
	if len(first) == 0 || first[0] != sbIS {
		return
	}
	switch {
	case opt == OptNewEnviron && e.him[OptNewEnviron].state == qYes:
		e.envDone = true
	case opt == OptOldEnviron && e.him[OptOldEnviron].state == qYes:
		e.oldEnvDone = true
	}
}

// subnegotiationCut takes a subnegotiation cut short at its first byte,
// text where a code belongs (sbCoded). If it came where the answer to our
// SEND or REQUEST of that option was awaited, it was that answer, with
// nothing in it: no other will come, and negotiation must not wait for one.
func (e *engine) subnegotiationCut(opt byte) {
	yes := func(o byte) bool { return e.him[o].state == qYes }
	switch opt {
	case OptTTYPE:
		if yes(OptTTYPE) && e.ttypeAsked && !e.ttypeDone {
			e.ttypeAsked, e.ttypeDone = false, true
		}
	case OptNewEnviron:
		if yes(OptNewEnviron) {
			e.envDone = true
		}
	case OptOldEnviron:
		if yes(OptOldEnviron) && e.oldEnvSent {
			e.oldEnvDone = true
		}
	case OptTSpeed:
		if yes(OptTSpeed) && e.tspeedAsked {
			e.tspeedDone = true
		}
	case OptXDispLoc:
		if yes(OptXDispLoc) && e.xdispAsked {
			e.xdispDone = true
		}
	case OptCharset:
		if e.us[OptCharset].state == qYes && e.charsetAsked {
			e.charsetDone = true
		}
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
			e.dirty = true
		}
	case OptNewEnviron:
		if e.him[OptNewEnviron].state == qYes {
			e.envReply(data, decodeEnviron, &e.envDone)
		}
	case OptOldEnviron:
		if e.him[OptOldEnviron].state == qYes {
			e.envReply(data, decodeOldEnviron, &e.oldEnvDone)
		}
	case OptStatus:
		e.statusRequest(data)
	case OptTSpeed:
		e.termSpeedReply(data)
	case OptXDispLoc:
		e.displayReply(data)
	case OptCharset:
		e.charsetMessage(data)
	case OptStartTLS, OptAuth:
		e.tlsSubnegotiation(opt, data)
	}
	// Every other option's subnegotiation is ignored: we never agreed to
	// it. That includes LFLOW (only the server sends those), LINEMODE and
	// ENCRYPT.
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
		e.dirty = true
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

// envReply takes an IS or INFO of NEW-ENVIRON or OLD-ENVIRON. done is set
// by the IS, the answer to our SEND.
func (e *engine) envReply(data []byte, decode func([]byte) []envVar, done *bool) {
	if len(data) == 0 || (data[0] != sbIS && data[0] != sbINFO) {
		return
	}
	if data[0] == sbIS {
		*done = true
	}
	for _, v := range decode(data[1:]) {
		switch {
		case e.cfg.EnvAllowed == nil || !e.cfg.EnvAllowed(v.name):
		case v.undefined:
			// The client has no such variable (or, in an INFO, no
			// longer has it): any value it gave before is gone too.
			e.unsetEnv(v.name)
		default:
			e.setEnv(v.name, v.value)
		}
	}
}

// setEnv keeps a client variable that passed the allowlist, within
// MaxEnvVars: a known variable can change, a new one past the cap cannot
// come in.
func (e *engine) setEnv(name, value string) {
	if _, exists := e.env[name]; !exists && len(e.env) >= MaxEnvVars {
		return
	}
	e.ownEnv()
	e.env[name] = value
	e.dirty = true
}

func (e *engine) unsetEnv(name string) {
	if _, exists := e.env[name]; !exists {
		return
	}
	e.ownEnv()
	delete(e.env, name)
	e.dirty = true
}

// ownEnv copies e.env if a snapshot holds it, before it changes.
func (e *engine) ownEnv() {
	if e.envShared {
		e.env = maps.Clone(e.env)
		e.envShared = false
	}
}

// statusRequest answers STATUS SEND (RFC 859) with our view of every
// option, once per run of requests with no data between them (the answer
// is several times the size of the question). The client's own IS, which
// it sends only if asked, is ignored: we never ask.
func (e *engine) statusRequest(data []byte) {
	if len(data) == 0 || data[0] != sbSEND || e.us[OptStatus].state != qYes {
		return
	}
	if e.answered&answeredStatus != 0 {
		return
	}
	e.answered |= answeredStatus
	e.out = e.appendStatus(e.out)
}

// appendStatus appends IAC SB STATUS IS, then WILL for each option we
// perform and DO for each the client performs, in option order, then
// IAC SE. SE and IAC are doubled where they would be option codes.
func (e *engine) appendStatus(out []byte) []byte {
	out = append(out, IAC, SB, OptStatus, sbIS)
	for o := range 256 {
		for _, side := range []struct {
			on   bool
			verb byte
		}{{e.us[o].state == qYes, WILL}, {e.him[o].state == qYes, DO}} {
			if !side.on {
				continue
			}
			out = append(out, side.verb, byte(o))
			if o == int(SE) || o == int(IAC) {
				out = append(out, byte(o))
			}
		}
	}
	return append(out, IAC, SE)
}

// maxStatusReply bounds appendStatus's output: every option on both sides.
const maxStatusReply = 4 + 2*2*256 + 2 + 2

func (e *engine) termSpeedReply(data []byte) {
	if e.him[OptTSpeed].state != qYes || !e.tspeedAsked || e.tspeedDone {
		return
	}
	if len(data) == 0 || data[0] != sbIS {
		return
	}
	e.tspeedDone = true
	if tx, rx, ok := decodeTermSpeed(data[1:]); ok {
		e.txSpeed, e.rxSpeed = tx, rx
		e.dirty = true
	}
}

// displayReply takes XDISPLOC IS (RFC 1096) as the DISPLAY variable, which
// the option is only agreed for when the allowlist has it.
func (e *engine) displayReply(data []byte) {
	if e.him[OptXDispLoc].state != qYes || !e.xdispAsked || e.xdispDone {
		return
	}
	if len(data) == 0 || data[0] != sbIS {
		return
	}
	e.xdispDone = true
	if v, ok := decodeDisplay(data[1:]); ok && e.cfg.EnvAllowed != nil && e.cfg.EnvAllowed("DISPLAY") {
		e.setEnv("DISPLAY", v)
	}
}

// charsetMessage handles RFC 2066's subnegotiation. Only UTF-8 is ever
// agreed: it is what the terminal and the programs on it speak here.
func (e *engine) charsetMessage(data []byte) {
	if len(data) == 0 {
		return
	}
	switch data[0] {
	case csREQUEST:
		// The client performs CHARSET (its WILL, our DO) and asks us to
		// choose. Tolerated on our side of the option too; never when
		// neither side agreed.
		if e.him[OptCharset].state != qYes && e.us[OptCharset].state != qYes {
			return
		}
		if name, ok := pickCharset(data[1:]); ok {
			e.out = append(e.out, IAC, SB, OptCharset, csACCEPTED)
			e.out = append(e.out, name...)
			e.out = append(e.out, IAC, SE)
			e.setCharset()
			return
		}
		e.out = append(e.out, IAC, SB, OptCharset, csREJECTED, IAC, SE)
	case csACCEPTED:
		if e.us[OptCharset].state != qYes || !e.charsetAsked || e.charsetDone {
			return
		}
		e.charsetDone = true
		if isUTF8Name(data[1:]) {
			e.setCharset()
		}
	case csREJECTED:
		if e.charsetAsked {
			e.charsetDone = true
		}
	}
	// TTABLE-IS and the other translation-table messages answer a REQUEST
	// with [TTABLE], which we never send; they are ignored.
}

func (e *engine) setCharset() {
	if e.charset != "UTF-8" {
		e.charset = "UTF-8"
		e.dirty = true
	}
}
