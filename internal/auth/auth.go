// Package auth checks Telnet logons against an Apache-style users file
// (htpasswd, bcrypt hashes only) and groups file (AuthGroupFile).
//
// It knows nothing of the network or of the daemon's configuration: callers
// hand it paths, group names and the user's answers, and get back an
// Identity or one of the sentinel errors. What a remote user is told must
// come from those sentinels only, so that an unknown user and a wrong
// password look the same from outside, in words and in time.
package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

var (
	// ErrBadCredentials is returned for an unknown user, an invalid user
	// name and a wrong password alike: callers must not tell them apart.
	ErrBadCredentials = errors.New("login incorrect")
	// ErrNotMember is returned, only after the password was verified, when
	// the user is in neither the clients group nor the admins group.
	ErrNotMember = errors.New("user is not a member of an allowed group")
)

const (
	// MaxNameLen is the longest user, group or OS account name accepted, in bytes.
	MaxNameLen = 64
	// MaxPasswordLen is the longest password Authenticate considers; longer
	// ones are refused as bad credentials. bcrypt itself only uses the
	// first 72 bytes, as htpasswd -B does.
	MaxPasswordLen = 1024
	// DefaultCost is the bcrypt cost of HashPassword, and of the dummy hash
	// when the users file holds no hash to take the cost from.
	DefaultCost = bcrypt.DefaultCost
	// MaxCost is the highest bcrypt cost accepted in a users file: the most
	// htpasswd -B -C allows. Higher costs would hold a check for minutes.
	MaxCost = 17
)

// Identity is who a successful logon is for.
type Identity struct {
	User      string // the name in the users file
	OSAccount string // the account the session runs as
	Admin     bool   // member of the admins group
}

// ValidateUsername reports whether name may be used as a user name. It
// refuses an empty name, one longer than MaxNameLen bytes, a leading '-'
// (it could read as an option to a program), "." and "..", any control
// character (bytes below 0x20, 0x7f, and the C1 controls U+0080..U+009F),
// '/', ':', whitespace, invalid UTF-8, and non-printing Unicode characters
// such as bidirectional overrides and zero-width joiners (they make one
// name look like another in logs).
//
// Non-ASCII letters are allowed ("josé", "ユーザー"), as in htpasswd; whether
// the OS account exists is for the session to find out.
func ValidateUsername(name string) error {
	return validateName("user name", name)
}

// ValidateGroupName applies the rules of ValidateUsername to a group name.
func ValidateGroupName(name string) error {
	return validateName("group name", name)
}

func validateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", kind)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%s is longer than %d bytes", kind, MaxNameLen)
	case name[0] == '-':
		return fmt.Errorf("%s starts with '-'", kind)
	case name == "." || name == "..":
		return fmt.Errorf("%s is %q", kind, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s is not valid UTF-8", kind)
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%s contains control byte 0x%02x", kind, r)
		case r == '/':
			return fmt.Errorf("%s contains '/'", kind)
		case r == ':':
			return fmt.Errorf("%s contains ':'", kind)
		case r == ' ':
			return fmt.Errorf("%s contains whitespace", kind)
		case r < 0x80:
			continue
		case unicode.IsSpace(r):
			return fmt.Errorf("%s contains whitespace (U+%04X)", kind, r)
		case !unicode.IsPrint(r):
			return fmt.Errorf("%s contains non-printing character U+%04X", kind, r)
		}
	}
	return nil
}

// HashPassword hashes password with bcrypt at DefaultCost, in the "$2y$"
// form htpasswd -B writes, so Apache's tools accept the line too.
func HashPassword(password string) (string, error) {
	return HashPasswordCost(password, DefaultCost)
}

// HashPasswordCost is HashPassword with a chosen cost (bcrypt.MinCost..MaxCost).
func HashPasswordCost(password string, cost int) (string, error) {
	if cost < bcrypt.MinCost || cost > MaxCost {
		return "", fmt.Errorf("bcrypt cost %d out of range %d..%d", cost, bcrypt.MinCost, MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	// The variants differ only in how old C libraries got 8-bit passwords
	// wrong; Go's bcrypt is right under every name, so the label is free.
	return "$2y$" + strings.TrimPrefix(string(h), "$2a$"), nil
}
