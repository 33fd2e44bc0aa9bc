package recording

import (
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The asciicast lines: [seconds, "kind", "data"]. Data is a JSON string,
// so it must be valid UTF-8: a byte that is not part of a valid UTF-8
// character (0xFF, a stray continuation byte, a Latin-1 letter) is
// written as U+FFFD, the replacement character, as asciinema's own
// recorder writes it and as a UTF-8 terminal shows it.

func appendTime(dst []byte, at time.Duration) []byte {
	return strconv.AppendFloat(dst, at.Seconds(), 'f', 6, 64)
}

func appendEvent(dst []byte, at time.Duration, kind byte, data []byte) []byte {
	dst = append(dst, '[')
	dst = appendTime(dst, at)
	dst = append(dst, ", \""...)
	dst = append(dst, kind)
	dst = append(dst, "\", \""...)
	dst = appendString(dst, data)
	return append(dst, "\"]\n"...)
}

func appendResize(dst []byte, at time.Duration, cols, rows uint32) []byte {
	dst = append(dst, '[')
	dst = appendTime(dst, at)
	dst = append(dst, ", \"r\", \""...)
	dst = strconv.AppendUint(dst, uint64(cols), 10)
	dst = append(dst, 'x')
	dst = strconv.AppendUint(dst, uint64(rows), 10)
	return append(dst, "\"]\n"...)
}

func appendMarker(dst []byte, at time.Duration, label string) []byte {
	dst = append(dst, '[')
	dst = appendTime(dst, at)
	dst = append(dst, ", \"m\", \""...)
	dst = appendString(dst, []byte(label))
	return append(dst, "\"]\n"...)
}

const hexDigits = "0123456789abcdef"

// Masks for testing 8 bytes at a time.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes in x needs more than a copy:
// no control character, quote, backslash or non-ASCII byte.
func plain8(x uint64) bool {
	if x&highs != 0 {
		return false
	}
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x-0x20*ones)&^x&highs|zero(x^'"'*ones)|zero(x^'\\'*ones) == 0
}

// appendString appends s as the inside of a JSON string, with what is not
// valid UTF-8 replaced by U+FFFD. Terminal output is mostly plain ASCII,
// copied 8 bytes at a time.
func appendString(dst, s []byte) []byte {
	dst = slices.Grow(dst, 6*len(s)) // the most one byte can become: \u00XX
	n := len(dst)
	out := dst[:cap(dst)]
	for i := 0; i < len(s); {
		for i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[i:])
			if !plain8(x) {
				break
			}
			binary.LittleEndian.PutUint64(out[n:], x)
			n, i = n+8, i+8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf:
			out[n] = c
			n, i = n+1, i+1
		case c < utf8.RuneSelf:
			out[n] = '\\'
			switch c {
			case '"', '\\':
				out[n+1] = c
				n += 2
			case '\n':
				out[n+1] = 'n'
				n += 2
			case '\r':
				out[n+1] = 'r'
				n += 2
			case '\t':
				out[n+1] = 't'
				n += 2
			default:
				out[n+1], out[n+2], out[n+3], out[n+4], out[n+5] = 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF]
				n += 6
			}
			i++
		default:
			size := 1
			if c >= 0xC2 && c <= 0xF4 { // else never the start of a valid character
				var r rune
				r, size = utf8.DecodeRune(s[i:])
				if r == utf8.RuneError && size == 1 {
					size = 0
				}
			} else {
				size = 0
			}
			if size == 0 {
				out[n], out[n+1], out[n+2] = 0xEF, 0xBF, 0xBD // U+FFFD
				n, i = n+3, i+1
				continue
			}
			n += copy(out[n:], s[i:i+size])
			i += size
		}
	}
	return out[:n]
}

// cutTail returns how many bytes at the end of b are the start of a
// UTF-8 character that is not complete yet (0 to 3).
func cutTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[i:]) {
				return len(b) - i
			}
			return 0
		}
	}
	return 0
}
