package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// ClientCA is the set of CAs whose client certificates may log on, with
// the revocation lists found beside them in the same file.
type ClientCA struct {
	pool *x509.CertPool
	cas  []*x509.Certificate
	// revoked holds, per issuing CA (by raw subject), the serial numbers
	// its CRLs revoke.
	revoked map[string]map[string]bool
}

// LoadClientCA reads a PEM file of CA certificates and, optionally, X509
// CRL blocks signed by them (an administrator revokes a client
// certificate by appending the CA's current CRL to the file).
func LoadClientCA(path string) (*ClientCA, error) {
	data, err := readPEMFile(path, "tls.client_ca_file")
	if err != nil {
		return nil, err
	}
	ca := &ClientCA{pool: x509.NewCertPool(), revoked: map[string]map[string]bool{}}
	var crls []*x509.RevocationList
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tls.client_ca_file %s: PEM block %d: %w", path, n, err)
			}
			if !c.IsCA {
				return nil, fmt.Errorf("tls.client_ca_file %s: PEM block %d (%s) is not a CA certificate (basicConstraints CA:TRUE)", path, n, c.Subject)
			}
			ca.pool.AddCert(c)
			ca.cas = append(ca.cas, c)
		case "X509 CRL":
			crl, err := x509.ParseRevocationList(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tls.client_ca_file %s: PEM block %d (CRL): %w", path, n, err)
			}
			crls = append(crls, crl)
		default:
			return nil, fmt.Errorf("tls.client_ca_file %s: PEM block %d is a %q; only CERTIFICATE and X509 CRL blocks belong here", path, n, b.Type)
		}
	}
	if len(ca.cas) == 0 {
		return nil, fmt.Errorf("tls.client_ca_file %s: no CA certificate in it", path)
	}
	for i, crl := range crls {
		issuer := ca.issuerOf(crl)
		if issuer == nil {
			return nil, fmt.Errorf("tls.client_ca_file %s: CRL %d (issuer %s) is not signed by a CA in the file", path, i+1, crl.Issuer)
		}
		set := ca.revoked[string(issuer.RawSubject)]
		if set == nil {
			set = map[string]bool{}
			ca.revoked[string(issuer.RawSubject)] = set
		}
		for _, e := range crl.RevokedCertificateEntries {
			set[e.SerialNumber.String()] = true
		}
	}
	return ca, nil
}

func (ca *ClientCA) issuerOf(crl *x509.RevocationList) *x509.Certificate {
	for _, c := range ca.cas {
		if crl.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

// CertError is why a client certificate was refused, in words for the
// person at the terminal.
type CertError struct{ Reason string }

func (e *CertError) Error() string { return e.Reason }

// Identity checks the certificate a client presented in the handshake
// state and returns the user name it carries (its subject common name).
// ok is false when the client presented none: the password dialogue runs
// as usual. An error (a *CertError) means it presented one that may not
// log on: signed by another CA, expired, not yet valid, revoked, not for
// client authentication, or without a common name.
func (ca *ClientCA) Identity(cs tls.ConnectionState, now time.Time) (user string, ok bool, err error) {
	if len(cs.PeerCertificates) == 0 {
		return "", false, nil
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	switch {
	case now.After(leaf.NotAfter):
		return "", true, &CertError{fmt.Sprintf("Your client certificate expired on %s.", leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"))}
	case now.Before(leaf.NotBefore):
		return "", true, &CertError{fmt.Sprintf("Your client certificate is not valid before %s.", leaf.NotBefore.UTC().Format("2006-01-02 15:04 MST"))}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: ca.pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		var ui x509.UnknownAuthorityError
		var inv x509.CertificateInvalidError
		switch {
		case errors.As(err, &ui):
			return "", true, &CertError{"Your client certificate is not signed by a CA this server trusts."}
		case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
			return "", true, &CertError{"Your client certificate is not for client authentication (extended key usage)."}
		default:
			return "", true, &CertError{"Your client certificate is not valid: " + err.Error() + "."}
		}
	}
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			if ca.revoked[string(chain[i+1].RawSubject)][chain[i].SerialNumber.String()] {
				return "", true, &CertError{"Your client certificate has been revoked."}
			}
		}
	}
	if leaf.Subject.CommonName == "" {
		return "", true, &CertError{"Your client certificate has no common name (CN) to log on as."}
	}
	return leaf.Subject.CommonName, true, nil
}
