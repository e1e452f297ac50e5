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
