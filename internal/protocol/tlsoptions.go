package protocol

import "bytes"

// The two ways into TLS on a plain Telnet connection, offered only when
// Config.OfferTLS says the application has a certificate:
//
//   - START_TLS (46, draft-altman-telnet-starttls): we send DO; a client
//     that answers WILL gets SB START_TLS FOLLOWS, and its own FOLLOWS
//     ends the Telnet stream: the TLS handshake starts with its next byte.
//     C-Kermit sends its FOLLOWS straight after its WILL, without waiting
//     for ours, and its ClientHello only after ours.
//   - AUTHENTICATION (37, RFC 2941) with type SSL (7) only, the scheme of
//     netkit telnet-ssl and C-Kermit: we send DO; to a client's WILL,
//     SEND SSL CLIENT|ONE_WAY; its IS SSL CLIENT|ONE_WAY START gets
//     REPLY ... ACCEPT, which ends the Telnet stream: the client's
//     ClientHello comes next. telnet-ssl accepts no other modifier.
//
// A client that can do both (Kermit) is asked with both DOs at once and
// takes START_TLS; AUTH's SEND waits until START_TLS is refused, so the
// two never race. Any other authentication type, and anything but START
// from the client, ends AUTHENTICATION without TLS. What follows the end
// is the caller's (Conn.Detach): the handshake, then, after START_TLS, a
// new Conn over TLS whose negotiation starts afresh without these offers
// (the draft says so, and Kermit offers everything again); after AUTH SSL
// the same Conn carried on over TLS with its state (Conn.Resume), since
// its clients answer no offer twice.

// START_TLS's one message.
const tlsFOLLOWS byte = 1

// AUTHENTICATION commands, the SSL type, and its sub-commands.
const (
	authIS    byte = 0
	authSEND  byte = 1
	authREPLY byte = 2

	authTypeSSL byte = 7
	// authClientOneWay is the modifier byte AUTH_WHO_CLIENT|AUTH_HOW_ONE_WAY.
	authClientOneWay byte = 0

	sslStart  byte = 1
	sslAccept byte = 2
)

// tlsOffer is the state of our TLS offers on one connection.
type tlsOffer struct {
	followsSent bool // our SB START_TLS FOLLOWS is out
	authSent    bool // our SB AUTHENTICATION SEND is out
	authDone    bool // the client answered it without SSL
}

// offerTLS adds our DOs to the opening offers.
func (e *engine) offerTLS() {
	if !e.cfg.OfferTLS {
		return
	}
	e.requestHim(OptStartTLS, true)
	e.requestHim(OptAuth, true)
}

// startTLSInPlay reports whether START_TLS is agreed or still asked.
func (e *engine) startTLSInPlay() bool {
	st := e.him[OptStartTLS].state
	return st == qYes || st == qWantYes
}

// tlsOptionEnabled runs when the client agrees to START_TLS or
// AUTHENTICATION.
func (e *engine) tlsOptionEnabled(opt byte) {
	switch opt {
	case OptStartTLS:
		if !e.tls.followsSent {
			e.tls.followsSent = true
			e.out = append(e.out, IAC, SB, OptStartTLS, tlsFOLLOWS, IAC, SE)
		}
	case OptAuth:
		e.maybeSendAuth()
	}
}

// maybeSendAuth asks an agreeing client for AUTHENTICATION type SSL,
// unless START_TLS is still in play.
func (e *engine) maybeSendAuth() {
	if e.him[OptAuth].state != qYes || e.tls.authSent || e.startTLSInPlay() {
		return
	}
	e.tls.authSent = true
	e.out = append(e.out, IAC, SB, OptAuth, authSEND, authTypeSSL, authClientOneWay, IAC, SE)
}

// tlsSubnegotiation reads a START_TLS or AUTHENTICATION message.
func (e *engine) tlsSubnegotiation(opt byte, data []byte) {
	switch opt {
	case OptStartTLS:
		if e.him[OptStartTLS].state == qYes && e.tls.followsSent && len(data) == 1 && data[0] == tlsFOLLOWS {
			e.end(OptStartTLS)
		}
	case OptAuth:
		if e.him[OptAuth].state != qYes || !e.tls.authSent || e.tls.authDone || len(data) == 0 || data[0] != authIS {
			return
		}
		if len(data) == 4 && data[1] == authTypeSSL && data[2] == authClientOneWay && data[3] == sslStart {
			e.out = append(e.out, IAC, SB, OptAuth, authREPLY, authTypeSSL, authClientOneWay, sslAccept, IAC, SE)
			e.tls.authDone = true // nothing more to wait for after Resume
			e.end(OptAuth)
			return
		}
		// IS NULL, another type or modifier: no TLS this way. The
		// answer came, so negotiation waits no longer.
		e.tls.authDone = true
	}
}

// tlsNegotiating reports whether an answer to a TLS offer is awaited: the
// client's FOLLOWS after it agreed to START_TLS, its IS after our SEND.
// Bounded, as every wait of Negotiate, by the negotiation timeout: a
// client that agrees to START_TLS without knowing it (the npm
// telnet-client answers every DO with WILL) goes on in clear text.
func (e *engine) tlsNegotiating() bool {
	return e.him[OptStartTLS].state == qYes && e.tls.followsSent ||
		e.him[OptAuth].state == qYes && e.tls.authSent && !e.tls.authDone
}

// SkipCommands returns how many bytes at the start of b are whole Telnet
// commands (IAC cmd, IAC verb option, IAC SB ... IAC SE), and whether b
// ends inside one (more: read on). After AUTH SSL's ACCEPT a client may
// still send the Telnet answers it had queued before it (telnet-ssl sends
// its TTYPE and NEW-ENVIRON IS in the same segment as IS SSL START); they
// belong to the clear-text stream, which is dropped, and the handshake
// starts after them.
func SkipCommands(b []byte) (n int, more bool) {
	for n < len(b) {
		if b[n] != IAC {
			return n, false
		}
		if n+1 >= len(b) {
			return n, true
		}
		switch c := b[n+1]; {
		case c == SB:
			end := bytes.Index(b[n+2:], []byte{IAC, SE})
			if end < 0 {
				return n, true
			}
			n += 2 + end + 2
		case c >= WILL:
			if n+2 >= len(b) {
				return n, true
			}
			n += 3
		default:
			n += 2
		}
	}
	return n, false
}
