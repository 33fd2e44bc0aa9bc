package main

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Decoding 0xFF-heavy output eight bytes at a time.
//
// Where IACs are close together (a dump of erased flash: on the wire two
// bytes in three are IAC), a call per run between IACs costs more than
// the bytes, and a loop that branches on each byte is mispredicted every
// other byte. dense instead reads a word of eight bytes, finds its IACs
// with bit arithmetic, looks up which of them are the second of a pair
// (to drop), and packs the rest together with three shifts. The client
// shares the two CPUs with the server it measures, so what it spends
// decoding is taken from every server alike; this keeps that share small
// (BenchmarkDecode/ff-heavy: about 1 ns a byte, against 1.8 for a
// branch-free byte loop and 3 for a loop that branches on each byte).

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
	low = 0x7f7f7f7f7f7f7f7f
)

// byteMask returns bit i set where byte i of w (little-endian) equals c.
func byteMask(w uint64, c byte) uint {
	x := w ^ (lsb * uint64(c)) // zero where the byte is c
	hi := ^(((x & low) + low) | x | low)
	// Gather the eight high bits into the top byte.
	return uint((hi >> 7) * 0x0102040810204080 >> 56)
}

// pairStep says what a word with IACs at the bits of an 8-bit mask does,
// given whether the word before ended in an unpaired IAC: which IACs are
// the second of a pair (dropped), whether the word ends unpaired, and
// whether an unpaired IAC is followed by a command byte inside the word
// (then the slow path takes over).
type pairStep struct {
	drop    uint8
	pendOut uint8
	command bool
}

// pairSteps is indexed by pend<<8 | mask.
var pairSteps = func() (t [512]pairStep) {
	for in := range 512 {
		pend, m := in>>8, in&0xff
		var s pairStep
		for i := range 8 {
			iac := m>>i&1 == 1
			switch {
			case pend == 1 && iac:
				s.drop |= 1 << i
				pend = 0
			case pend == 1:
				s.command = true
			case iac:
				pend = 1
			}
		}
		s.pendOut = uint8(pend)
		t[in] = s
	}
	return t
}()

// packer removes the bytes of a word at the bits of a drop mask and moves
// the others down, keeping their order: keep clears the dropped bytes,
// and each stage k moves the bytes in move[k] down by 2^k bytes. A kept
// byte moves down by the number of dropped bytes below it, in binary, one
// stage per bit (the compress of Hacker's Delight 7-4), so no byte lands
// on another.
type packer struct {
	keep uint64
	move [3]uint64
}

var packers = func() (t [256]packer) {
	for d := range 256 {
		p := &t[d]
		var pos, shift [8]int
		for i := range 8 {
			pos[i] = i
			shift[i] = bits.OnesCount8(uint8(d) & (1<<i - 1))
			if d>>i&1 == 0 {
				p.keep |= 0xff << (8 * i)
			}
		}
		for k := range 3 {
			for i := range 8 {
				if d>>i&1 == 0 && shift[i]>>k&1 == 1 {
					p.move[k] |= 0xff << (8 * pos[i])
					pos[i] -= 1 << k
				}
			}
		}
	}
	return t
}()

func (p *packer) pack(w uint64) uint64 {
	w &= p.keep
	w = w&^p.move[0] | (w&p.move[0])>>8
	w = w&^p.move[1] | (w&p.move[1])>>16
	return w&^p.move[2] | (w&p.move[2])>>32
}

// dense decodes data in which IACs are close together, from state 0 (not
// in a command). It stops at a command (leaving t.st at 1), after 64
// bytes or more without an IAC (where the caller's IndexByte is faster
// again), or at the end of p, and returns how much of p it consumed.
func (t *tconn) dense(p []byte) int {
	n0 := len(t.data)
	// Whole words are stored: room for one past the end.
	t.data = slices.Grow(t.data, len(p)+8)
	out := t.data[n0 : n0+len(p)+8]
	var pend uint   // the last byte was an IAC not yet paired
	cr := b2u(t.cr) // the last data byte was CR
	k, j, plain := 0, 0, 0
	for j < len(p) && plain < 64 {
		if j+8 <= len(p) && cr == 0 {
			w := binary.LittleEndian.Uint64(p[j:])
			iacs := byteMask(w, cIAC)
			s := pairSteps[pend<<8|iacs]
			if byteMask(w, '\r') == 0 && !s.command {
				binary.LittleEndian.PutUint64(out[k:], packers[s.drop].pack(w))
				k += 8 - bits.OnesCount8(s.drop)
				pend = uint(s.pendOut)
				if iacs == 0 {
					plain += 8
				} else {
					plain = 0
				}
				j += 8
				continue
			}
		}
		// A byte at a time: a CR (and the NUL that may follow it), a
		// command, or the last few bytes.
		c := p[j]
		iac := b2u(c == cIAC)
		if pend > iac {
			break // IAC and then a command byte
		}
		out[k] = c
		k += int(1 - (pend&iac | cr&b2u(c == 0)))
		// An IAC starting a pair or a command leaves cr as it was.
		cr = b2u(c == '\r') | cr&iac&^pend
		pend = iac &^ pend
		plain = (plain + 1) * int(1-iac)
		j++
	}
	// An IAC still unpaired went out as data; it is the caller's again.
	k -= int(pend)
	t.data = t.data[:n0+k]
	t.total += int64(k)
	t.cr, t.st = cr == 1, int(pend)
	return j
}

// b2u is 1 for true and 0 for false (the compiler makes it a SETcc, not a
// branch).
func b2u(b bool) uint {
	if b {
		return 1
	}
	return 0
}
