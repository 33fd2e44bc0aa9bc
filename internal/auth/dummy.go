package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// dummies is what a logon for a name that is not in the users file is
// checked against, so that it costs the same bcrypt time as a real one.
//
// A single dummy of the file's most common cost is not enough: files mixing
// costs are normal (htpasswd -B makes cost 5, tlntadmn cost 10), and a
// name whose answer time matches no other name's would stand out. So each
// unknown name gets one of the file's costs, in the proportions the real
// accounts have them, chosen by a keyed hash of the name: the same name
// always costs the same, and without the per-process key nobody can tell in
// advance which cost a name gets. Immutable once made.
type dummies struct {
	costs  []int          // ascending
	counts []int          // users at costs[i]
	total  int            // sum of counts, > 0
	hashes map[int][]byte // one hash of a random password per cost
	key    []byte         // HMAC key for picking a cost
}

// newDummyKey returns a random key, made once per Store.
func newDummyKey() []byte {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return key
}

// makeDummies builds the dummies for users. Hashes of costs prev already
// has are taken from it: a reload should not cost a bcrypt hash per cost.
func makeDummies(users *UsersFile, key []byte, prev *dummies) (*dummies, error) {
	counts := users.Costs()
	if len(counts) == 0 {
		counts = map[int]int{DefaultCost: 1}
	}
	d := &dummies{hashes: make(map[int][]byte, len(counts)), key: key}
	for c, n := range counts {
		d.costs = append(d.costs, c)
		d.total += n
	}
	slices.Sort(d.costs)
	for _, c := range d.costs {
		d.counts = append(d.counts, counts[c])
		if prev != nil && prev.hashes[c] != nil {
			d.hashes[c] = prev.hashes[c]
			continue
		}
		h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), c)
		if err != nil {
			return nil, fmt.Errorf("auth: make dummy hash of cost %d: %w", c, err)
		}
		d.hashes[c] = h
	}
	return d, nil
}

// costFor is the cost an unknown name is checked at.
func (d *dummies) costFor(name string) int {
	mac := hmac.New(sha256.New, d.key)
	mac.Write([]byte(name))
	// 64 bits modulo a count of users: the bias is far below measurable.
	n := binary.BigEndian.Uint64(mac.Sum(nil)) % uint64(d.total)
	for i, c := range d.counts {
		if n < uint64(c) {
			return d.costs[i]
		}
		n -= uint64(c)
	}
	return d.costs[len(d.costs)-1] // not reached
}

// forName returns the dummy hash an unknown name is checked against.
func (d *dummies) forName(name string) []byte { return d.hashes[d.costFor(name)] }

// forCost returns the dummy hash of cost, for a known user whose own hash
// is not to be used (a password over MaxPasswordLen); nil if the file has
// no user of that cost.
func (d *dummies) forCost(cost int) []byte { return d.hashes[cost] }
