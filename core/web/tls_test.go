package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s, _ := testServer(t, Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	page := testPage(t, "TLS")
	url, _, err := s.Publish(page, "c")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
		DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	u := "https" + local(s, url)[len("http"):]
	r := do(t, c, "GET", u, "Accept-Encoding: zstd")
	if r.code != http.StatusOK || !bytes.Equal(decode(t, r.hdr.Get("Content-Encoding"), r.body), page.Body) {
		t.Fatalf("https fetch: status %d, %d bytes", r.code, len(r.body))
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
	}
	// Plain HTTP to the TLS listener gets nothing useful.
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(local(s, url)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain http served a page on the TLS listener")
		}
	}
}

// TestAdminTLS: with AdminTLSConfig the admin listener (and the API on it) speaks HTTPS only; the
// page listener stays as configured.
func TestAdminTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("api")) })
	s, _ := testServer(t, Options{AdminListen: "127.0.0.1:0", API: api,
		AdminTLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	if r := do(t, c, "GET", "https://"+s.AdminAddr()+"/v1/x"); r.code != http.StatusOK || string(r.body) != "api" {
		t.Fatalf("https admin: %d %q", r.code, r.body)
	}
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + s.AdminAddr() + "/v1/x"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain http reached the API on the TLS admin listener")
		}
	}
	if r := do(t, client(t), "GET", "http://"+s.Addr()+"/healthz"); r.code != http.StatusOK {
		t.Errorf("page listener: %d", r.code)
	}
	if _, err := New(Options{BaseURL: testBase, AdminTLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}); err == nil {
		t.Error("admin TLS without an admin listener accepted")
	}
}
