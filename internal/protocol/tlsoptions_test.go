package protocol

import (
	"bytes"
	"testing"
)

// sb builds IAC SB opt data... IAC SE.
func sb(opt byte, data ...byte) []byte {
	return append(append([]byte{IAC, SB, opt}, data...), IAC, SE)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// The exchanges observed with the real clients (docs/tls.md), byte by byte.
func TestTLSOffers(t *testing.T) {
	followsFromUs := sb(OptStartTLS, tlsFOLLOWS)
	authSend := sb(OptAuth, authSEND, authTypeSSL, authClientOneWay)
	authAccept := sb(OptAuth, authREPLY, authTypeSSL, authClientOneWay, sslAccept)
	tests := []struct {
		name   string
		client []byte // what the client sends, after our opening offers
		// want: what we send in answer, in order; endAt: the option
		// that ends the stream (0: none); after: what the client sent
		// after the end is left unparsed.
		want        [][]byte
		endAt       byte
		negotiating bool // still waiting after client
	}{
		{"kermit START_TLS: WILL and FOLLOWS in one segment",
			cat([]byte{IAC, WILL, OptAuth, IAC, WILL, OptTTYPE, IAC, WILL, OptStartTLS}, sb(OptStartTLS, tlsFOLLOWS), []byte{0x16, 3, 1}),
			[][]byte{followsFromUs}, OptStartTLS, false},
		{"telnet-ssl AUTH SSL: refuses START_TLS, takes AUTH",
			cat([]byte{IAC, WONT, OptStartTLS, IAC, WILL, OptAuth}),
			[][]byte{authSend}, 0, true},
		{"telnet-ssl AUTH SSL: IS SSL START",
			cat([]byte{IAC, WONT, OptStartTLS, IAC, WILL, OptAuth}, sb(OptAuth, authIS, authTypeSSL, authClientOneWay, sslStart), []byte{0x16, 3, 1}),
			[][]byte{authSend, authAccept}, OptAuth, false},
		{"AUTH before START_TLS is answered waits for it",
			cat([]byte{IAC, WILL, OptAuth}),
			nil, 0, true},
		{"AUTH IS NULL ends the wait without TLS",
			cat([]byte{IAC, WONT, OptStartTLS, IAC, WILL, OptAuth}, sb(OptAuth, authIS, 0, 0)),
			[][]byte{authSend}, 0, false},
		{"another modifier is not SSL START",
			cat([]byte{IAC, WONT, OptStartTLS, IAC, WILL, OptAuth}, sb(OptAuth, authIS, authTypeSSL, 2, sslStart)),
			[][]byte{authSend}, 0, false},
		{"a client that agrees and never follows keeps negotiation waiting (up to its timeout)",
			cat([]byte{IAC, WILL, OptStartTLS, IAC, WONT, OptAuth}),
			[][]byte{followsFromUs}, 0, true},
		{"FOLLOWS before agreement is ignored",
			cat(sb(OptStartTLS, tlsFOLLOWS)),
			nil, 0, true},
		{"both refused: no TLS, nothing waited for",
			cat([]byte{IAC, WONT, OptStartTLS, IAC, WONT, OptAuth}),
			nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(Config{OfferTLS: true})
			start := e.start()
			if !bytes.HasPrefix(start, []byte{IAC, DO, OptStartTLS, IAC, DO, OptAuth}) {
				t.Fatalf("opening offers %v do not start with DO START_TLS, DO AUTHENTICATION", start)
			}
			// Answer the other offers so only the TLS ones are pending.
			in := cat([]byte{IAC, DONT, OptEcho, IAC, DONT, OptSGA, IAC, WONT, OptTTYPE, IAC, WONT, OptNAWS,
				IAC, WONT, OptNewEnviron, IAC, WONT, OptOldEnviron, IAC, DONT, OptCharset}, tc.client)
			in = bytes.ReplaceAll(in, []byte{IAC, WILL, OptTTYPE}, nil) // keep TTYPE refused
			p := bytes.Clone(in)
			r := e.feed(p)
			out := e.takeOut()
			var want []byte
			for _, w := range tc.want {
				want = append(want, w...)
			}
			got := stripNegotiation(out)
			if !bytes.Equal(got, want) {
				t.Errorf("sent %v, want %v", got, want)
			}
			if tc.endAt != 0 {
				if r.stop != stopEnd || r.arg != tc.endAt {
					t.Fatalf("stop %v arg %d, want the end by %d", r.stop, r.arg, tc.endAt)
				}
				if rest := in[r.used:]; !bytes.Equal(rest, []byte{0x16, 3, 1}) {
					t.Errorf("left unparsed %v, want exactly the ClientHello's start", rest)
				}
			} else if r.stop == stopEnd {
				t.Fatalf("the stream ended by %d", r.arg)
			}
			if got := e.negotiating(); got != tc.negotiating && tc.endAt == 0 {
				t.Errorf("negotiating = %v, want %v", got, tc.negotiating)
			}
		})
	}
}

// stripNegotiation drops the three-byte option answers from out, leaving
// the subnegotiations.
func stripNegotiation(out []byte) []byte {
	var got []byte
	for i := 0; i < len(out); {
		if out[i] == IAC && i+2 < len(out) && out[i+1] >= WILL {
			i += 3
			continue
		}
		j := bytes.Index(out[i:], []byte{IAC, SE})
		if j < 0 {
			return append(got, out[i:]...)
		}
		got = append(got, out[i:i+j+2]...)
		i += j + 2
	}
	return got
}

// Without a certificate nothing is offered and both options are refused,
// as every other unknown option is.
func TestTLSNotOffered(t *testing.T) {
	e := newEngine(Config{})
	if bytes.Contains(e.start(), []byte{IAC, DO, OptStartTLS}) {
		t.Fatal("START_TLS offered without OfferTLS")
	}
	p := cat([]byte{IAC, WILL, OptStartTLS, IAC, WILL, OptAuth}, sb(OptStartTLS, tlsFOLLOWS))
	r := e.feed(p)
	if out := e.takeOut(); !bytes.Equal(out, []byte{IAC, DONT, OptStartTLS, IAC, DONT, OptAuth}) {
		t.Errorf("answered %v, want DONT START_TLS, DONT AUTHENTICATION", out)
	}
	if r.stop == stopEnd {
		t.Error("a FOLLOWS we never asked for ended the stream")
	}
}

// FuzzTLSOffers runs the engine with START_TLS and AUTH SSL offered over
// any input: the stream ends only by START_TLS's FOLLOWS after ours, by
// AUTH's IS SSL START after our SEND (or by LOGOUT); the result is the
// same however the input is split; and our TLS messages go out at most
// once each.
func FuzzTLSOffers(f *testing.F) {
	for _, s := range [][]byte{
		cat([]byte{IAC, WILL, OptStartTLS}, sb(OptStartTLS, tlsFOLLOWS), []byte{0x16, 3, 1}),
		cat([]byte{IAC, WONT, OptStartTLS, IAC, WILL, OptAuth}, sb(OptAuth, authIS, authTypeSSL, authClientOneWay, sslStart)),
		cat([]byte{IAC, WILL, OptStartTLS, IAC, SB, OptStartTLS}, []byte("alice\r\n")),
		cat([]byte{IAC, WILL, OptAuth, IAC, WONT, OptStartTLS}, sb(OptAuth, authIS, 0, 0), sb(OptAuth, authIS, authTypeSSL, 0, 1)),
		cat(sb(OptStartTLS, tlsFOLLOWS), []byte{IAC, WILL, OptStartTLS}, sb(OptStartTLS, tlsFOLLOWS, tlsFOLLOWS)),
		cat([]byte{IAC, WILL, OptStartTLS, IAC, SB, OptStartTLS, IAC, SE}),
	} {
		f.Add(s)
	}
	cfg := Config{OfferTLS: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := startedEngine(cfg)
		wantData, wantOut := appStream(whole, in)
		e := startedEngine(cfg)
		var data, out []byte
		for i, rest := 0, in; len(rest) > 0; i++ {
			n := 1 + (i*7+len(in))%min(len(rest), 5)
			d, o := appStream(e, rest[:n])
			data, out = append(data, d...), append(out, o...)
			rest = rest[n:]
			if e.ended != 0 {
				break
			}
		}
		if !bytes.Equal(data, wantData) || !bytes.Equal(out, wantOut) {
			t.Fatalf("split feeding differs:\ndata %q\nwant %q\nout  %q\nwant %q", data, wantData, out, wantOut)
		}
		switch whole.ended {
		case 0, OptLogout:
		case OptStartTLS:
			if !whole.tls.followsSent || whole.him[OptStartTLS].state != qYes {
				t.Fatal("START_TLS ended the stream before we sent FOLLOWS to an agreeing client")
			}
		case OptAuth:
			if !whole.tls.authSent || !bytes.HasSuffix(wantOut, sb(OptAuth, authREPLY, authTypeSSL, authClientOneWay, sslAccept)) {
				t.Fatal("AUTH ended the stream without our SEND and ACCEPT")
			}
		default:
			t.Fatalf("the stream ended by option %d", whole.ended)
		}
		for _, msg := range [][]byte{sb(OptStartTLS, tlsFOLLOWS), sb(OptAuth, authSEND, authTypeSSL, authClientOneWay)} {
			if c := bytes.Count(wantOut, msg); c > 1 {
				t.Fatalf("%v sent %d times", msg, c)
			}
		}
		checkEngineBounds(t, whole)
	})
}
