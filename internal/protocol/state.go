package protocol

// State is the negotiated state of a connection at one moment: what the
// client told us about its terminal, and which options are on. The engine
// hands one out whenever it changes and never changes it afterwards, so
// any goroutine may read a State without locks (Conn.State).
type State struct {
	// Term is the terminal type to use (lower case): the first the client
	// reported that the host knows (Config.KnownTerm), else the first it
	// reported, else "".
	Term string
	// Cols and Rows are the window size from NAWS; both 0 if the client
	// never sent a usable one.
	Cols, Rows int
	// TxSpeed and RxSpeed are the terminal's transmit and receive speeds
	// in bits per second from TSPEED (RFC 1079); both 0 if none came.
	TxSpeed, RxSpeed int
	// Charset is the character set agreed through CHARSET (RFC 2066):
	// "UTF-8", or "" if none was.
	Charset string

	env         map[string]string // never written once in a State
	us, him     optionSet
	lflowAgreed uint32 // how many times LFLOW was agreed (Conn's flow control)
	goAhead     bool   // the client refused SGA (engine.goAhead)
}

// Env returns the allowlisted environment variables the client sent
// (NEW-ENVIRON or OLD-ENVIRON, and DISPLAY from XDISPLOC), in a map of
// the caller's own.
func (s *State) Env() map[string]string {
	out := make(map[string]string, len(s.env))
	for k, v := range s.env {
		out[k] = v
	}
	return out
}

// Us reports whether we perform opt (we agreed to the client's DO, or it
// to our WILL).
func (s *State) Us(opt byte) bool { return s.us.has(opt) }

// Him reports whether the client performs opt (it agreed to our DO, or we
// to its WILL).
func (s *State) Him(opt byte) bool { return s.him.has(opt) }

// optionSet is a set of option codes.
type optionSet [4]uint64

func (o *optionSet) add(opt byte)      { o[opt>>6] |= 1 << (opt & 63) }
func (o *optionSet) has(opt byte) bool { return o[opt>>6]&(1<<(opt&63)) != 0 }

// snapshot returns the negotiated state as a State, which shares the
// environment map until the engine next changes it (ownEnv).
func (e *engine) snapshot() *State {
	s := &State{
		Term:    e.term(),
		Cols:    e.cols,
		Rows:    e.rows,
		TxSpeed: e.txSpeed,
		RxSpeed: e.rxSpeed,
		Charset: e.charset,

		env:         e.env,
		lflowAgreed: e.lflowAgreed,
		goAhead:     e.goAhead,
	}
	e.envShared = true
	for o := range 256 {
		if e.us[o].state == qYes {
			s.us.add(byte(o))
		}
		if e.him[o].state == qYes {
			s.him.add(byte(o))
		}
	}
	e.dirty = false
	return s
}
