package server

import (
	"os"
	"path/filepath"
	"strconv"
)

// terminfoDirs are where ncurses looks for compiled terminal descriptions
// on Debian and most other systems.
var terminfoDirs = []string{"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo"}

// knownTerm reports whether the host has a terminfo entry for name, so the
// TTYPE cycle can stop at a type programs will understand. name was
// validated by the protocol package (letters, digits, - _ . + /); a '/'
// would escape the directory, so it is refused here.
func knownTerm(name string) bool {
	if name == "" || len(name) > 64 || filepath.Base(name) != name || name[0] == '.' {
		return false
	}
	for _, dir := range terminfoDirs {
		// ncurses uses the first letter as the subdirectory; some systems
		// use its hex code.
		for _, sub := range []string{name[:1], strconv.FormatInt(int64(name[0]), 16)} {
			if _, err := os.Stat(filepath.Join(dir, sub, name)); err == nil {
				return true
			}
		}
	}
	return false
}
