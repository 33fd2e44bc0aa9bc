package recording

import (
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

// appendString appends s as the inside of a JSON string, with what is not
// valid UTF-8 replaced by U+FFFD.
func appendString(dst, s []byte) []byte {
	start := 0 // the run of bytes to copy as they are
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
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
