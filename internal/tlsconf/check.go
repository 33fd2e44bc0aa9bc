package tlsconf

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// expiryWarning is how far ahead check-config warns of a certificate's end.
const expiryWarning = 30 * 24 * time.Hour

// Check reads the files named by s as the daemon would and judges the
// server certificate: an error for what would fail or refuse every client
// (unreadable files, a key that does not match, a certificate expired or
// not yet valid, key usage that forbids a TLS server), and a private key
// every local user can read; warnings for what
// works but needs the administrator soon.
func Check(s Settings, now time.Time) (warnings []string, err error) {
	_, leaf, err := LoadPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	if s.ClientCAFile != "" {
		if _, err := LoadClientCA(s.ClientCAFile); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(s.KeyFile); err == nil && fi.Mode().Perm()&0o004 != 0 {
		return nil, fmt.Errorf("tls.key_file %s: the private key is readable by every local user; chmod o-r %s (0600, or 0640 with a group such as ssl-cert)", s.KeyFile, s.KeyFile)
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("tls.cert_file %s: the certificate expired on %s", s.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("tls.cert_file %s: the certificate is not valid before %s", s.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment) == 0 {
		return nil, fmt.Errorf("tls.cert_file %s: the certificate's key usage allows neither digitalSignature nor keyEncipherment, so no TLS client accepts it", s.CertFile)
	}
	if len(leaf.ExtKeyUsage) > 0 && !hasUsage(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return nil, fmt.Errorf("tls.cert_file %s: the certificate's extended key usage does not include serverAuth (TLS Web Server Authentication)", s.CertFile)
	}
	if left := leaf.NotAfter.Sub(now); left < expiryWarning {
		warnings = append(warnings, fmt.Sprintf("tls.cert_file %s: the certificate expires in %d days (%s)",
			s.CertFile, int(left.Hours()/24), leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	return warnings, nil
}

func hasUsage(us []x509.ExtKeyUsage, want x509.ExtKeyUsage) bool {
	for _, u := range us {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}
