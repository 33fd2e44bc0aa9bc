// Command devusers writes the users and groups files of the development
// configuration (configs/dev/): one Telnet user, "dev", with a random
// password, mapped to the account running it (a daemon that is not root
// can start shells only as its own account), and a self-signed TLS
// certificate for localhost (cert.pem, key.pem) for telnets and START_TLS.
// It keeps existing files, so the password and certificate stay the same
// between runs, and prints how to log on.
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/certgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: devusers DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "devusers:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	pwFile := filepath.Join(dir, "password")
	users := filepath.Join(dir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil || !exists(users) {
		me, err := user.Current()
		if err != nil {
			return err
		}
		pw = []byte(rand.Text()[:16])
		hash, err := auth.HashPassword(string(pw))
		if err != nil {
			return err
		}
		if err := os.WriteFile(users, []byte(fmt.Sprintf("dev:%s:%s\n", hash, me.Username)), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "groups"), []byte("telnet-clients: dev\nadministrators:\n"), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(pwFile, pw, 0o600); err != nil {
			return err
		}
	}
	if !exists(filepath.Join(dir, "cert.pem")) || !exists(filepath.Join(dir, "key.pem")) {
		// A year: long enough for a development checkout, short enough
		// that nobody mistakes it for a real one.
		cert, err := certgen.Server(nil, "localhost", []string{"localhost", "127.0.0.1", "::1"}, certgen.For(365*24*time.Hour))
		if err != nil {
			return err
		}
		if err := writeNew(filepath.Join(dir, "key.pem"), cert.KeyPEM); err != nil {
			return err
		}
		if err := writeNew(filepath.Join(dir, "cert.pem"), cert.CertPEM); err != nil {
			return err
		}
	}
	fmt.Printf("Development server: telnet 127.0.0.1 2323, log on as dev, password %s\n", strings.TrimSpace(string(pw)))
	fmt.Printf("Encrypted: telnets on 127.0.0.1:2992 or START_TLS on 2323, self-signed certificate %s (docs/tls.md)\n",
		filepath.Join(dir, "cert.pem"))
	return nil
}

// writeNew writes a file of the owner's only.
func writeNew(path string, data []byte) error {
	return os.WriteFile(path, data, 0o600)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
