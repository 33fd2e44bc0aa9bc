package protocol

import (
	"bytes"
	"strings"
)

// decodeNAWS reads RFC 1073's four bytes: width and height, big-endian.
// (IAC doubling was already undone by the parser.) Zero means "unknown"
// and is refused, as are absurd sizes.
func decodeNAWS(d []byte) (cols, rows int, ok bool) {
	if len(d) != 4 {
		return 0, 0, false
	}
	cols = int(d[0])<<8 | int(d[1])
	rows = int(d[2])<<8 | int(d[3])
	if cols == 0 || rows == 0 || cols > 4096 || rows > 4096 {
		return 0, 0, false
	}
	return cols, rows, true
}

// decodeTermType reads "IS name" (RFC 1091) and returns the name in lower
// case, the spelling terminfo uses. Names with anything but letters,
// digits and - _ . + / are refused: the value ends up in TERM.
func decodeTermType(d []byte) (string, bool) {
	if len(d) < 2 || d[0] != sbIS || len(d)-1 > MaxTermTypeLen {
		return "", false
	}
	for _, b := range d[1:] {
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == '+' || b == '/'
		if !ok {
			return "", false
		}
	}
	return strings.ToLower(string(d[1:])), true
}

// envVar is a variable of an environment list. undefined: the name came
// with no VALUE, which RFC 1572 defines as "the client has no such
// variable" (unlike VALUE with nothing after it, an empty value).
type envVar struct {
	name, value string
	undefined   bool
}

// decodeEnviron reads the list part of NEW-ENVIRON IS/INFO (RFC 1572):
// (VAR|USERVAR) name [VALUE value] ..., with ESC quoting the type bytes.
// Names must look like shell variable names; values may not hold control
// bytes. Entries that break these rules are dropped, never repaired.
func decodeEnviron(d []byte) []envVar {
	var vars []envVar
	var cur []byte
	var name string
	inName, inValue, bad := false, false, false
	flush := func() {
		if inName {
			name = string(cur)
		}
		if (inName || inValue) && !bad && validEnvName(name) {
			v := ""
			if inValue {
				v = string(cur)
			}
			if len(v) <= MaxEnvValueLen {
				vars = append(vars, envVar{name: name, value: v, undefined: !inValue})
			}
		}
		cur = cur[:0]
		inName, inValue, bad = false, false, false
	}
	for i := 0; i < len(d); i++ {
		b := d[i]
		switch b {
		case envVAR, envUSERVAR:
			flush()
			inName = true
		case envVALUE:
			if !inName {
				bad = true
				continue
			}
			name = string(cur)
			cur = cur[:0]
			inName, inValue = false, true
		case envESC:
			if i+1 < len(d) {
				i++
				// ESC quotes the type bytes, which are control bytes:
				// quoting does not make them acceptable in a value.
				if c := d[i]; c < 0x20 || c == 0x7f {
					bad = true
				}
				cur = append(cur, d[i])
			}
		default:
			if !inName && !inValue {
				continue // bytes before the first VAR are meaningless
			}
			if b < 0x20 || b == 0x7f {
				bad = true
			}
			cur = append(cur, b)
		}
	}
	flush()
	return vars
}

func validEnvName(n string) bool {
	if n == "" || len(n) > maxEnvNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// decodeOldEnviron reads the list part of OLD-ENVIRON IS/INFO (RFC 1408).
// The BSD implementations that shipped it have VAR and VALUE swapped
// (RFC 1571), so the list is read the way that makes sense of it and then
// decoded as NEW-ENVIRON's.
func decodeOldEnviron(d []byte) []envVar {
	if swappedVarValue(d) {
		d = swapVarValue(d)
	}
	return decodeEnviron(d)
}

// swappedVarValue reports whether an OLD-ENVIRON list uses the BSD codes
// (VAR 1, VALUE 0). A list cannot start with a VALUE, so its first type
// byte settles it unless that is a USERVAR. Then the reading that makes a
// well-formed list wins; if both do, the one in which every variable has
// a value (clients send values); if that does not tell either, the BSD
// one, which is what clients actually send (PuTTY among them).
func swappedVarValue(d []byte) bool {
	i := firstTypeByte(d)
	if i < 0 {
		return false
	}
	if d[i] != envUSERVAR {
		return d[i] == envVALUE
	}
	rfcOK, rfcFull := readEnvList(d, envVAR)
	bsdOK, bsdFull := readEnvList(d, envVALUE)
	switch {
	case rfcOK != bsdOK:
		return bsdOK
	case rfcFull != bsdFull:
		return bsdFull
	}
	return true
}

// firstTypeByte returns the index of the first unescaped type byte of an
// environment list, or -1.
func firstTypeByte(d []byte) int {
	for i := 0; i < len(d); i++ {
		switch d[i] {
		case envESC:
			i++
		case envVAR, envVALUE, envUSERVAR:
			return i
		}
	}
	return -1
}

// readEnvList reads the type bytes of a list as (VAR|USERVAR) name
// [VALUE value] ..., taking varCode as VAR and the other of 0 and 1 as
// VALUE. ok: every VALUE follows a name; full: every name has a value.
func readEnvList(d []byte, varCode byte) (ok, full bool) {
	names, values, afterName := 0, 0, false
	for i := 0; i < len(d); i++ {
		switch b := d[i]; {
		case b == envESC:
			i++
		case b == varCode || b == envUSERVAR:
			names++
			afterName = true
		case b == envVAR || b == envVALUE: // the VALUE code
			if !afterName {
				return false, false
			}
			values++
			afterName = false
		}
	}
	return true, names == values
}

// swapVarValue returns a copy of d with the type bytes VAR and VALUE
// exchanged; ESC-quoted bytes are left alone.
func swapVarValue(d []byte) []byte {
	out := make([]byte, len(d))
	for i := 0; i < len(d); i++ {
		b := d[i]
		switch b {
		case envESC:
			out[i] = b
			if i+1 < len(d) {
				i++
				out[i] = d[i]
			}
			continue
		case envVAR:
			b = envVALUE
		case envVALUE:
			b = envVAR
		}
		out[i] = b
	}
	return out
}

// decodeTermSpeed reads TSPEED IS's "transmit,receive" (RFC 1079): two
// decimal speeds in bits per second, each 1 to MaxSpeed.
func decodeTermSpeed(d []byte) (tx, rx int, ok bool) {
	a, b, found := bytes.Cut(d, []byte{','})
	if !found {
		return 0, 0, false
	}
	if tx, ok = decodeSpeed(a); !ok {
		return 0, 0, false
	}
	if rx, ok = decodeSpeed(b); !ok {
		return 0, 0, false
	}
	return tx, rx, true
}

func decodeSpeed(d []byte) (int, bool) {
	if len(d) == 0 || len(d) > 7 {
		return 0, false
	}
	v := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, v > 0 && v <= MaxSpeed
}

// decodeDisplay reads XDISPLOC IS's "host:display[.screen]" (RFC 1096).
// Only the characters of host names, IPv6 literals and display numbers
// are allowed: the value becomes DISPLAY.
func decodeDisplay(d []byte) (string, bool) {
	if len(d) == 0 || len(d) > MaxDisplayLen || bytes.IndexByte(d, ':') < 0 {
		return "", false
	}
	for _, b := range d {
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == ':' || b == '-' || b == '_' || b == '/' || b == '[' || b == ']'
		if !ok {
			return "", false
		}
	}
	return string(d), true
}

// pickCharset reads a CHARSET REQUEST's list (after the REQUEST byte,
// RFC 2066): an optional "[TTABLE]" and version, then a separator byte and
// the names it separates. It returns UTF-8 as the client spelled it, if
// offered.
func pickCharset(d []byte) ([]byte, bool) {
	for _, prefix := range []string{"[TTABLE ]", "[TTABLE]"} {
		if rest, ok := bytes.CutPrefix(d, []byte(prefix)); ok {
			if len(rest) == 0 {
				return nil, false
			}
			d = rest[1:] // the version byte; we never send a table
			break
		}
	}
	if len(d) < 2 {
		return nil, false
	}
	sep := d[0]
	for name := range bytes.SplitSeq(d[1:], []byte{sep}) {
		if isUTF8Name(name) {
			return name, true
		}
	}
	return nil, false
}

// isUTF8Name reports whether a character set name means UTF-8.
func isUTF8Name(n []byte) bool {
	return bytes.EqualFold(n, []byte("UTF-8")) || bytes.EqualFold(n, []byte("UTF8"))
}
