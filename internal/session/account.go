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

// loginShell returns the account's shell field. os/user does not expose it,
// so read /etc/passwd, and ask getent(1) for accounts only NSS knows. The
// name was validated by the caller and is passed as an argument, never
// through a shell.
func loginShell(name string) (string, error) {
	if f, err := os.Open("/etc/passwd"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if shell, ok := passwdShell(sc.Text(), name); ok {
				return shell, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getent", "passwd", "--", name).Output()
	if err != nil {
		return "", fmt.Errorf("look up login shell of %q: getent: %w", name, err)
	}
	if shell, ok := passwdShell(string(bytes.TrimSpace(out)), name); ok {
		return shell, nil
	}
	return "", fmt.Errorf("look up login shell of %q: no passwd entry", name)
}

func passwdShell(line, name string) (string, bool) {
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] != name {
		return "", false
	}
	return f[6], true
}

// ErrAccountDisabled is CheckAccount's error: the host has closed the
// account to interactive logons.
var ErrAccountDisabled = errors.New("the OS account is disabled")

// CheckAccount refuses an account the host has closed to logons, as
// login(1) and sshd do: one whose own login shell is nologin or false
// (whatever shell the config runs instead), or whose expiry date in the
// shadow file has passed. The shadow file is only readable by root; a
// daemon without root cannot check expiry.
func CheckAccount(a Account) error {
	switch filepath.Base(a.Shell) {
	case "nologin", "false":
		return fmt.Errorf("%w: OS account %q has the login shell %s", ErrAccountDisabled, a.Name, a.Shell)
	}
	if day, ok := shadowExpiry(a.Name); ok && time.Now().Unix() >= day*86400 {
		return fmt.Errorf("%w: OS account %q expired on %s", ErrAccountDisabled, a.Name,
			time.Unix(day*86400, 0).UTC().Format(time.DateOnly))
	}
	return nil
}

// shadowExpiry returns the account's expiry date (days since 1970) from
// /etc/shadow, or from getent for accounts only NSS knows; ok is false when
// the account has none or it cannot be read.
func shadowExpiry(name string) (day int64, ok bool) {
	if f, err := os.Open("/etc/shadow"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if day, found, ok := parseShadowExpiry(sc.Text(), name); found {
				return day, ok
			}
		}
	}
	if os.Geteuid() != 0 {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getent", "shadow", "--", name).Output()
	if err != nil {
		return 0, false
	}
	day, _, ok = parseShadowExpiry(string(bytes.TrimSpace(out)), name)
	return day, ok
}

// parseShadowExpiry reads the expiry field of a shadow(5) line: found says
// the line is the account's, ok that it has an expiry date.
func parseShadowExpiry(line, name string) (day int64, found, ok bool) {
	f := strings.Split(line, ":")
	if len(f) < 8 || f[0] != name {
		return 0, false, false
	}
	day, err := strconv.ParseInt(f[7], 10, 64)
	// 0 is "never" to shadow-utils too.
	return day, true, err == nil && day > 0
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
