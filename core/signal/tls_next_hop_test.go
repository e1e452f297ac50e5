package signal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/tlsconf"
)

// Outbound SIP over TLS (issue 4 item 4, RFC 3261 §26.2 and §26.3.1, RFC 5922 §4): the next hop is
// reached over TLS when it is a sips: or ;transport=tls URI, and its certificate must verify against
// the host of that URI before Herald sends it anything. The next hops here are a sipgo UAS on a
// crypto/tls listener (the callee's S-CSCF and terminal in one) or a raw TLS peer that records what it
// receives, with certificates from CAs made by the test. Their host is "localhost" (resolved by sipgo
// to 127.0.0.1) and their certificates name only "localhost", so verifying against the resolved IP
// instead of the URI's host would fail.

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf is an end-entity certificate and its PEM files' contents.
type leaf struct {
	tls             tls.Certificate
	certPEM, keyPEM []byte
}

// issue makes a certificate for hosts (DNS names or IP literals), usable by servers and clients,
// signed by ca, or self-signed when ca is nil.
func issue(t *testing.T, ca *testCA, cn string, hosts ...string) leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	var l leaf
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	l.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	if l.tls, err = tls.X509KeyPair(l.certPEM, l.keyPEM); err != nil {
		t.Fatal(err)
	}
	return l
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeFile writes data to a file of the test's temporary directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clientTLSFor is Herald's Options.TLSClient as cmd/herald builds it from sip.tls_client_* (CA and
// client certificate in PEM files).
func clientTLSFor(t *testing.T, ca *testCA, client *leaf, insecure bool) *tls.Config {
	t.Helper()
	var caFile, certFile, keyFile string
	if ca != nil {
		caFile = writeFile(t, "ca.pem", ca.pem)
	}
	if client != nil {
		certFile, keyFile = writeFile(t, "client.crt", client.certPEM), writeFile(t, "client.key", client.keyPEM)
	}
	c, err := tlsconf.Client(caFile, certFile, keyFile, insecure)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsCallee is a SIP UAS on a TLS listener: it answers every INVITE 200 with a Contact on its TLS
// socket (sip:callee@localhost:port;transport=tls) and BYE 200, and records the requests and the TLS
// handshakes it sees.
type tlsCallee struct {
	port int
	ua   *sipgo.UserAgent

	mu          sync.Mutex
	reqs        []*sip.Request
	handshakes  int
	clientCerts []string // common names of the client certificates presented
}

func newTLSCallee(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) *tlsCallee {
	t.Helper()
	c := &tlsCallee{}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.handshakes++
		if len(cs.PeerCertificates) > 0 {
			c.clientCerts = append(c.clientCerts, cs.PeerCertificates[0].Subject.CommonName)
		}
		return nil
	}
	if clientCAs != nil {
		conf.ClientAuth, conf.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	if c.ua, err = sipgo.NewUA(sipgo.WithUserAgent("tls-callee"), sipgo.WithUserAgentHostname("localhost")); err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(c.ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		c.record(req)
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\n"+
			"s=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
		res.AppendHeader(ctHeader("application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "callee", Host: "localhost",
			Port: c.port, UriParams: sip.HeaderParams{{K: "transport", V: "tls"}}}})
		_ = tx.Respond(res)
	})
	srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { c.record(req) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c.record(req)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeTLS(ln) }()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		_ = c.ua.Close()
	})
	return c
}

func (c *tlsCallee) record(req *sip.Request) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
}

// hostPort is the callee's address as a next hop names it.
func (c *tlsCallee) hostPort() string { return "localhost:" + strconv.Itoa(c.port) }

// requests returns the methods received, and fails the test unless every one came over TLS with
// Herald's top Via saying TLS. (Its sent-by port is the connection's local port: Herald has no TLS
// listener here, and sipgo fills in the port of the socket the request leaves from.)
func (c *tlsCallee) requests(t *testing.T) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var methods []string
	for _, r := range c.reqs {
		methods = append(methods, string(r.Method))
		if !strings.EqualFold(r.Transport(), "tls") {
			t.Errorf("%s arrived over %s", r.Method, r.Transport())
		}
		if v := r.Via(); v == nil || !strings.EqualFold(v.Transport, "tls") || v.Host != "127.0.0.1" {
			t.Errorf("%s top Via %v, want Herald's over TLS", r.Method, v)
		}
	}
	return methods
}

// waitRequests waits until the callee has received n requests (the ACK of a 2xx may arrive after the
// caller's call is over).
func (c *tlsCallee) waitRequests(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.reqs)
		c.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestItem4TLSNextHop proves outbound SIP over TLS (issue 4 item 4, RFC 3261 §26.3.1): an INVITE that
// arrives over UDP goes to a TLS next hop whose certificate is checked against the next hop's host
// (localhost, not the IP it resolves to) with the configured CA; the callee answers and ACK and BYE
// follow the dialog through Herald over the same TLS connection. The next hop is the configured one
// (sip.next_hop with transport=tls) or a sips: Route the caller put after Herald's own.
func TestItem4TLSNextHop(t *testing.T) {
	for _, viaRoute := range []bool{false, true} {
		name := "configured next hop"
		if viaRoute {
			name = "sips route"
		}
		t.Run(name, func(t *testing.T) {
			leakCheck(t)
			ca := newTestCA(t, "Test Carrier CA")
			callee := newTLSCallee(t, issue(t, ca, "scscf.localhost", "localhost").tls, nil)
			st, _ := testStore(t)
			nextHop, transport := callee.hostPort(), "tls"
			if viaRoute {
				nextHop, transport = "127.0.0.1:9", "udp" // unused: the Route wins
			}
			h := startHerald(t, st, nextHop, func(o *Options) {
				o.NextHopTransport = transport
				o.TLSClient = clientTLSFor(t, ca, nil, false)
			})
			var opts uesim.CallerOptions
			if viaRoute {
				opts.Rewrite = func(req *sip.Request) {
					req.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:"+portOf(h.addr)+";lr>, <sips:"+callee.hostPort()+";lr>"))
				}
			}
			caller := newCaller(t, opts)
			res := h.mustCall(t, caller, dave, erin)
			if tr := sentInvite(t, res).Request.Transport(); !strings.EqualFold(tr, "udp") {
				t.Fatalf("the caller sent its INVITE over %s", tr)
			}
			callee.waitRequests(t, 3)
			if got := strings.Join(callee.requests(t), " "); got != "INVITE ACK BYE" {
				t.Fatalf("callee received %q, want INVITE ACK BYE", got)
			}
			callee.mu.Lock()
			handshakes := callee.handshakes
			callee.mu.Unlock()
			if handshakes != 1 {
				t.Fatalf("%d TLS handshakes, want 1 (ACK and BYE reuse the INVITE's connection)", handshakes)
			}
			h.quiet(t)
			if s := &h.sig.Stats; s.Forwarded.Load() != 1 || s.ForwardErrors.Load() != 0 {
				t.Fatalf("forwarded %d, forward errors %d", s.Forwarded.Load(), s.ForwardErrors.Load())
			}
		})
	}
}

// rawTLSPeer is a next hop that records everything it receives on the wire and never answers SIP.
// With a certificate it runs the server side of the handshake and records its outcome and the
// application bytes that follow; without one it accepts TCP and never answers (a stalled handshake).
type rawTLSPeer struct {
	ln   net.Listener
	conf *tls.Config
	wg   sync.WaitGroup

	mu      sync.Mutex
	conns   []net.Conn
	wire    []byte  // every byte received, as sent (TLS records)
	hsErrs  []error // one per handshake run
	appData int     // application bytes read after a successful handshake
}

func newRawTLSPeer(t *testing.T, cert *tls.Certificate) *rawTLSPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rawTLSPeer{ln: ln}
	if cert != nil {
		p.conf = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *rawTLSPeer) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *rawTLSPeer) serve(c net.Conn) {
	defer p.wg.Done()
	defer func() { _ = c.Close() }()
	rec := &recordConn{Conn: c, p: p}
	if p.conf == nil {
		_, _ = io.Copy(io.Discard, rec) // until Herald gives up and closes, or the test ends
		return
	}
	tc := tls.Server(rec, p.conf)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	err := tc.Handshake()
	p.mu.Lock()
	p.hsErrs = append(p.hsErrs, err)
	p.mu.Unlock()
	if err != nil {
		return
	}
	n, _ := io.Copy(io.Discard, tc)
	p.mu.Lock()
	p.appData += int(n)
	p.mu.Unlock()
}

// recordConn records the raw bytes read from a connection.
type recordConn struct {
	net.Conn
	p *rawTLSPeer
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.p.mu.Lock()
	c.p.wire = append(c.p.wire, b[:n]...)
	c.p.mu.Unlock()
	return n, err
}

func (p *rawTLSPeer) port() string { return strconv.Itoa(p.ln.Addr().(*net.TCPAddr).Port) }

// TestItem4TLSNextHopUnverified proves that Herald sends nothing to a next hop it cannot verify
// (RFC 3261 §26.3.1, RFC 5922 §4): whether the certificate comes from a CA Herald does not trust
// (also with no CA configured: the system roots) or names another host, the handshake fails, no byte
// of SIP reaches the peer, in clear or encrypted, and the caller gets 503 with Retry-After, the
// transport-error answer of RFC 3261 §16.9, counted in ForwardErrors. A peer that accepts TCP and
// never completes the handshake gets the same answer after 64·T1.
func TestItem4TLSNextHopUnverified(t *testing.T) {
	ca, otherCA := newTestCA(t, "Test Carrier CA"), newTestCA(t, "Unknown CA")
	for _, tc := range []struct {
		name  string
		cert  *leaf   // nil: the peer never answers the ClientHello
		trust *testCA // Herald's tls_client_ca; nil = the system roots
		host  string  // next hop host; the port is the peer's
	}{
		{"unknown ca, system roots", ptr(issue(t, ca, "scscf", "localhost")), nil, "localhost"},
		{"unknown ca", ptr(issue(t, otherCA, "scscf", "localhost")), ca, "localhost"},
		{"self-signed", ptr(issue(t, nil, "scscf", "localhost")), ca, "localhost"},
		{"certificate for another host", ptr(issue(t, ca, "scscf", "scscf.other.test")), ca, "localhost"},
		{"ip next hop, certificate names only the host", ptr(issue(t, ca, "scscf", "localhost")), ca, "127.0.0.1"},
		{"handshake never completes", nil, ca, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			var cert *tls.Certificate
			if tc.cert != nil {
				cert = &tc.cert.tls
			}
			peer := newRawTLSPeer(t, cert)
			st, _ := testStore(t)
			h := startHerald(t, st, tc.host+":"+peer.port(), func(o *Options) {
				o.NextHopTransport = "tls"
				if tc.trust != nil {
					o.TLSClient = clientTLSFor(t, tc.trust, nil, false)
				}
			})
			caller := newCaller(t, uesim.CallerOptions{})
			start := time.Now()
			res, err := h.call(t, caller, dave, erin)
			if res.Final != 503 || err == nil {
				t.Fatalf("final %d (%v), want 503", res.Final, err)
			}
			var retryAfter bool
			for _, m := range pick(res.Messages, uesim.Received, "INVITE", 503) {
				retryAfter = retryAfter || m.Response.GetHeader("Retry-After") != nil
			}
			if !retryAfter {
				t.Error("503 without Retry-After")
			}
			if tc.cert == nil && time.Since(start) < 64*testT1 {
				t.Errorf("503 after %v, before 64·T1 (%v)", time.Since(start), 64*testT1)
			}
			h.quiet(t)
			if s := &h.sig.Stats; s.ForwardErrors.Load() != 1 || s.Forwarded.Load() != 0 {
				t.Fatalf("forward errors %d, forwarded %d; want 1 and 0", s.ForwardErrors.Load(), s.Forwarded.Load())
			}
			// Herald closed the connection; wait for the peer to have read everything.
			deadline := time.Now().Add(5 * time.Second)
			for {
				peer.mu.Lock()
				done := len(peer.conns) > 0 && (tc.cert == nil || len(peer.hsErrs) == len(peer.conns))
				peer.mu.Unlock()
				if done || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			peer.mu.Lock()
			defer peer.mu.Unlock()
			if len(peer.conns) == 0 {
				t.Fatal("Herald never connected to the next hop")
			}
			if len(peer.wire) == 0 || peer.wire[0] != 0x16 || bytes.Contains(peer.wire, []byte("INVITE")) || bytes.Contains(peer.wire, []byte("SIP/2.0")) {
				t.Fatalf("the peer received %d bytes starting %q: not only a TLS handshake", len(peer.wire), peer.wire[:min(len(peer.wire), 16)])
			}
			for _, err := range peer.hsErrs {
				// Herald's alert: "bad certificate" or "unknown certificate authority".
				if err == nil || !strings.Contains(err.Error(), "remote error: tls:") || !strings.Contains(err.Error(), "certificate") {
					t.Errorf("peer's handshake: %v, want a certificate alert from Herald", err)
				}
			}
			if peer.appData != 0 {
				t.Errorf("the peer read %d application bytes", peer.appData)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestItem4TLSNextHopInsecure proves the lab switch sip.tls_client_insecure: a next hop with a
// self-signed certificate for another name is reached and the call completes.
func TestItem4TLSNextHopInsecure(t *testing.T) {
	leakCheck(t)
	callee := newTLSCallee(t, issue(t, nil, "lab-scscf", "lab-scscf.invalid").tls, nil)
	st, _ := testStore(t)
	h := startHerald(t, st, callee.hostPort(), func(o *Options) {
		o.NextHopTransport = "tls"
		o.TLSClient = clientTLSFor(t, nil, nil, true)
	})
	caller := newCaller(t, uesim.CallerOptions{})
	h.mustCall(t, caller, dave, erin)
	callee.waitRequests(t, 3)
	if got := strings.Join(callee.requests(t), " "); got != "INVITE ACK BYE" {
		t.Fatalf("callee received %q, want INVITE ACK BYE", got)
	}
	h.quiet(t)
}

// TestItem4TLSNextHopMutual proves mutual TLS toward a next hop that demands a client certificate
// (RFC 3261 §26.3.1: a proxy to proxy connection is mutually authenticated when the peer asks):
// Herald presents sip.tls_client_cert and the call completes.
func TestItem4TLSNextHopMutual(t *testing.T) {
	leakCheck(t)
	ca := newTestCA(t, "Test Carrier CA")
	heraldCert := issue(t, ca, "ps.home1.test", "ps.home1.test")
	callee := newTLSCallee(t, issue(t, ca, "scscf", "localhost").tls, ca.pool())
	st, _ := testStore(t)
	h := startHerald(t, st, callee.hostPort(), func(o *Options) {
		o.NextHopTransport = "tls"
		o.TLSClient = clientTLSFor(t, ca, &heraldCert, false)
	})
	caller := newCaller(t, uesim.CallerOptions{})
	h.mustCall(t, caller, dave, erin)
	callee.waitRequests(t, 3)
	if got := strings.Join(callee.requests(t), " "); got != "INVITE ACK BYE" {
		t.Fatalf("callee received %q, want INVITE ACK BYE", got)
	}
	callee.mu.Lock()
	defer callee.mu.Unlock()
	if len(callee.clientCerts) != 1 || callee.clientCerts[0] != "ps.home1.test" {
		t.Fatalf("client certificates seen %q, want [ps.home1.test]", callee.clientCerts)
	}
	h.quiet(t)
}

// TestClientTLSConfig covers the sip.tls_client_* loader and what signal.New hands sipgo: TLS 1.2 at
// least, no fixed ServerName (each connection is verified against its own next hop's host).
func TestClientTLSConfig(t *testing.T) {
	ca := newTestCA(t, "Test Carrier CA")
	cert := issue(t, ca, "herald", "herald.test")
	c := clientTLSFor(t, ca, &cert, false)
	if c.RootCAs == nil || len(c.Certificates) != 1 || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("config %+v", c)
	}
	if c, err := tlsconf.Client("", "", "", false); err != nil || c.RootCAs != nil || c.InsecureSkipVerify {
		t.Fatalf("default: %+v, %v; want the system roots", c, err)
	}
	for name, files := range map[string][3]string{
		"missing ca":        {filepath.Join(t.TempDir(), "none.pem"), "", ""},
		"ca without pem":    {writeFile(t, "junk.pem", []byte("not pem")), "", ""},
		"cert without key":  {"", writeFile(t, "c.crt", cert.certPEM), ""},
		"key does not pair": {"", writeFile(t, "c.crt", cert.certPEM), writeFile(t, "k.key", issue(t, ca, "x", "x.test").keyPEM)},
	} {
		if _, err := tlsconf.Client(files[0], files[1], files[2], false); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := tlsconf.Client(filepath.Join(t.TempDir(), "none.pem"), "", "", false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing ca: %v, want fs.ErrNotExist", err)
	}
	for _, in := range []*tls.Config{nil, {MinVersion: tls.VersionTLS10, ServerName: "fixed.test"}, {MinVersion: tls.VersionTLS13}} {
		out := tlsconf.SIPDial(in)
		want := uint16(tls.VersionTLS12)
		if in != nil && in.MinVersion > want {
			want = in.MinVersion
		}
		if out.MinVersion != want || out.ServerName != "" || (in != nil && out == in) {
			t.Errorf("SIPDial(%+v) = MinVersion %x ServerName %q", in, out.MinVersion, out.ServerName)
		}
	}
}
