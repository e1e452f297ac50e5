package redisstore

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
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testPKI is a throw-away CA (ECDSA P-256, valid for an hour around now) that issues certificates.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	cert, key, _ := signCert(t, tmpl, nil, nil)
	return &testPKI{cert: cert, key: key}
}

// pool is a certificate pool holding only the CA.
func (p *testPKI) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// issue signs a certificate for use (server or client authentication), for 127.0.0.1.
func (p *testPKI) issue(t *testing.T, cn string, use x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{use}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	_, _, pair := signCert(t, tmpl, p.cert, p.key)
	return pair
}

// signCert fills in tmpl's serial and validity, makes it a key and signs it with parent's key (nil:
// self-signed).
func signCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = serial, time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

// writePEM writes a certificate's chain and key as PEM files in dir (name.pem, name.key) for
// redis-server, and returns their paths.
func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLS: the store against a real redis-server speaking only TLS (--port 0 --tls-port, Redis 6+,
// https://redis.io/docs/latest/operate/oss_and_stack/management/security/encryption/), its
// certificate issued for 127.0.0.1 by a CA of the test's own.
//   - With the CA verified, the store works over TLS: a write through one node reaches the other.
//   - With --tls-auth-clients yes, a store presenting a client certificate from that CA works, and
//     one presenting none is refused with a clear certificate error.
//   - A store trusting another CA refuses the server's certificate (x509: unknown authority) rather
//     than connecting.
//
// Each refusal leaves the store not Available within a short wait, and nothing hangs.
func TestTLS(t *testing.T) {
	bin := redisServerPath(t)
	dir := t.TempDir()
	ca, other := newTestPKI(t, "herald test redis CA"), newTestPKI(t, "some other CA")
	server := ca.issue(t, "redis.test", x509.ExtKeyUsageServerAuth)
	client := ca.issue(t, "herald.test", x509.ExtKeyUsageClientAuth)
	certFile, keyFile := writePEM(t, dir, "server", server)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// start runs a TLS-only redis-server; clientAuth is its --tls-auth-clients (yes: a client
	// certificate from the CA is required).
	start := func(name, clientAuth string) string {
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		ping := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.pool(), Certificates: []tls.Certificate{client}}
		sdir := filepath.Join(dir, name)
		if err := os.Mkdir(sdir, 0o700); err != nil {
			t.Fatal(err)
		}
		runRedis(t, bin, sdir, name, &redis.Options{Addr: addr, TLSConfig: ping},
			"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", sdir,
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", clientAuth)
		return addr
	}
	oneWay, mutual := start("redis-tls", "no"), start("redis-mtls", "yes")
	// opts is a store on addr trusting roots and presenting certs.
	opts := func(addr string, roots *x509.CertPool, certs ...tls.Certificate) Options {
		return Options{Addrs: []string{addr}, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: certs}, Timeout: time.Second}
	}

	t.Run("CA verified", func(t *testing.T) {
		acrossNodes(t, opts(oneWay, ca.pool()), "tia", "+15558")
	})
	t.Run("client certificate required and given", func(t *testing.T) {
		acrossNodes(t, opts(mutual, ca.pool(), client), "uma", "+15559")
	})
	t.Run("client certificate required and missing", func(t *testing.T) {
		// TLS 1.3: the server refuses after the client's handshake, with a certificate_required
		// alert (RFC 8446 §4.4.2.4), which the first read reports, unless the client's first write
		// already met the closed connection (a reset): which comes first is the scheduler's choice.
		refused(t, opts(mutual, ca.pool()), "certificate required", "connection reset by peer", "broken pipe")
	})
	t.Run("server certificate from another CA", func(t *testing.T) {
		refused(t, opts(oneWay, other.pool()), "x509: certificate signed by unknown authority")
	})
}
