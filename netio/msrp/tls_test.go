package msrp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// testTLS returns a server config with a fresh self-signed certificate for 127.0.0.1 and a client config
// that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func tlsOptions(t testing.TB) (Options, *tls.Config) {
	srv, cli := testTLS(t)
	o := testOptions()
	o.TLSListen = "127.0.0.1:0"
	o.TLSConfig = srv
	return o, cli
}

// dialTLS connects a test terminal to the msrps listener.
func dialTLS(t testing.TB, s *Server, cfg *tls.Config) *client {
	t.Helper()
	host, port := s.TLSAddr()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp",
		net.JoinHostPort(host, strconv.Itoa(port)), cfg)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	c := &client{t: t, conn: conn, path: "msrps://127.0.0.1:9/" + push.NewID(6) + ";tcp", rd: make([]byte, 64<<10)}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// TestTLSDelivery: a session opened Secure advertises msrps://…;tcp on the TLS port and is pushed over
// TLS by the same frame handling; the connection ends with close_notify.
func TestTLSDelivery(t *testing.T) {
	o, cli := tlsOptions(t)
	s := startServer(t, o)
	page := htmlPage(t, 20000)
	sess := push.NewSession("call-tls", push.CallerCard, page, 10*time.Second)
	sess.Secure = true
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	path := s.PathURI(sess.ID)
	_, tport := s.TLSAddr()
	if want := "msrps://127.0.0.1:" + strconv.Itoa(tport) + "/" + sess.ID + ";tcp"; path != want {
		t.Fatalf("PathURI %q, want %q", path, want)
	}
	c := dialTLS(t, s, cli)
	r, res := fetch(t, c, sess, path)
	if res.Outcome != push.Delivered || string(r.body) != string(page.Body) {
		t.Fatalf("result %+v, body %d bytes", res, len(r.body))
	}
	if len(r.frames) != 10 || r.last.FromPath != path || r.last.ToPath != c.path {
		t.Fatalf("%d chunks, last To %q From %q", len(r.frames), r.last.ToPath, r.last.FromPath)
	}
	c.expectClosed(3 * time.Second)
	waitFor(t, "released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.wheel.len() == 0 && s.streamCount() == 0
	})
	if st := s.Stats(); st.Binds != 1 || st.DeliveriesOK != 1 || st.TLSHandshakeFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTLSTransportMismatch: the a=path scheme is the socket: a Secure session does not bind over plain
// TCP, nor a plain one over TLS (481, counted), and a Secure session needs a TLS listener.
func TestTLSTransportMismatch(t *testing.T) {
	o, cli := tlsOptions(t)
	s := startServer(t, o)
	page := htmlPage(t, 3000)
	secure := push.NewSession("call-s", push.CallerCard, page, 10*time.Second)
	secure.Secure = true
	if err := s.Open(secure); err != nil {
		t.Fatal(err)
	}
	plain := openSession(t, s, push.CallerCard, page, 10*time.Second)
	for _, tc := range []struct {
		name string
		c    *client
		path string
	}{
		{"secure session over tcp", dial(t, s), s.PathURI(secure.ID)},
		{"plain session over tls", dialTLS(t, s, cli), s.PathURI(plain.ID)},
	} {
		before := s.Stats().BindUnknown481
		tc.c.bind(tc.path)
		if f := tc.c.mustNext(2 * time.Second); f.Status != 481 {
			t.Fatalf("%s: answer %+v", tc.name, f)
		}
		if got := s.Stats().BindUnknown481 - before; got != 1 {
			t.Fatalf("%s: BindUnknown481 +%d", tc.name, got)
		}
		_ = tc.c.conn.Close()
	}
	plainOnly := startServer(t, testOptions())
	sess := push.NewSession("call-x", push.CallerCard, page, time.Second)
	sess.Secure = true
	if err := plainOnly.Open(sess); !errors.Is(err, ErrNoTLS) {
		t.Fatalf("Open Secure without msrps: %v", err)
	}
	s.Close(secure.ID)
	s.Close(plain.ID)
	waitFor(t, "released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.wheel.len() == 0 && s.streamCount() == 0
	})
}

// TestTLSHandshakeGarbage: MSRP in clear text (or any garbage) on the msrps port fails the handshake;
// the connection is closed and counted, and nothing stays open.
func TestTLSHandshakeGarbage(t *testing.T) {
	o, _ := tlsOptions(t)
	s := startServer(t, o)
	host, port := s.TLSAddr()
	for i, garbage := range []string{
		"MSRP a786hjs2 SEND\r\nTo-Path: msrps://127.0.0.1/x;tcp\r\n-------a786hjs2$\r\n",
		"\x16\x03\x01\x00\x05hello", // a TLS record header with a bogus handshake
		strings.Repeat("\x00", 4096),
	} {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte(garbage))
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		for {
			_, err := conn.Read(buf) // a TLS alert may come first; then EOF or reset
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("garbage %d: server did not close", i)
				}
				break
			}
		}
		_ = conn.Close()
		want := int64(i + 1)
		waitFor(t, "handshake failure counted", func() bool { return s.Stats().TLSHandshakeFailed == want })
	}
	waitFor(t, "released", func() bool { return s.Stats().ConnsOpen == 0 && s.wheel.len() == 0 && s.streamCount() == 0 })
}

// TestTLSHandshakeTimeout: a connection that never starts the handshake is closed after BindTimeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	o, _ := tlsOptions(t)
	o.BindTimeout = 300 * time.Millisecond
	s := startServer(t, o)
	host, port := s.TLSAddr()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a silent handshake")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server did not close a connection that never handshook")
	}
	waitFor(t, "counted", func() bool { st := s.Stats(); return st.TLSHandshakeFailed == 1 && st.ConnsOpen == 0 })
}

// TestTLSStopMidTransfer: Stop with an msrps transfer in flight reports Aborted and leaves no goroutine
// (TestMain's goleak check).
func TestTLSStopMidTransfer(t *testing.T) {
	o, cli := tlsOptions(t)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sess := push.NewSession("call-stop", push.CallerCard, htmlPage(t, 20000), 10*time.Second)
	sess.Secure = true
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	c := dialTLS(t, s, cli)
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	c.mustNext(2 * time.Second) // first chunk; no REPORT will come
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result %+v", res)
	}
}
