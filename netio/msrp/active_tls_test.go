package msrp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// Herald active over msrps (RFC 6135 with RFC 4975 TLS): the terminal answered a=setup:passive with an
// msrps:// a=path, so Herald dials it, is the TLS client, verifies the terminal's certificate and sends
// the binding SEND over TLS.

// newTLSPassiveTerminal is a terminal that answered a=setup:passive with path msrps://host:port/…;tcp.
// Its listener is plain TCP: each test decides what the terminal does with Herald's TLS handshake.
func newTLSPassiveTerminal(t *testing.T, host string) *passiveTerminal {
	t.Helper()
	p := newPassiveTerminal(t)
	port := p.ln.Addr().(*net.TCPAddr).Port
	p.path = "msrps://" + host + ":" + strconv.Itoa(port) + "/" + push.NewID(8) + ";tcp"
	return p
}

// acceptRaw waits for Herald's TCP connection.
func (p *passiveTerminal) acceptRaw(t *testing.T) net.Conn {
	t.Helper()
	_ = p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	conn, err := p.ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// acceptTLS accepts Herald's connection as a TLS server with cfg, completes the handshake and wraps
// the connection as a test client speaking from the terminal's path.
func (p *passiveTerminal) acceptTLS(t *testing.T, cfg *tls.Config) (*client, *tls.Conn) {
	t.Helper()
	tc := tls.Server(p.acceptRaw(t), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		t.Fatalf("terminal handshake: %v", err)
	}
	c := &client{t: t, conn: tc, path: p.path, rd: make([]byte, 64<<10)}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	return c, tc
}

// waitEOF reads conn until it ends and returns how long that took; a read timeout fails the test.
func waitEOF(t *testing.T, conn net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(within))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("Herald did not close the connection within %s", within)
			}
			return time.Since(start)
		}
	}
}

// writeCAFile stores cfg's certificate as a PEM file (the msrp.tls_client_ca of a deployment).
func writeCAFile(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	der := cfg.Certificates[0].Certificate[0]
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secureSession opens a session offered over msrps (a=path msrps://).
func secureSession(t *testing.T, s *Server, n int, ttl time.Duration) (*push.Session, []byte) {
	t.Helper()
	page := htmlPage(t, n)
	sess := push.NewSession("call-active-tls", push.CallerCard, page, ttl)
	sess.Secure = true
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	return sess, page.Body
}

// TestRFC6135ActiveOverTLSDeliversClaim1Page: the callee terminal answered a=setup:passive with an
// msrps path; Herald dials it, completes the TLS handshake as client (verifying the terminal's
// certificate against the CA file, or not at all when told so for labs), sends the bodiless binding
// SEND over TLS (From-Path msrps://, the scheme of the socket), and on 200 pushes the caller's page
// (claim 1: the first HTML file over the MSRP connection with the called terminal). Herald presents
// its own msrps certificate when the terminal asks for one.
func TestRFC6135ActiveOverTLSDeliversClaim1Page(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(t *testing.T, termCert *tls.Config) *tls.Config
	}{
		{"verified against tls_client_ca", func(t *testing.T, termCert *tls.Config) *tls.Config {
			c, err := ClientTLSConfig(writeCAFile(t, termCert), false)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"tls_client_insecure", func(t *testing.T, _ *tls.Config) *tls.Config {
			c, err := ClientTLSConfig("", true)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			termCert, _ := testTLS(t) // the terminal's self-signed certificate for 127.0.0.1
			o, _ := tlsOptions(t)
			o.TLSClientConfig = tc.client(t, termCert)
			s := startServer(t, o)
			sess, body := secureSession(t, s, 10000, 10*time.Second)
			term := newTLSPassiveTerminal(t, "127.0.0.1")
			if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); !errors.Is(err, ErrAlreadyBound) {
				t.Fatalf("second Connect: %v, want ErrAlreadyBound", err)
			}
			srvCfg := termCert.Clone()
			srvCfg.ClientAuth = tls.RequestClientCert
			c, conn := term.acceptTLS(t, srvCfg)
			peer := conn.ConnectionState().PeerCertificates
			if len(peer) != 1 || !bytes.Equal(peer[0].Raw, o.TLSConfig.Certificates[0].Certificate[0]) {
				t.Fatalf("Herald presented %d certificates, not its msrps one", len(peer))
			}
			f := c.mustNext(2 * time.Second)
			local := s.PathURI(sess.ID)
			if f.Method != "SEND" || f.ToPath != term.path || f.FromPath != local || len(f.Body) != 0 {
				t.Fatalf("binding SEND %+v", f)
			}
			if _, tport := s.TLSAddr(); local != "msrps://127.0.0.1:"+strconv.Itoa(tport)+"/"+sess.ID+";tcp" {
				t.Fatalf("From-Path %q is not Herald's msrps URI", local)
			}
			c.respond(f, 200)
			r := c.receivePage(2*time.Second, true)
			if !bytes.Equal(r.body, body) {
				t.Fatal("page differs")
			}
			if r.last.ToPath != term.path || r.last.FromPath != local {
				t.Fatalf("chunk paths To %q From %q", r.last.ToPath, r.last.FromPath)
			}
			n := int64(len(r.body))
			c.report(r.last.FromPath, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
			if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
				t.Fatalf("result %+v", res)
			}
			c.expectClosed(3 * time.Second) // close_notify, then EOF
			waitFor(t, "connection released", func() bool {
				st := s.Stats()
				return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0 && s.wheel.len() == 0
			})
			if st := s.Stats(); st.Binds != 1 || st.DeliveriesOK != 1 || st.DialsFailed != 0 || st.TLSHandshakeFailed != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestRFC6135ActiveOverTLSHandshakeFailures: every way Herald's client handshake can fail ends the
// session Failed (Err wraps errDial and errHandshake), is counted in DialsFailed and
// TLSHandshakeFailed, closes the socket within the dial deadline (BindTimeout) and leaves no
// connection, session, timer or goroutine behind (TestMain's goleak check).
func TestRFC6135ActiveOverTLSHandshakeFailures(t *testing.T) {
	const bindTimeout = 400 * time.Millisecond
	trusted, _ := testTLS(t) // the certificate Herald trusts, for 127.0.0.1 only
	o, _ := tlsOptions(t)
	o.BindTimeout = bindTimeout
	var err error
	if o.TLSClientConfig, err = ClientTLSConfig(writeCAFile(t, trusted), false); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, o)
	untrusted, _ := testTLS(t) // a self-signed certificate nobody vouches for

	// terminalTLS runs the terminal's side of a handshake that Herald must refuse.
	terminalTLS := func(cfg *tls.Config) func(t *testing.T, conn net.Conn) {
		return func(t *testing.T, conn net.Conn) {
			tc := tls.Server(conn, cfg)
			_ = tc.SetDeadline(time.Now().Add(3 * time.Second))
			if err := tc.Handshake(); err == nil {
				t.Error("terminal handshake succeeded although Herald should refuse the certificate")
			}
		}
	}
	for _, tc := range []struct {
		name     string
		host     string                            // host of the terminal's a=path
		terminal func(t *testing.T, conn net.Conn) // what the terminal does once Herald connects
		check    func(err error) bool              // the cause in the result's Err
		slow     bool                              // fails by the dial deadline, not at once
	}{
		{"handshake garbage", "127.0.0.1", func(t *testing.T, conn net.Conn) {
			// MSRP in clear text where the ServerHello should be.
			_, _ = conn.Write([]byte("MSRP a786hjs2 200 OK\r\nTo-Path: msrps://127.0.0.1/x;tcp\r\n-------a786hjs2$\r\n"))
		}, func(err error) bool {
			var rh tls.RecordHeaderError
			return errors.As(err, &rh)
		}, false},
		{"never completes the handshake", "127.0.0.1", func(*testing.T, net.Conn) {},
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, true},
		{"certificate from an unknown CA", "127.0.0.1", terminalTLS(untrusted), func(err error) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua)
		}, false},
		{"certificate for another host than the a=path", "localhost", terminalTLS(trusted), func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats()
			sess, _ := secureSession(t, s, 3000, 10*time.Second)
			term := newTLSPassiveTerminal(t, tc.host)
			start := time.Now()
			if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			conn := term.acceptRaw(t)
			tc.terminal(t, conn)
			waitEOF(t, conn, 3*time.Second)
			took := time.Since(start)
			if took > bindTimeout+time.Second || (!tc.slow && took > bindTimeout) {
				t.Fatalf("Herald closed after %s (dial deadline %s)", took, bindTimeout)
			}
			res := waitResult(t, sess, 2*time.Second)
			if res.Outcome != push.Failed || !errors.Is(res.Err, errDial) || !errors.Is(res.Err, errHandshake) || !tc.check(res.Err) {
				t.Fatalf("result %+v", res)
			}
			after := s.Stats()
			if d, h := after.DialsFailed-before.DialsFailed, after.TLSHandshakeFailed-before.TLSHandshakeFailed; d != 1 || h != 1 {
				t.Fatalf("DialsFailed +%d TLSHandshakeFailed +%d, want +1 each", d, h)
			}
			if after.Binds != before.Binds || after.ConnsAccepted != before.ConnsAccepted {
				t.Fatalf("a failed handshake reached the MSRP handler: %+v", after)
			}
		})
	}
	waitFor(t, "everything released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0 && s.wheel.len() == 0 &&
			len(s.dialSem) == 0
	})
}

// TestRFC6135ActiveOverTLSDefaultVerifies: without a TLSClientConfig Herald verifies against the system
// roots, which do not hold a terminal's self-signed certificate: a counted handshake failure.
func TestRFC6135ActiveOverTLSDefaultVerifies(t *testing.T) {
	o, _ := tlsOptions(t)
	s := startServer(t, o)
	termCert, _ := testTLS(t)
	sess, _ := secureSession(t, s, 3000, 10*time.Second)
	term := newTLSPassiveTerminal(t, "127.0.0.1")
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	tc := tls.Server(term.acceptRaw(t), termCert)
	_ = tc.SetDeadline(time.Now().Add(3 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Fatal("Herald accepted a self-signed terminal certificate by default")
	}
	res := waitResult(t, sess, 2*time.Second)
	var ce *tls.CertificateVerificationError
	if res.Outcome != push.Failed || !errors.As(res.Err, &ce) {
		t.Fatalf("result %+v", res)
	}
	if st := s.Stats(); st.DialsFailed != 1 || st.TLSHandshakeFailed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRFC6135ActiveSchemeMatchesSocket: the a=path scheme is the transport (RFC 4975 §6): Connect
// refuses an msrp:// terminal path for a session offered over msrps and an msrps:// one for a plain
// session, without dialling, and the session stays bindable.
func TestRFC6135ActiveSchemeMatchesSocket(t *testing.T) {
	o, cli := tlsOptions(t)
	s := startServer(t, o)
	secure, _ := secureSession(t, s, 3000, 10*time.Second)
	plain := openSession(t, s, push.CallerCard, htmlPage(t, 3000), 10*time.Second)
	for _, tc := range []struct {
		name, id, path string
	}{
		{"msrp path for an msrps session", secure.ID, "msrp://127.0.0.1:9/abc;tcp"},
		{"msrps path for an msrp session", plain.ID, "msrps://127.0.0.1:9/abc;tcp"},
		{"msrps relay hop before an msrp terminal, plain session", plain.ID, "msrps://relay.example:9/r;tcp msrp://127.0.0.1:9/abc;tcp"},
		{"msrp relay hop before an msrps terminal, msrps session", secure.ID, "msrp://relay.example:9/r;tcp msrps://127.0.0.1:9/abc;tcp"},
	} {
		if err := s.Connect(tc.id, tc.path, "127.0.0.1:9"); !errors.Is(err, ErrBadPeer) {
			t.Errorf("%s: %v, want ErrBadPeer", tc.name, err)
		}
	}
	if st := s.Stats(); st.DialsFailed != 0 || st.DialsBusy != 0 {
		t.Fatalf("a refused Connect dialled: %+v", st)
	}
	// Both sessions are still bindable, each over its own transport.
	if _, res := fetch(t, dialTLS(t, s, cli), secure, s.PathURI(secure.ID)); res.Outcome != push.Delivered {
		t.Fatalf("secure result %+v", res)
	}
	if _, res := fetch(t, dial(t, s), plain, s.PathURI(plain.ID)); res.Outcome != push.Delivered {
		t.Fatalf("plain result %+v", res)
	}
}

// TestRFC6135ActiveOverTLSStopDuringHandshake: Stop while Herald waits for a terminal that never
// answers its ClientHello returns promptly, reports Aborted (not a dial failure) and leaves no
// goroutine (TestMain's goleak check).
func TestRFC6135ActiveOverTLSStopDuringHandshake(t *testing.T) {
	o, _ := tlsOptions(t)
	o.BindTimeout = 30 * time.Second // only Stop ends this handshake
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sess, _ := secureSession(t, s, 3000, time.Minute)
	term := newTLSPassiveTerminal(t, "127.0.0.1")
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	conn := term.acceptRaw(t)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(conn, make([]byte, 5)); err != nil { // the ClientHello's record header
		t.Fatalf("no ClientHello: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if res := waitResult(t, sess, time.Second); res.Outcome != push.Aborted || !errors.Is(res.Err, errShutdown) {
		t.Fatalf("result %+v", res)
	}
	waitEOF(t, conn, time.Second)
	if st := s.Stats(); st.DialsFailed != 0 || st.TLSHandshakeFailed != 0 {
		t.Fatalf("Stop counted as a failure: %+v", st)
	}
}

// TestClientTLSConfig: msrp.tls_client_ca must hold a PEM certificate; insecure turns verification
// off; the default verifies against the system roots.
func TestClientTLSConfig(t *testing.T) {
	srv, _ := testTLS(t)
	good := writeCAFile(t, srv)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		file     string
		insecure bool
		wantErr  bool
		roots    bool
	}{
		{"system roots", "", false, false, false},
		{"ca file", good, false, false, true},
		{"insecure", "", true, false, false},
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), false, true, false},
		{"not pem", notPEM, false, true, false},
	} {
		c, err := ClientTLSConfig(tc.file, tc.insecure)
		if tc.wantErr {
			if !errors.Is(err, ErrBadOptions) {
				t.Errorf("%s: %v, want ErrBadOptions", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.InsecureSkipVerify != tc.insecure || (c.RootCAs != nil) != tc.roots || c.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: insecure %t roots %t min %x", tc.name, c.InsecureSkipVerify, c.RootCAs != nil, c.MinVersion)
		}
	}
}
