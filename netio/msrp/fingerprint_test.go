package msrp

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // RFC 8122 sha-1 fingerprints
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
)

// Herald active over msrps with the terminal's a=fingerprint (RFC 8122 §5): the terminal's self-signed
// certificate, which no CA vouches for, is verified by the fingerprint of its answer instead.

// certFP returns the fingerprint of cfg's certificate with hash function name.
func certFP(cfg *tls.Config, name string) sdp.Fingerprint {
	der := cfg.Certificates[0].Certificate[0]
	var d []byte
	switch name {
	case "sha-1":
		s := sha1.Sum(der) //nolint:gosec // RFC 8122 sha-1 fingerprints
		d = s[:]
	case "sha-256":
		s := sha256.Sum256(der)
		d = s[:]
	case "sha-384":
		s := sha512.Sum384(der)
		d = s[:]
	case "sha-512":
		s := sha512.Sum512(der)
		d = s[:]
	default:
		panic(name)
	}
	return sdp.Fingerprint{Hash: name, Value: d}
}

// wrongFP is f with its last byte changed.
func wrongFP(f sdp.Fingerprint) sdp.Fingerprint {
	v := bytes.Clone(f.Value)
	v[len(v)-1] ^= 0xff
	return sdp.Fingerprint{Hash: f.Hash, Value: v}
}

// TestRFC8122FingerprintDeliversClaim1Page: Herald trusts only the system roots (no tls_client_ca), the
// terminal presents a self-signed certificate, and its answer's a=fingerprint matches it: the handshake
// succeeds and the page is delivered. With fingerprints of several hash functions the most preferred
// one decides (RFC 8122 §5), so a wrong sha-1 next to a right sha-256 does not matter. The a=path host
// need not be in the certificate: the fingerprint identifies it.
func TestRFC8122FingerprintDeliversClaim1Page(t *testing.T) {
	termCert, _ := testTLS(t) // self-signed, for 127.0.0.1
	for _, tc := range []struct {
		name, host string
		fps        []sdp.Fingerprint
	}{
		{"sha-256", "127.0.0.1", []sdp.Fingerprint{certFP(termCert, "sha-256")}},
		{"sha-1", "127.0.0.1", []sdp.Fingerprint{certFP(termCert, "sha-1")}},
		{"sha-384", "127.0.0.1", []sdp.Fingerprint{certFP(termCert, "sha-384")}},
		{"sha-512, a=path host not in the certificate", "localhost", []sdp.Fingerprint{certFP(termCert, "sha-512")}},
		{"wrong sha-1 beside right sha-256", "127.0.0.1", []sdp.Fingerprint{
			wrongFP(certFP(termCert, "sha-1")), certFP(termCert, "sha-256")}},
		{"two sha-256, one matches", "127.0.0.1", []sdp.Fingerprint{
			wrongFP(certFP(termCert, "sha-256")), certFP(termCert, "sha-256")}},
		{"unsupported md5 beside right sha-256", "127.0.0.1", []sdp.Fingerprint{
			{Hash: "md5", Value: make([]byte, 16)}, certFP(termCert, "sha-256")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := tlsOptions(t) // TLSClientConfig: system roots only
			s := startServer(t, o)
			sess, body := secureSession(t, s, 10000, 10*time.Second)
			term := newTLSPassiveTerminal(t, tc.host)
			if err := s.ConnectFingerprint(sess.ID, term.path, term.ln.Addr().String(), tc.fps); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			c, _ := term.acceptTLS(t, termCert)
			f := c.mustNext(2 * time.Second)
			if f.Method != "SEND" || f.ToPath != term.path || len(f.Body) != 0 {
				t.Fatalf("binding SEND %+v", f)
			}
			c.respond(f, 200)
			r := c.receivePage(2*time.Second, true)
			if !bytes.Equal(r.body, body) {
				t.Fatal("page differs")
			}
			n := int64(len(r.body))
			c.report(r.last.FromPath, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
			if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
				t.Fatalf("result %+v", res)
			}
			c.expectClosed(3 * time.Second)
			waitFor(t, "connection released", func() bool {
				st := s.Stats()
				return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0 && s.wheel.len() == 0
			})
			if st := s.Stats(); st.DeliveriesOK != 1 || st.DialsFailed != 0 || st.TLSHandshakeFailed != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestRFC8122FingerprintFailures: a terminal certificate that does not match the fingerprints, or
// fingerprints with no supported hash function, fail Herald's handshake even where the CA chain would
// pass (tls_client_ca trusts the certificate, or tls_client_insecure): counted in DialsFailed and
// TLSHandshakeFailed, the session Failed, nothing delivered, the socket closed, and no connection,
// session, dial slot or goroutine left (TestMain's goleak check).
func TestRFC8122FingerprintFailures(t *testing.T) {
	termCert, _ := testTLS(t)
	for _, trust := range []struct {
		name   string
		client func(t *testing.T) *tls.Config
	}{
		{"system roots", func(*testing.T) *tls.Config { return nil }},
		{"tls_client_ca trusts the certificate", func(t *testing.T) *tls.Config {
			c, err := ClientTLSConfig(writeCAFile(t, termCert), false)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"tls_client_insecure", func(t *testing.T) *tls.Config {
			c, err := ClientTLSConfig("", true)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(trust.name, func(t *testing.T) {
			o, _ := tlsOptions(t)
			o.TLSClientConfig = trust.client(t)
			s := startServer(t, o)
			for _, tc := range []struct {
				name string
				fps  []sdp.Fingerprint
				want error
			}{
				{"wrong sha-256", []sdp.Fingerprint{wrongFP(certFP(termCert, "sha-256"))}, errFingerprint},
				{"right sha-1 but wrong preferred sha-256", []sdp.Fingerprint{
					certFP(termCert, "sha-1"), wrongFP(certFP(termCert, "sha-256"))}, errFingerprint},
				{"fingerprint of another certificate", []sdp.Fingerprint{certFP(o.TLSConfig, "sha-256")}, errFingerprint},
				{"unsupported md5", []sdp.Fingerprint{{Hash: "md5", Value: make([]byte, 16)}}, errFingerprintHash},
				{"unknown hash function", []sdp.Fingerprint{{Hash: "x-hash", Value: []byte{1}}}, errFingerprintHash},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := s.Stats()
					sess, _ := secureSession(t, s, 3000, 10*time.Second)
					term := newTLSPassiveTerminal(t, "127.0.0.1")
					if err := s.ConnectFingerprint(sess.ID, term.path, term.ln.Addr().String(), tc.fps); err != nil {
						t.Fatalf("Connect: %v", err)
					}
					conn := tls.Server(term.acceptRaw(t), termCert)
					_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
					if err := conn.Handshake(); err == nil {
						// TLS 1.3: the server may finish before Herald's alert arrives; then the
						// alert or EOF is what it reads next, never an MSRP request.
						if n, err := conn.Read(make([]byte, 1)); err == nil || n > 0 {
							t.Fatalf("Herald sent %d bytes over a connection it should refuse", n)
						}
					}
					waitEOF(t, conn.NetConn(), 3*time.Second)
					res := waitResult(t, sess, 2*time.Second)
					if res.Outcome != push.Failed || !errors.Is(res.Err, errDial) || !errors.Is(res.Err, errHandshake) ||
						!errors.Is(res.Err, tc.want) || res.Bytes != 0 {
						t.Fatalf("result %+v", res)
					}
					after := s.Stats()
					if d, h := after.DialsFailed-before.DialsFailed, after.TLSHandshakeFailed-before.TLSHandshakeFailed; d != 1 || h != 1 {
						t.Fatalf("DialsFailed +%d TLSHandshakeFailed +%d, want +1 each", d, h)
					}
					if after.Binds != before.Binds || after.DeliveriesOK != before.DeliveriesOK {
						t.Fatalf("a refused certificate reached the MSRP handler: %+v", after)
					}
				})
			}
			waitFor(t, "everything released", func() bool {
				st := s.Stats()
				return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0 && s.wheel.len() == 0 &&
					len(s.dialSem) == 0
			})
		})
	}
}

// TestRFC8122FingerprintIgnoredForPlainMSRP: a plain msrp session has no certificate; fingerprints in
// the answer do not change the dial.
func TestRFC8122FingerprintIgnoredForPlainMSRP(t *testing.T) {
	s := startServer(t, testOptions())
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 3000), 10*time.Second)
	term := newPassiveTerminal(t)
	fps := []sdp.Fingerprint{{Hash: "md5", Value: make([]byte, 16)}}
	if err := s.ConnectFingerprint(sess.ID, term.path, term.ln.Addr().String(), fps); err != nil {
		t.Fatal(err)
	}
	c := term.accept(t)
	f := c.mustNext(2 * time.Second)
	if f.Method != "SEND" {
		t.Fatalf("binding SEND %+v", f)
	}
	c.respond(f, 200)
	r := c.receivePage(2*time.Second, true)
	n := int64(len(r.body))
	c.report(r.last.FromPath, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered {
		t.Fatalf("result %+v", res)
	}
}

// TestMatchFingerprint: RFC 8122 §5 selection by the most preferred hash function, case-insensitive
// hash names, and digests of the wrong length never match.
func TestMatchFingerprint(t *testing.T) {
	termCert, _ := testTLS(t)
	der := termCert.Certificates[0].Certificate[0]
	s256 := certFP(termCert, "sha-256")
	for name, tc := range map[string]struct {
		fps  []sdp.Fingerprint
		want error
	}{
		"match":                                {[]sdp.Fingerprint{s256}, nil},
		"upper-case name":                      {[]sdp.Fingerprint{{Hash: "SHA-256", Value: s256.Value}}, nil},
		"truncated":                            {[]sdp.Fingerprint{{Hash: "sha-256", Value: s256.Value[:31]}}, errFingerprint},
		"empty value":                          {[]sdp.Fingerprint{{Hash: "sha-256"}}, errFingerprint},
		"sha-384 preferred over right sha-256": {[]sdp.Fingerprint{s256, wrongFP(certFP(termCert, "sha-384"))}, errFingerprint},
		"sha-224 unsupported":                  {[]sdp.Fingerprint{{Hash: "sha-224", Value: make([]byte, 28)}}, errFingerprintHash},
	} {
		if err := matchFingerprint(der, tc.fps); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
