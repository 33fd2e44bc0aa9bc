package auth

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User is one line of the users file.
type User struct {
	Name      string
	Hash      string // bcrypt, "$2a$", "$2b$" or "$2y$"
	OSAccount string // optional third field; Name when absent
}

// UsersFile is a parsed users file: Apache htpasswd lines
// "name:hash[:osaccount]", bcrypt hashes only. Blank lines and lines
// starting with '#' are kept for Write but otherwise ignored.
//
// A UsersFile is not safe for concurrent mutation; Store never shares the
// one it reads.
type UsersFile struct {
	path  string
	lines []usersLine
	index map[string]int // user name -> index in lines
}

type usersLine struct {
	raw    string // comment or blank line, written back as is
	user   User
	isUser bool
}

// ParseUsers parses a users file read from r; path is used in errors only.
// Errors are *ParseError naming the file and line.
func ParseUsers(r io.Reader, path string) (*UsersFile, error) {
	lines, err := readLines(r, path, maxUsersLine)
	if err != nil {
		return nil, err
	}
	f := &UsersFile{path: path, index: make(map[string]int)}
	firstLine := make(map[string]int)
	for i, raw := range lines {
		line := trimLine(raw)
		if isIgnored(line) {
			f.lines = append(f.lines, usersLine{raw: raw})
			continue
		}
		u, msg := parseUserLine(line)
		if msg == "" {
			if first, dup := firstLine[u.Name]; dup {
				msg = fmt.Sprintf("duplicate user %q (first on line %d)", u.Name, first)
			}
		}
		if msg != "" {
			return nil, &ParseError{File: path, Line: i + 1, Msg: msg}
		}
		firstLine[u.Name] = i + 1
		f.index[u.Name] = len(f.lines)
		f.lines = append(f.lines, usersLine{user: u, isUser: true})
	}
	return f, nil
}

// parseUserLine parses a trimmed, non-comment line; msg says what is wrong.
func parseUserLine(line string) (u User, msg string) {
	fields := strings.Split(line, ":")
	switch {
	case len(fields) == 1:
		return u, "missing ':' between user name and password hash"
	case len(fields) > 3:
		return u, "too many ':'-separated fields (want name:hash or name:hash:osaccount)"
	}
	u.Name, u.Hash, u.OSAccount = fields[0], fields[1], fields[0]
	if len(fields) == 3 {
		u.OSAccount = fields[2]
	}
	if msg := checkUser(u); msg != "" {
		return User{}, msg
	}
	return u, ""
}

// checkUser validates a whole User; msg says what is wrong.
func checkUser(u User) string {
	if err := ValidateUsername(u.Name); err != nil {
		return fmt.Sprintf("%v: %q", err, u.Name)
	}
	if _, msg := checkHash(u.Hash); msg != "" {
		return fmt.Sprintf("user %q: %s", u.Name, msg)
	}
	if err := validateName("OS account name", u.OSAccount); err != nil {
		return fmt.Sprintf("user %q: %v: %q", u.Name, err, u.OSAccount)
	}
	return ""
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

const onlyBcrypt = "only bcrypt hashes are accepted; create the line with htpasswd -B"

// checkHash accepts a well-formed bcrypt hash ("$2a$", "$2b$" or "$2y$",
// cost 4..MaxCost) and returns its cost. It never puts hash text in msg:
// a "hash" may be a plain-text password.
func checkHash(hash string) (cost int, msg string) {
	switch {
	case hash == "":
		return 0, "password hash is empty"
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
	case len(hash) >= 4 && strings.HasPrefix(hash, "$2") && hash[3] == '$' && hash[2] >= 'a' && hash[2] <= 'z':
		return 0, fmt.Sprintf("bcrypt variant %s is not accepted: %s", hash[:4], onlyBcrypt)
	default:
		return 0, fmt.Sprintf("%s hash: %s", describeHash(hash), onlyBcrypt)
	}
	// $2y$10$ + 22 characters of salt + 31 of hash.
	if len(hash) != 60 {
		return 0, fmt.Sprintf("malformed bcrypt hash: %d characters, want 60", len(hash))
	}
	if !isDigit(hash[4]) || !isDigit(hash[5]) || hash[6] != '$' {
		return 0, "malformed bcrypt hash: bad cost field"
	}
	cost = int(hash[4]-'0')*10 + int(hash[5]-'0')
	if cost < bcrypt.MinCost || cost > MaxCost {
		return 0, fmt.Sprintf("bcrypt cost %d is out of range %d..%d (the range of htpasswd -B -C)", cost, bcrypt.MinCost, MaxCost)
	}
	for i := 7; i < len(hash); i++ {
		if strings.IndexByte(bcryptAlphabet, hash[i]) < 0 {
			return 0, "malformed bcrypt hash: invalid character"
		}
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return 0, fmt.Sprintf("malformed bcrypt hash: %v", err)
	}
	return cost, ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// describeHash names the kind of a non-bcrypt hash for the error message.
func describeHash(hash string) string {
	for _, k := range []struct{ prefix, name string }{
		{"$apr1$", "MD5 ($apr1$)"},
		{"{SHA}", "SHA-1 ({SHA})"},
		{"$1$", "MD5-crypt ($1$)"},
		{"$5$", "SHA-256-crypt ($5$)"},
		{"$6$", "SHA-512-crypt ($6$)"},
		{"$y$", "yescrypt ($y$)"},
		{"$argon2", "Argon2"},
	} {
		if strings.HasPrefix(hash, k.prefix) {
			return k.name
		}
	}
	if len(hash) == 13 && strings.Trim(hash, bcryptAlphabet) == "" {
		return "DES crypt"
	}
	return "unrecognised (plain-text?)"
}

// Path is the path given to ParseUsers.
func (f *UsersFile) Path() string { return f.path }

// Len is the number of users.
func (f *UsersFile) Len() int { return len(f.index) }

// Lookup finds a user by exact (case-sensitive) name.
func (f *UsersFile) Lookup(name string) (User, bool) {
	i, ok := f.index[name]
	if !ok {
		return User{}, false
	}
	return f.lines[i].user, true
}

// Users lists the users in file order.
func (f *UsersFile) Users() []User {
	users := make([]User, 0, len(f.index))
	for _, l := range f.lines {
		if l.isUser {
			users = append(users, l.user)
		}
	}
	return users
}

// Costs counts the users at each bcrypt cost. An unknown user is checked
// against a hash of one of these costs, picked in these proportions, so
// that the time a logon takes does not tell whether the name exists.
func (f *UsersFile) Costs() map[int]int {
	counts := make(map[int]int)
	for _, l := range f.lines {
		if l.isUser {
			c, _ := checkHash(l.user.Hash)
			counts[c]++
		}
	}
	return counts
}

// Set adds u, or replaces the user of the same name where it stands. An
// empty OSAccount means the account of the same name.
func (f *UsersFile) Set(u User) error {
	if u.OSAccount == "" {
		u.OSAccount = u.Name
	}
	if msg := checkUser(u); msg != "" {
		return fmt.Errorf("%s", msg)
	}
	if i, ok := f.index[u.Name]; ok {
		f.lines[i].user = u
		return nil
	}
	if f.index == nil {
		f.index = make(map[string]int)
	}
	f.index[u.Name] = len(f.lines)
	f.lines = append(f.lines, usersLine{user: u, isUser: true})
	return nil
}

// Delete removes the named user and reports whether it was there.
func (f *UsersFile) Delete(name string) bool {
	i, ok := f.index[name]
	if !ok {
		return false
	}
	f.lines = append(f.lines[:i], f.lines[i+1:]...)
	delete(f.index, name)
	for n, j := range f.index {
		if j > i {
			f.index[n] = j - 1
		}
	}
	return true
}

// Write writes the file back out: comments and blank lines as they were,
// one "name:hash" line per user, with ":osaccount" when it differs from
// the name.
func (f *UsersFile) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, l := range f.lines {
		if !l.isUser {
			bw.WriteString(l.raw)
		} else {
			bw.WriteString(l.user.Name)
			bw.WriteByte(':')
			bw.WriteString(l.user.Hash)
			if l.user.OSAccount != l.user.Name {
				bw.WriteByte(':')
				bw.WriteString(l.user.OSAccount)
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
