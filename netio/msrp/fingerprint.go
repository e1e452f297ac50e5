package msrp

import (
	"crypto/sha1" //nolint:gosec // RFC 8122 §5 lists sha-1; used only when the terminal offers nothing stronger
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"hash"
	"strings"

	"github.com/herald-ims/herald/core/sdp"
)

// Certificate fingerprints (RFC 8122 §5, formerly RFC 4572 §5): a terminal with a self-signed
// certificate publishes its hash in the SDP (a=fingerprint). When the terminal's answer carries any,
// Herald-active over msrps verifies the terminal's certificate by them instead of by a CA chain:
//
//   - RFC 8122 §5: "an endpoint MUST select the set of fingerprints that use its most preferred hash
//     function (out of those offered by the peer) and verify that each certificate used matches one
//     fingerprint out of that set". Herald prefers sha-512, sha-384, sha-256, then sha-1; others (md5,
//     md2, sha-224, unknown tokens) are ignored, and if the terminal offered only those the handshake
//     fails (errFingerprintHash).
//   - The certificate checked is the one the terminal presented first (its end-entity certificate);
//     the digest is compared with every fingerprint of the selected set in constant time.
//   - Chain and host-name verification is turned off (InsecureSkipVerify) only in the same config that
//     installs the check as VerifyConnection, which crypto/tls runs on every handshake, resumptions
//     included, whatever InsecureSkipVerify says. A mismatch aborts the handshake, so it is counted in
//     DialsFailed and TLSHandshakeFailed like every other failed msrps handshake.
//
// Without fingerprints the CA verification of TLSClientConfig applies unchanged.

// fingerprintHashes are the hash functions Herald verifies, most preferred first.
var fingerprintHashes = [...]struct {
	name string
	new  func() hash.Hash
}{
	{"sha-512", sha512.New},
	{"sha-384", sha512.New384},
	{"sha-256", sha256.New},
	{"sha-1", sha1.New},
}

// verifyFingerprint returns a tls.Config.VerifyConnection that accepts the connection only when the
// peer's first certificate matches one of fps with the most preferred hash function among them.
func verifyFingerprint(fps []sdp.Fingerprint) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no certificate", errFingerprint)
		}
		return matchFingerprint(cs.PeerCertificates[0].Raw, fps)
	}
}

// matchFingerprint checks the DER certificate der against fps (RFC 8122 §5).
func matchFingerprint(der []byte, fps []sdp.Fingerprint) error {
	for _, h := range fingerprintHashes {
		var digest []byte
		match := 0
		for _, f := range fps {
			if !strings.EqualFold(f.Hash, h.name) {
				continue
			}
			if digest == nil {
				hh := h.new()
				hh.Write(der)
				digest = hh.Sum(nil)
			}
			match |= subtle.ConstantTimeCompare(digest, f.Value)
		}
		switch {
		case digest == nil: // not offered: try the next hash function
		case match == 1:
			return nil
		default:
			return fmt.Errorf("%w: %s", errFingerprint, h.name)
		}
	}
	hs := make([]string, len(fps))
	for i, f := range fps {
		hs[i] = f.Hash
	}
	return fmt.Errorf("%w: %q", errFingerprintHash, hs)
}

// clientTLS is the TLS client config of one msrps dial: a clone of TLSClientConfig that verifies the
// certificate against serverName unless the config names a server itself or, when the terminal
// published fingerprints, by those instead (the server name is then only sent as SNI).
func (s *Server) clientTLS(serverName string, fps []sdp.Fingerprint) *tls.Config {
	c := s.opts.TLSClientConfig.Clone()
	if c.ServerName == "" {
		c.ServerName = serverName
	}
	if len(fps) == 0 {
		return c
	}
	// The fingerprint check replaces chain verification: it is installed together with
	// InsecureSkipVerify, never without it. A VerifyConnection of TLSClientConfig still runs after it.
	check, prev := verifyFingerprint(fps), c.VerifyConnection
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := check(cs); err != nil {
			return err
		}
		if prev != nil {
			return prev(cs)
		}
		return nil
	}
	return c
}
