package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/certgen"
)

// must(t)(certgen.X(...)) fails the test on error.
func must(t *testing.T) func(*certgen.Pair, error) *certgen.Pair {
	return func(p *certgen.Pair, err error) *certgen.Pair {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// handshake runs a TLS handshake against st's config and returns the
// server certificate the client saw and the server's connection state.
func handshake(t *testing.T, st *Store, client *tls.Config) (*x509.Certificate, tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, st.Config())
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	cl := tls.Client(b, client)
	cerr := cl.Handshake()
	serr := <-errc
	if cerr != nil {
		return nil, tls.ConnectionState{}, cerr
	}
	if serr != nil {
		return nil, tls.ConnectionState{}, serr
	}
	return cl.ConnectionState().PeerCertificates[0], srv.ConnectionState(), nil
}

func TestLoadPairErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	a := must(t)(certgen.Server(nil, "a", []string{"localhost"}, certgen.For(time.Hour)))
	b := must(t)(certgen.Server(nil, "b", []string{"localhost"}, certgen.For(time.Hour)))
	ca, ka, _ := a.Write(dir, "a")
	_, kb, _ := b.Write(dir, "b")
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not pem\n"), 0o600)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "nope.pem"), ka, "tls.cert_file " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"missing key", ca, filepath.Join(dir, "nope.key"), "tls.key_file"},
		{"not pem", garbage, ka, "no PEM CERTIFICATE block"},
		{"key not pem", ca, garbage, "no PEM PRIVATE KEY block"},
		{"mismatch", ca, kb, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadPair(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, _, err := LoadPair(ca, ka); err != nil {
		t.Fatal(err)
	}
}

func TestRotationByRenameAndBadPairKeepsOld(t *testing.T) {
	dir := t.TempDir()
	first := must(t)(certgen.Server(nil, "first", []string{"localhost"}, certgen.For(time.Hour)))
	cf, kf, _ := first.Write(dir, "server")
	st, err := New(Settings{CertFile: cf, KeyFile: kf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	st.now = func() time.Time { return clock }
	client := &tls.Config{InsecureSkipVerify: true}
	got, _, err := handshake(t, st, client)
	if err != nil || got.Subject.CommonName != "first" {
		t.Fatalf("first handshake: %v, %v", got, err)
	}

	// A renewed certificate written by rename goes into force at the next
	// handshake after the check interval.
	second := must(t)(certgen.Server(nil, "second", []string{"localhost"}, certgen.For(time.Hour)))
	second.Write(dir, "server")
	clock = clock.Add(2 * checkInterval)
	if got, _, _ = handshake(t, st, client); got.Subject.CommonName != "second" {
		t.Fatalf("after rotation the server presents %q, want second", got.Subject.CommonName)
	}

	// A certificate renewed before its key: the pair does not match; the
	// one in force stays.
	third := must(t)(certgen.Server(nil, "third", []string{"localhost"}, certgen.For(time.Hour)))
	os.WriteFile(cf+".tmp", third.CertPEM, 0o600)
	os.Rename(cf+".tmp", cf)
	clock = clock.Add(2 * checkInterval)
	if got, _, _ = handshake(t, st, client); got.Subject.CommonName != "second" {
		t.Fatalf("with a mismatched pair the server presents %q, want second kept", got.Subject.CommonName)
	}
	if err := st.Reload(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Reload with a mismatched pair: %v", err)
	}
	// Then the key arrives.
	os.WriteFile(kf+".tmp", third.KeyPEM, 0o600)
	os.Rename(kf+".tmp", kf)
	clock = clock.Add(2 * checkInterval)
	if got, _, _ = handshake(t, st, client); got.Subject.CommonName != "third" {
		t.Fatalf("after the key arrived the server presents %q, want third", got.Subject.CommonName)
	}
}

func TestMinVersion(t *testing.T) {
	dir := t.TempDir()
	p := must(t)(certgen.Server(nil, "s", []string{"localhost"}, certgen.For(time.Hour)))
	cf, kf, _ := p.Write(dir, "s")
	for _, tc := range []struct {
		min, clientMax uint16
		ok             bool
	}{
		{0, tls.VersionTLS11, false}, // the default is 1.2
		{0, tls.VersionTLS12, true},
		{tls.VersionTLS13, tls.VersionTLS12, false},
		{tls.VersionTLS13, tls.VersionTLS13, true},
	} {
		st, err := New(Settings{CertFile: cf, KeyFile: kf, MinVersion: tc.min}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, cs, err := handshake(t, st, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tc.clientMax})
		if (err == nil) != tc.ok {
			t.Errorf("min %x, client max %x: err %v, want ok=%v", tc.min, tc.clientMax, err, tc.ok)
		}
		if err == nil && tc.clientMax == tls.VersionTLS13 && cs.Version != tls.VersionTLS13 {
			t.Errorf("1.3 not preferred: got %x", cs.Version)
		}
	}
}

func TestClientIdentity(t *testing.T) {
	dir := t.TempDir()
	ca := must(t)(certgen.NewCA("Test CA", certgen.For(24*time.Hour)))
	other := must(t)(certgen.NewCA("Other CA", certgen.For(24*time.Hour)))
	srv := must(t)(certgen.Server(ca, "server", []string{"localhost"}, certgen.For(time.Hour)))
	cf, kf, _ := srv.Write(dir, "server")
	alice := must(t)(certgen.Client(ca, "alice", certgen.For(time.Hour)))
	revoked := must(t)(certgen.Client(ca, "mallory", certgen.For(time.Hour)))
	expired := must(t)(certgen.Client(ca, "alice", certgen.Validity{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}))
	stranger := must(t)(certgen.Client(other, "alice", certgen.For(time.Hour)))
	noCN := must(t)(certgen.Client(ca, "", certgen.For(time.Hour)))
	serverAsClient := must(t)(certgen.Server(ca, "alice", nil, certgen.For(time.Hour)))
	crl, err := certgen.CRL(ca, revoked)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "clients-ca.pem")
	os.WriteFile(caFile, append(append([]byte{}, ca.CertPEM...), crl...), 0o600)
	st, err := New(Settings{CertFile: cf, KeyFile: kf, ClientCAFile: caFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cert    *certgen.Pair
		user    string
		present bool
		reason  string
	}{
		{"none", nil, "", false, ""},
		{"good", alice, "alice", true, ""},
		{"revoked", revoked, "", true, "revoked"},
		{"expired", expired, "", true, "expired"},
		{"other CA", stranger, "", true, "not signed by a CA this server trusts"},
		{"no CN", noCN, "", true, "no common name"},
		{"server usage", serverAsClient, "", true, "not for client authentication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := &tls.Config{InsecureSkipVerify: true}
			if tc.cert != nil {
				kp, err := tls.X509KeyPair(tc.cert.CertPEM, tc.cert.KeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				cc.Certificates = []tls.Certificate{kp}
			}
			_, cs, err := handshake(t, st, cc)
			if err != nil {
				t.Fatalf("handshake: %v (the certificate is judged after it, never in it)", err)
			}
			user, present, err := st.ClientCA().Identity(cs, time.Now())
			if user != tc.user || present != tc.present {
				t.Errorf("got user %q present %v, want %q %v", user, present, tc.user, tc.present)
			}
			if tc.reason == "" && err != nil || tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)) {
				t.Errorf("got error %v, want one containing %q", err, tc.reason)
			}
		})
	}
}

func TestClientCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	leaf := must(t)(certgen.Server(nil, "leaf", nil, certgen.For(time.Hour)))
	ca := must(t)(certgen.NewCA("CA", certgen.For(time.Hour)))
	other := must(t)(certgen.NewCA("Other", certgen.For(time.Hour)))
	foreignCRL, _ := certgen.CRL(other)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no CA certificate"},
		{"leaf", leaf.CertPEM, "is not a CA certificate"},
		{"key", ca.KeyPEM, `"PRIVATE KEY"`},
		{"foreign CRL", append(append([]byte{}, ca.CertPEM...), foreignCRL...), "not signed by a CA in the file"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, tc.data, 0o600)
		if _, err := LoadClientCA(p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want the file and %q", tc.name, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, p *certgen.Pair) Settings {
		cf, kf, err := p.Write(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return Settings{CertFile: cf, KeyFile: kf}
	}
	now := time.Now()
	good := write("good", must(t)(certgen.Server(nil, "g", []string{"localhost"}, certgen.For(365*24*time.Hour))))
	soon := write("soon", must(t)(certgen.Server(nil, "s", []string{"localhost"}, certgen.For(5*24*time.Hour))))
	old := write("old", must(t)(certgen.Server(nil, "o", nil, certgen.Validity{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})))
	future := write("future", must(t)(certgen.Server(nil, "f", nil, certgen.Validity{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)})))
	ca := must(t)(certgen.NewCA("ca", certgen.For(time.Hour)))
	clientOnly := write("client", must(t)(certgen.Client(ca, "alice", certgen.For(time.Hour))))
	caAsServer := write("ca", ca)

	if w, err := Check(good, now); err != nil || len(w) != 0 {
		t.Errorf("good: %v %v", w, err)
	}
	os.Chmod(good.KeyFile, 0o644)
	if _, err := Check(good, now); err == nil || !strings.Contains(err.Error(), "readable by every local user") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(good.KeyFile, 0o640)
	if _, err := Check(good, now); err != nil {
		t.Errorf("group-readable key: %v", err)
	}
	if w, err := Check(soon, now); err != nil || len(w) != 1 || !strings.Contains(w[0], "expires in 4 days") {
		t.Errorf("soon: %v %v", w, err)
	}
	for name, tc := range map[string]struct {
		s    Settings
		want string
	}{
		"expired":      {old, "expired on"},
		"not yet":      {future, "not valid before"},
		"client usage": {clientOnly, "does not include serverAuth"},
		"CA usage":     {caAsServer, "neither digitalSignature nor keyEncipherment"},
	} {
		if _, err := Check(tc.s, now); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.s.CertFile) {
			t.Errorf("%s: got %v, want the file and %q", name, err, tc.want)
		}
	}
}

func TestLooksLikeClientHelloAndPrefix(t *testing.T) {
	if !LooksLikeClientHello([]byte{0x16, 0x03, 0x01, 0x02}) || LooksLikeClientHello([]byte("ali")) || LooksLikeClientHello([]byte{0x16}) {
		t.Error("LooksLikeClientHello")
	}
	a, b := net.Pipe()
	defer a.Close()
	go func() { b.Write([]byte("rest")); b.Close() }()
	c := WithPrefix(a, []byte("pre"))
	buf := make([]byte, 16)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != "prerest" {
		t.Errorf("got %q", got)
	}
}
