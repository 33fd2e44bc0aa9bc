// Package tlsconf is tlntsvr's TLS: the server certificate and the client
// CA, read from PEM files and re-read when the files change; the
// tls.Config every handshake uses; the checks check-config runs on a
// certificate; and the verification of a client certificate for a
// certificate logon.
//
// A handshake always uses the newest good copy of the files. A changed
// file that does not load (a certificate renewed before its key, a
// truncated write) keeps the last good copy in force and is logged with
// the file and the reason; it is tried again when a file changes again.
// Standard library crypto/tls only, as design.md says.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Settings are the tls section of the configuration.
type Settings struct {
	CertFile, KeyFile string
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13.
	MinVersion uint16
	// ClientCAFile, when set, holds the CA certificates (and optionally
	// their CRLs) that sign client certificates for certificate logon.
	ClientCAFile string
}

// Enabled reports whether a certificate is configured.
func (s Settings) Enabled() bool { return s.CertFile != "" && s.KeyFile != "" }

// maxPEMFile caps each file read: a real certificate chain or CA bundle is
// a few KiB; a wrong path (a log file, /dev/zero) must not be read whole.
const maxPEMFile = 1 << 20

// checkInterval is how often a handshake looks at the files' metadata.
const checkInterval = time.Second

// Store holds the certificate in force. Safe for concurrent use.
type Store struct {
	settings Settings
	log      *slog.Logger
	now      func() time.Time

	cur atomic.Pointer[loaded] // what handshakes use, replaced whole

	mu        sync.Mutex // serialises loading; guards the fields below
	tried     stamps     // the versions of the files last tried, good or bad
	lastCheck time.Time
}

// loaded is one good reading of the files. Immutable once published.
type loaded struct {
	cert     *tls.Certificate
	leaf     *x509.Certificate
	clientCA *ClientCA // nil without client_ca_file
	config   *tls.Config
}

// stamps identify one version of each file without reading it.
type stamps struct{ cert, key, ca fileStamp }

type fileStamp struct {
	size, mtime int64
	ino         uint64
	err         string
}

func stampOf(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: err.Error()}
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), ino: inode(fi)}
}

// New reads the files named by s. The error names the file and what is
// wrong with it.
func New(s Settings, log *slog.Logger) (*Store, error) {
	if !s.Enabled() {
		return nil, errors.New("tls: no certificate configured (tls.cert_file and tls.key_file)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Store{settings: s, log: log, now: time.Now}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.loadLocked(); err != nil {
		return nil, err
	}
	return st, nil
}

// Settings returns the settings the store was made with.
func (st *Store) Settings() Settings { return st.settings }

// Reload re-reads the files whether or not they look changed. On error
// the certificate in force stays and the error says why.
func (st *Store) Reload() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.loadLocked()
}

// loadLocked reads every file and, when all of them are good, puts them
// in force.
func (st *Store) loadLocked() error {
	st.tried = stamps{stampOf(st.settings.CertFile), stampOf(st.settings.KeyFile), stampOf(st.settings.ClientCAFile)}
	st.lastCheck = st.now()
	l, err := st.read()
	if err != nil {
		return err
	}
	st.cur.Store(l)
	return nil
}

func (st *Store) read() (*loaded, error) {
	cert, leaf, err := LoadPair(st.settings.CertFile, st.settings.KeyFile)
	if err != nil {
		return nil, err
	}
	l := &loaded{cert: cert, leaf: leaf}
	if st.settings.ClientCAFile != "" {
		if l.clientCA, err = LoadClientCA(st.settings.ClientCAFile); err != nil {
			return nil, err
		}
	}
	l.config = st.serverConfig(l)
	return l, nil
}

// serverConfig is the configuration of every handshake with l in force.
func (st *Store) serverConfig(l *loaded) *tls.Config {
	c := &tls.Config{
		Certificates: []tls.Certificate{*l.cert},
		MinVersion:   st.settings.MinVersion,
		// Go's server never renegotiates; nothing else to turn off.
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if l.clientCA != nil {
		// The certificate is asked for but verified after the handshake
		// (Identity), so that a client with an expired or revoked one is
		// told why in words over the encrypted connection instead of
		// getting a TLS alert its user never sees.
		c.ClientAuth = tls.RequestClientCert
	}
	return c
}

// maybeRefresh re-reads the files when one of them changed, at most once
// per checkInterval. A bad change is logged and the last good copy stays.
func (st *Store) maybeRefresh() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.now().Sub(st.lastCheck) < checkInterval {
		return
	}
	st.lastCheck = st.now()
	now := stamps{stampOf(st.settings.CertFile), stampOf(st.settings.KeyFile), stampOf(st.settings.ClientCAFile)}
	if now == st.tried {
		return
	}
	if err := st.loadLocked(); err != nil {
		st.log.Error("TLS certificate files changed but cannot be used; keeping the certificate in force", "err", err)
		return
	}
	st.log.Info("TLS certificate files changed; new certificate in force",
		"cert_file", st.settings.CertFile, "subject", st.cur.Load().leaf.Subject.String(),
		"not_after", st.cur.Load().leaf.NotAfter.UTC().Format(time.RFC3339))
}

// Config returns the tls.Config for a server handshake. It picks up
// changed files for each new handshake.
func (st *Store) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, // overridden by the per-handshake config
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			st.maybeRefresh()
			return st.cur.Load().config, nil
		},
	}
}

// Leaf returns the server certificate in force.
func (st *Store) Leaf() *x509.Certificate { return st.cur.Load().leaf }

// ClientCA returns the client CA in force, nil when there is none.
func (st *Store) ClientCA() *ClientCA { return st.cur.Load().clientCA }

// readPEMFile reads a PEM file with a size cap.
func readPEMFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s %s: larger than %d bytes; is it the right file?", what, path, maxPEMFile)
	}
	return data, nil
}

// unwrapPath drops the *PathError's own copy of the path, which the
// caller's message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadPair reads a PEM certificate (chain) and its private key and checks
// that they belong together. The error names the file and the reason.
func LoadPair(certFile, keyFile string) (*tls.Certificate, *x509.Certificate, error) {
	certPEM, err := readPEMFile(certFile, "tls.cert_file")
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := readPEMFile(keyFile, "tls.key_file")
	if err != nil {
		return nil, nil, err
	}
	if !hasBlock(certPEM, "CERTIFICATE") {
		return nil, nil, fmt.Errorf("tls.cert_file %s: no PEM CERTIFICATE block in it", certFile)
	}
	if !hasKeyBlock(keyPEM) {
		return nil, nil, fmt.Errorf("tls.key_file %s: no PEM PRIVATE KEY block in it (an encrypted key is not supported: decrypt it with openssl pkey)", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.cert_file %s and tls.key_file %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("tls.cert_file %s: %w", certFile, err)
		}
	}
	return &cert, leaf, nil
}

func hasBlock(data []byte, typ string) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == typ {
			return true
		}
	}
}

func hasKeyBlock(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		switch b.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return true
		}
	}
}
