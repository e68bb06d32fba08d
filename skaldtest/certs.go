package skaldtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs are a throw-away certificate authority and the certificates it
// signed for one test, as PEM files in a temporary directory: a server
// certificate valid for 127.0.0.1, ::1 and localhost, and a client
// certificate for servers that require mutual TLS.
type Certs struct {
	CAFile string // the authority, for clients to trust
	// ServerCert and ServerKey are the server's certificate and key.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a client certificate and its key.
	ClientCert, ClientKey string
	// ClientPEM holds the client certificate followed by its key, the one
	// file MongoDB's tlsCertificateKeyFile wants.
	ClientPEM string

	pool *x509.CertPool
}

// NewCerts generates Certs for t; the files go away with the test.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "skalds test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	c := &Certs{pool: x509.NewCertPool()}
	c.pool.AddCert(ca)
	c.CAFile = writePEM(t, dir, "ca.pem", pemBlock("CERTIFICATE", caDER))

	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", kder)
	}
	cert, key := leaf("skalds test server", 2, x509.ExtKeyUsageServerAuth)
	c.ServerCert = writePEM(t, dir, "server.pem", cert)
	c.ServerKey = writePEM(t, dir, "server-key.pem", key)
	cert, key = leaf("skalds test client", 3, x509.ExtKeyUsageClientAuth)
	c.ClientCert = writePEM(t, dir, "client.pem", cert)
	c.ClientKey = writePEM(t, dir, "client-key.pem", key)
	c.ClientPEM = writePEM(t, dir, "client-both.pem", append(cert, key...))
	return c
}

// ServerTLS is a server configuration with the server certificate, for
// in-process servers (kfake, a test listener). With clientAuth, clients
// must present a certificate that the authority signed.
func (c *Certs) ServerTLS(t testing.TB, clientAuth bool) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(c.ServerCert, c.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, c.pool
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writePEM(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
