package recording

import (
	"encoding/binary"
	"math/bits"
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

// byteCode says what each byte becomes when it does not start a valid
// multi-byte character: up to 6 bytes of output in the low bytes, their
// count in the top byte. Storing all 8 bytes and moving on by the count
// writes any byte without a branch on which kind it is, which is what
// binary output needs: its kinds of byte come in no order the processor
// could predict.
var byteCode = func() (t [256]uint64) {
	for c := range 256 {
		var b []byte
		switch {
		case c == '"' || c == '\\':
			b = []byte{'\\', byte(c)}
		case c == '\n':
			b = []byte(`\n`)
		case c == '\r':
			b = []byte(`\r`)
		case c == '\t':
			b = []byte(`\t`)
		case c < 0x20:
			b = []byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF]}
		case c < utf8.RuneSelf:
			b = []byte{byte(c)}
		default:
			b = []byte("\uFFFD")
		}
		var x [8]byte
		copy(x[:], b)
		x[7] = byte(len(b))
		t[c] = binary.LittleEndian.Uint64(x[:])
	}
	return t
}()

// leads8 marks (with its high bit) each of the 8 bytes in x that can
// start a character of 2 to 4 bytes: 0xC2–0xF4.
func leads8(x uint64) uint64 {
	v := x &^ highs // below 0x80, so adding up to 0x3E carries into no other byte
	return x & highs & (v + (0x80-0x42)*ones) &^ (v + (0x80-0x75)*ones)
}

// conts8 marks each of the 8 bytes in x that can continue a character:
// 0x80–0xBF.
func conts8(x uint64) uint64 {
	return x & highs &^ (x << 1)
}

// appendString appends s as the inside of a JSON string, with what is not
// valid UTF-8 replaced by U+FFFD, one per byte. It goes 8 bytes at a time:
// plain ASCII (most terminal output) is copied; 8 bytes where no
// character of 2 to 4 bytes can start (a start followed by a
// continuation byte) are each looked up in byteCode; only such a
// start, and the last few bytes, are taken a byte at a time.
func appendString(dst, s []byte) []byte {
	// The most one byte can become is 6 (\u00XX); a byteCode entry is
	// stored whole, 8 bytes, so 2 more may be written past the end.
	dst = slices.Grow(dst, 6*len(s)+2)
	n := len(dst)
	out := dst[:cap(dst)]
	i := 0
	for i+9 <= len(s) {
		x := binary.LittleEndian.Uint64(s[i:])
		if plain8(x) {
			binary.LittleEndian.PutUint64(out[n:], x)
			n, i = n+8, i+8
			continue
		}
		// Up to the first byte that may start a character, each byte
		// becomes its byteCode; that byte is looked at closer.
		next := x>>8 | uint64(s[i+8])<<56 // each byte's next
		k := bits.TrailingZeros64(leads8(x)&conts8(next)) >> 3
		for j := 0; j < 8*k; j += 8 { // k is 8 when no byte may start one
			code := byteCode[byte(x>>j)]
			binary.LittleEndian.PutUint64(out[n:], code)
			n += int(code >> 56)
		}
		if i += k; k < 8 {
			n, i = appendRune(out, n, s, i)
		}
	}
	for i < len(s) {
		n, i = appendRune(out, n, s, i)
	}
	return out[:n]
}

// appendRune encodes the byte, or the valid character, at s[i] into
// out[n:], and returns the new n and i.
func appendRune(out []byte, n int, s []byte, i int) (int, int) {
	code := byteCode[s[i]]
	if s[i] >= 0xC2 && s[i] <= 0xF4 {
		if size := runeSize(s[i:]); size > 0 {
			return n + copy(out[n:], s[i:i+size]), i + size
		}
	}
	binary.LittleEndian.PutUint64(out[n:], code)
	return n + int(code>>56), i + 1
}

// runeSize returns the length of the valid UTF-8 character at the start
// of s, whose first byte is 0xC2–0xF4, or 0 if there is none. It is
// utf8.DecodeRune's check without the decoding.
func runeSize(s []byte) int {
	c := s[0]
	if len(s) < 2 {
		return 0
	}
	lo, hi := byte(0x80), byte(0xBF) // the second byte's range
	switch c {
	case 0xE0:
		lo = 0xA0 // not overlong
	case 0xED:
		hi = 0x9F // not a surrogate
	case 0xF0:
		lo = 0x90 // not overlong
	case 0xF4:
		hi = 0x8F // not past U+10FFFF
	}
	if s[1] < lo || s[1] > hi {
		return 0
	}
	if c < 0xE0 {
		return 2
	}
	if len(s) < 3 || s[2]&0xC0 != 0x80 {
		return 0
	}
	if c < 0xF0 {
		return 3
	}
	if len(s) < 4 || s[3]&0xC0 != 0x80 {
		return 0
	}
	return 4
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
