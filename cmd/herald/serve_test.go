package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/netio/cpu"
)

// selfSigned writes a throw-away certificate and key for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"herald.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeConfigKnobs starts an instance from a config that pins the MSRP loops and RTP shards to a
// CPU, runs msrps beside MSRP over TCP, verifies TLS next hops with its own CA and a client
// certificate, and sets the Go collector, as ops would on a carrier box.
func TestServeConfigKnobs(t *testing.T) {
	avail := cpu.Available()
	if len(avail) == 0 {
		t.Skip("no CPU affinity on this platform")
	}
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	c := avail[0]
	yaml := `
sip:
  listen: [{transport: udp, addr: "127.0.0.1:0"}, {transport: tcp, addr: "127.0.0.1:0"}]
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:5070;transport=tcp"
  trusted: ["127.0.0.0/8"]
  tls_client_ca: "` + certFile + `"
  tls_client_cert: "` + certFile + `"
  tls_client_key: "` + keyFile + `"
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
  tls_listen: "127.0.0.1:0"
  tls_cert: "` + certFile + `"
  tls_key: "` + keyFile + `"
  offer_tls: true
  max_fork_binds: 2
rtp:
  port_min: 42000
  port_max: 42998
http:
  listen: ""
cpu:
  msrp_loops: [` + itoa(c) + `]
  rtp_shards: [` + itoa(c) + `]
limits:
  gc_percent: 200
`
	in := startInstance(t, "knobs.yaml", yaml)
	if _, p := in.msrp.TLSAddr(); p == 0 {
		t.Fatal("msrps listener not running")
	}
	if in.web != nil {
		t.Fatal("http.listen \"\" must disable the HTTP plane")
	}
	if code, _, errOut := runCmd("check", "-c", writeFile(t, yaml)); code != 0 {
		t.Fatalf("check: %d %s", code, errOut)
	}
	bad := writeFile(t, "sip:\n  next_hop: \"sip:127.0.0.1:5070\"\ncpu:\n  rtp_shards: [1023]\n")
	if code, _, errOut := runCmd("check", "-c", bad); code != 1 || errOut == "" {
		t.Fatalf("check with a CPU this machine lacks: %d %q", code, errOut)
	}
}

// TestServeSIPTLSClientFiles: the sip.tls_client_* files are read when the instance is built, so a
// CA or client certificate that cannot be loaded stops Herald before any plane exists.
func TestServeSIPTLSClientFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, _ := selfSigned(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string]string{
		"missing ca":          "  tls_client_ca: " + filepath.Join(dir, "none.pem") + "\n",
		"ca without pem":      "  tls_client_ca: " + junk + "\n",
		"key of another pair": "  tls_client_cert: " + certFile + "\n  tls_client_key: " + junk + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			o, err := config.Parse("t.yaml", []byte("sip:\n  next_hop: \"sips:127.0.0.1:5071\"\n"+keys))
			if err != nil {
				t.Fatal(err)
			}
			o.DataDir = "" // a temporary store, if it got that far
			in, err := newInstance(o, slog.New(slog.DiscardHandler), nil)
			if err == nil || in != nil || !strings.Contains(err.Error(), "herald: sip: tls_client_") {
				t.Fatalf("newInstance: %v, want a sip tls_client error", err)
			}
		})
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// TestServeSIPTLSListener: a sip.listen entry with transport tls is served as SIP over TLS on a port
// of its own (port 0 beside UDP and TCP on port 0 of the same host), and Herald advertises that
// port for its TLS legs (Record-Route, Via); requests over it are answered.
func TestServeSIPTLSListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	yaml := `
sip:
  listen:
    - {transport: udp, addr: "127.0.0.1:0"}
    - {transport: tcp, addr: "127.0.0.1:0"}
    - {transport: tls, addr: "127.0.0.1:0", cert: "` + certFile + `", key: "` + keyFile + `"}
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:5070"
  trusted: ["127.0.0.0/8"]
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
http:
  listen: ""
`
	in := startInstance(t, "tls.yaml", yaml)
	udp, tcp, tlsPort := in.sip.PortFor("udp"), in.sip.PortFor("tcp"), in.sip.PortFor("tls")
	if udp == 0 || tcp != udp || tlsPort == 0 || tlsPort == udp {
		t.Fatalf("advertised ports udp %d tcp %d tls %d", udp, tcp, tlsPort)
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+itoa(tlsPort), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) // #nosec G402 -- self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Write([]byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKtls1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:ops@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tls-options\r\n" +
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TLS: %q, %v", buf[:n], err)
	}
}

// startInstance parses yaml as the config file name, builds and starts an instance, and stops it
// when the test ends.
// loopbackYAML is a node on loopback with the admin listener; extra is appended (a top-level
// section, or more of http: indented by two).
func loopbackYAML(extra string) string {
	return `
sip:
  listen: [{transport: udp, addr: "127.0.0.1:0"}, {transport: tcp, addr: "127.0.0.1:0"}]
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:5070"
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
rtp:
  port_min: 42200
  port_max: 42298
http:
  listen: "127.0.0.1:0"
  admin_listen: "127.0.0.1:0"
` + extra
}

func startInstance(t *testing.T, name, yaml string) *instance {
	t.Helper()
	o, err := config.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	o.DataDir = "" // a temporary store, removed at stop
	in, err := newInstance(o, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The context given to start is the planes' lifetime, not a start-up deadline: the RTP plane's
	// shards stop when it is done (a timeout cancelled on return left every ringback "plane closed").
	if err := in.start(t.Context()); err != nil {
		in.stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(context.Background()) })
	return in
}

// TestNextHopOfURI proves how sip.next_hop becomes the server's next hop: its host and port, an
// IPv6 reference unbracketed for JoinHostPort; an IP address without a port gets its transport's
// default (RFC 3261 §19.1.2), a domain without one keeps port 0, which the resolver takes as
// "SRV decides" (RFC 3263 §4.2); the transport parameter, else TLS for sips:, else UDP.
func TestNextHopOfURI(t *testing.T) {
	for _, tc := range []struct{ uri, hostPort, transport string }{
		{"sip:127.0.0.1:5070;transport=udp", "127.0.0.1:5070", "udp"},
		{"sip:127.0.0.1", "127.0.0.1:5060", "udp"},
		{"sips:192.0.2.1", "192.0.2.1:5061", "tls"},
		{"sip:[2001:db8::1];transport=TCP", "[2001:db8::1]:5060", "tcp"},
		{"sip:scscf.home1.net", "scscf.home1.net:0", "udp"},
		{"sip:scscf.home1.net;transport=tcp", "scscf.home1.net:0", "tcp"},
		{"sips:scscf.home1.net", "scscf.home1.net:0", "tls"},
		{"sip:scscf.home1.net:5070", "scscf.home1.net:5070", "udp"},
	} {
		hp, tp, err := hostPortOfURI(tc.uri)
		if err != nil || hp != tc.hostPort || tp != tc.transport {
			t.Errorf("%s: %q %q %v; want %q %q", tc.uri, hp, tp, err, tc.hostPort, tc.transport)
		}
	}
	if _, _, err := hostPortOfURI("not a uri"); err == nil {
		t.Error("a URI that does not parse gave a next hop")
	}
}
