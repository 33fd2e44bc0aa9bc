package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Account is an OS account from the system's account database.
type Account struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups, primary included
	Home   string
	Shell  string // login shell; "" when the database names none
}

// LookupAccount reads an account from the system's account database (NSS,
// so LDAP and sssd accounts work like local ones).
func LookupAccount(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, fmt.Errorf("look up OS account %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return Account{}, fmt.Errorf("OS account %q: bad uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return Account{}, fmt.Errorf("OS account %q: bad gid %q", name, u.Gid)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return Account{}, fmt.Errorf("OS account %q: supplementary groups: %w", name, err)
	}
	groups := []uint32{uint32(gid)}
	for _, s := range ids {
		g, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return Account{}, fmt.Errorf("OS account %q: bad group id %q", name, s)
		}
		if uint32(g) != uint32(gid) {
			groups = append(groups, uint32(g))
		}
	}
	shell, err := loginShell(name)
	if err != nil {
		return Account{}, err
	}
	return Account{
		Name: u.Username, UID: uint32(uid), GID: uint32(gid), Groups: groups,
		Home: u.HomeDir, Shell: shell,
	}, nil
}

// loginShell returns the account's shell field. os/user does not expose it.
func loginShell(name string) (string, error) {
	f, err := accountEntry("/etc/passwd", "passwd", name)
	if err != nil {
		return "", fmt.Errorf("look up login shell of %q: %w", name, err)
	}
	if len(f) != 7 {
		return "", fmt.Errorf("look up login shell of %q: a passwd entry of %d fields", name, len(f))
	}
	return f[6], nil
}

// accountEntry returns the fields of name's line in file (/etc/passwd,
// /etc/shadow), or, for accounts only NSS knows (LDAP, sssd), of what
// getent(1) says for it in database db. The name was validated by the
// caller and is passed as an argument, never through a shell.
func accountEntry(file, db, name string) ([]string, error) {
	if f, err := os.Open(file); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, name+":") {
				return strings.Split(line, ":"), nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getent", db, "--", name).Output()
	if err != nil {
		return nil, fmt.Errorf("getent %s: %w", db, err)
	}
	f := strings.Split(string(bytes.TrimSpace(out)), ":")
	if f[0] != name {
		return nil, fmt.Errorf("no %s entry", db)
	}
	return f, nil
}

// ErrAccountDisabled is CheckAccount's error: the host has closed the
// account to interactive logons.
var ErrAccountDisabled = errors.New("the OS account is disabled")

// ErrRootNotAllowed is CheckAccount's error for an account of uid 0 while
// the config does not allow root (allow_root).
var ErrRootNotAllowed = errors.New("the OS account is root and allow_root is false")

// AccountPolicy is what the config says of the accounts a logon may run as.
type AccountPolicy struct {
	AllowRoot    bool // an account of uid 0 may log on (allow_root)
	RefuseLocked bool // refuse an account whose password is locked (refuse_locked_accounts)
}

// CheckAccount refuses an account the host has closed to logons, as
// login(1) and sshd do: one whose own login shell is nologin or false
// (whatever shell the config runs instead), or whose expiry date in the
// shadow file has passed; with p.RefuseLocked, one whose password is
// locked (usermod -L); without p.AllowRoot, one of uid 0. The shadow file
// is only readable by root; a daemon without root cannot check expiry or
// locks (and can start sessions only as its own account anyway).
func CheckAccount(a Account, p AccountPolicy) error {
	if a.UID == 0 && !p.AllowRoot {
		return fmt.Errorf("%w: a users-file line maps this user to OS account %q (uid 0); set allow_root: true in the config to allow it",
			ErrRootNotAllowed, a.Name)
	}
	switch filepath.Base(a.Shell) {
	case "nologin", "false":
		return fmt.Errorf("%w: OS account %q has the login shell %s", ErrAccountDisabled, a.Name, a.Shell)
	}
	f, ok := shadowEntry(a.Name)
	if !ok {
		return nil
	}
	if day, ok := shadowFieldExpiry(f); ok && time.Now().Unix() >= day*86400 {
		return fmt.Errorf("%w: OS account %q expired on %s", ErrAccountDisabled, a.Name,
			time.Unix(day*86400, 0).UTC().Format(time.DateOnly))
	}
	if p.RefuseLocked && shadowFieldLocked(f) {
		return fmt.Errorf("%w: the password of OS account %q is locked (usermod -L); unlock it with usermod -U, or set refuse_locked_accounts: false",
			ErrAccountDisabled, a.Name)
	}
	return nil
}

// shadowEntry returns the account's fields in the shadow database; ok is
// false when it cannot be read (only root can).
func shadowEntry(name string) (f []string, ok bool) {
	if os.Geteuid() != 0 {
		return nil, false
	}
	f, err := accountEntry("/etc/shadow", "shadow", name)
	return f, err == nil
}

// shadowFieldLocked reports whether a shadow(5) entry's password is
// locked: "!" before a hash, as usermod -L and passwd -l write it. "!",
// "!!" or "*" alone (with "!" before it or not) is an account that never
// had a Unix password, as useradd without -p leaves it: usermod -L does
// not change it (and usermod -U refuses to), and an account used only
// through tlntsvr, whose password is the users file's, is usually so.
func shadowFieldLocked(f []string) bool {
	if len(f) < 2 || !strings.HasPrefix(f[1], "!") {
		return false
	}
	rest := strings.TrimLeft(f[1], "!")
	return rest != "" && rest[0] != '*'
}

// shadowFieldExpiry reads the expiry field of a shadow(5) entry: ok says it
// has an expiry date.
func shadowFieldExpiry(f []string) (day int64, ok bool) {
	if len(f) < 8 {
		return 0, false
	}
	day, err := strconv.ParseInt(f[7], 10, 64)
	// 0 is "never" to shadow-utils too.
	return day, err == nil && day > 0
}

// loginUmask is the umask login(1) gives the account: UMASK in
// /etc/login.defs (022 without one); with USERGROUPS_ENAB yes, an account
// in a group of its own (same name, gid = uid) gets its owner bits for the
// group too (022 becomes 002), as pam_umask's usergroups does (not root).
func loginUmask(a Account) int {
	umask, usergroups := 0o022, false
	if b, err := os.ReadFile("/etc/login.defs"); err == nil {
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "UMASK":
				if v, err := strconv.ParseUint(f[1], 8, 32); err == nil && v <= 0o777 {
					umask = int(v)
				}
			case "USERGROUPS_ENAB":
				usergroups = strings.EqualFold(f[1], "yes")
			}
		}
	}
	if usergroups && a.UID != 0 && a.UID == a.GID {
		if g, err := user.LookupGroupId(strconv.Itoa(int(a.GID))); err == nil && g.Name == a.Name {
			umask = umask&^0o070 | (umask&0o700)>>3
		}
	}
	return umask
}
