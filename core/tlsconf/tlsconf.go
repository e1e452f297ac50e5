// Package tlsconf builds the client-side TLS configurations Herald dials with (SIP next hops in
// core/signal, msrps terminals in netio/msrp) from the *_tls_client_* settings of the config file.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Client returns a TLS 1.2+ client configuration: peers are verified against the PEM certificates
// in caFile, or the system roots when caFile is empty; certFile and keyFile (both or neither) are the
// client certificate offered when a peer demands mutual TLS. insecure turns verification off, for
// labs only (core/config warns). Errors name the setting (tls_client_ca, tls_client_cert) and wrap
// the cause (fs.ErrNotExist for a missing file).
func Client(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} // #nosec G402 -- explicit opt-in, warned by core/config
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_client_ca %q: no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_client_cert: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// SIPDial is the config the SIP plane's TLS transport (sipgo's) dials next hops with, from the
// configured one (Client's; nil: the system roots). MinVersion is at least TLS 1.2 (sipgo would
// otherwise use Go's default minimum) and ServerName is cleared: sipgo puts the next hop's host
// there for each connection only when it is empty, and a fixed name would verify every next hop
// against the same name.
//
// Outbound SIP over TLS (RFC 3261 §26.2, §26.3.1; RFC 5922 §4): a request leaves over TLS when its
// next hop is a sips: URI or has ;transport=tls, be it the top Route or the configured next hop.
// sipgo dials the URI's host and port and verifies the peer's certificate against that host: a
// domain name (also when it is resolved through SRV, which keeps the domain) or an IP literal
// (checked against the certificate's IP SANs). A failed handshake closes the connection before any
// SIP byte is written, and the transaction is not created: the caller gets 503. sipgo keeps
// outbound TLS connections in a pool keyed by the resolved IP:port and reuses them, so two next-hop
// names on one IP:port share the connection verified for the first.
func SIPDial(c *tls.Config) *tls.Config {
	if c == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	c.ServerName = ""
	return c
}
