package session

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
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
