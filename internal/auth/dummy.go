package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

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
// always costs the same, and without the key nobody can tell in advance
// which cost a name gets. The key is kept beside the users file
// (loadDummyKey), so a name also costs the same after a restart, and a
// name's place among the costs follows their shares of the users, so that
// adding a user moves few names to another cost: a real user's cost never
// changes, and a name whose cost did would be known not to be one.
// Immutable once made.
type dummies struct {
	costs  []int          // ascending
	counts []int          // users at costs[i]
	total  int            // sum of counts, > 0
	hashes map[int][]byte // one hash of a random password per cost
	key    []byte         // HMAC key for picking a cost
}

// newDummyKey returns a random key.
func newDummyKey() []byte {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return key
}

// dummyKeyFile is where the key for the users file at usersFile is kept.
func dummyKeyFile(usersFile string) string { return usersFile + ".key" }

// loadDummyKey reads the key kept at path, making it (0600, root's when
// the daemon is root) when there is none. A key that cannot be kept or
// read (a read-only directory, a file others can read) is made for this
// process alone, and logged: names then keep their costs until a restart.
func loadDummyKey(path string, log *slog.Logger) []byte {
	key, err := readDummyKey(path)
	if err == nil {
		return key
	}
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createDummyKey(path)
		if errors.Is(err, fs.ErrExist) { // made meanwhile by another process
			key, err = readDummyKey(path)
		}
		if err == nil {
			return key
		}
	}
	log.Warn("the key that picks unknown names' bcrypt costs is not kept; a new one is made at each start, and timing one name across restarts can tell whether it is a user",
		"path", path, "err", err)
	return newDummyKey()
}

// readDummyKey reads a key kept by createDummyKey.
func readDummyKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: others may read it (mode %v); remove it, and a new one is made", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: not a key of 64 hex digits; remove it, and a new one is made", path)
	}
	return key, nil
}

// createDummyKey makes a new key at path, failing with fs.ErrExist if
// there is a file already.
func createDummyKey(path string) ([]byte, error) {
	key := newDummyKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, err
	}
	return key, nil
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

// costFor is the cost an unknown name is checked at: the keyed hash of
// the name places it in [0, 1), cut into the costs' shares of the users,
// lowest cost first. When a user is added or removed the cuts move a
// little, and only the names close to a cut change cost.
func (d *dummies) costFor(name string) int {
	mac := hmac.New(sha256.New, d.key)
	mac.Write([]byte(name))
	at := float64(binary.BigEndian.Uint64(mac.Sum(nil))>>11) / (1 << 53)
	cut := 0
	for i, c := range d.counts {
		cut += c
		if at < float64(cut)/float64(d.total) {
			return d.costs[i]
		}
	}
	return d.costs[len(d.costs)-1] // not reached: the last cut is 1
}

// forName returns the dummy hash an unknown name is checked against.
func (d *dummies) forName(name string) []byte { return d.hashes[d.costFor(name)] }

// forCost returns the dummy hash of cost, for a known user whose own hash
// is not to be used (a password over MaxPasswordLen); nil if the file has
// no user of that cost.
func (d *dummies) forCost(cost int) []byte { return d.hashes[cost] }
