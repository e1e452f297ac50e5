package signal

import (
	"crypto/tls"
	"fmt"

	"github.com/herald-ims/herald/core/tlsconf"
)

// Outbound SIP over TLS (RFC 3261 §26.2, §26.3.1; RFC 5922 §4). A request leaves over TLS when its
// next hop is a sips: URI or has ;transport=tls (uriTransport), be it the top Route or NextHop with
// NextHopTransport "tls". sipgo's TLS transport dials the destination Herald set (towardNextHop: the
// URI's host and port) and, when the client config has no ServerName, verifies the peer's
// certificate against the host part of that destination, that is against the host of the next
// hop's URI: a domain name (also when it is resolved through SRV, which keeps the domain) or an IP
// literal (checked against the certificate's IP SANs). A failed handshake closes the connection
// before any SIP byte is written, and the transaction is not created: the caller gets 503.
//
// sipgo keeps outbound TLS connections in their own pool, keyed by the resolved IP:port, and reuses
// them; two next-hop names on one IP:port share the connection verified for the first.

// ClientTLSConfig builds Options.TLSClient from the sip.tls_client_* settings (tlsconf.Client): next
// hops are verified against caFile's CAs or the system roots, certFile/keyFile are offered for mutual
// TLS, insecure turns verification off (labs only).
func ClientTLSConfig(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	c, err := tlsconf.Client(caFile, certFile, keyFile, insecure)
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	return c, nil
}

// clientTLS is the config sipgo's TLS transport dials with. Without one sipgo uses an empty
// tls.Config (system roots, Go's default minimum version). ServerName is cleared: sipgo puts the
// next hop's host there for each connection only when it is empty; a fixed name would verify every
// next hop against the same name.
func clientTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	c.ServerName = ""
	return c
}
