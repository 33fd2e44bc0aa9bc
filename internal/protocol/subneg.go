package protocol

import "strings"

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

type envVar struct{ name, value string }

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
				vars = append(vars, envVar{name, v})
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
