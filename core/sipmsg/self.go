package sipmsg

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Self is the host Herald is known by in SIP: the host it advertises (in Via, Record-Route and
// Contact) and its aliases, the other names a Route or Request-URI may give it (the application
// server's URI in an S-CSCF's initial filter criteria, 3GPP TS 29.228 ServerName; a load
// balancer's address). Both of Herald's paths ask IsSelf, so they agree on every URI.
type Self struct {
	// URI is the advertised host as a SIP URI names it: an IPv6 address in brackets (RFC 3261
	// §25.1, IPv6reference). sipgo writes a URI's host as it is given, and a Via's bracketed either way.
	URI     string
	host    selfHost
	aliases []selfAlias
}

// selfHost is a host in the form IsSelf compares: without brackets, and the IPv6 address it is,
// if it is one.
type selfHost struct {
	bare string
	ip6  netip.Addr
}

// selfAlias is an alias: its host, and the port it names (0: any port).
type selfAlias struct {
	host selfHost
	port int
}

// NewSelf reads the advertised host (a name or an IP address, an IPv6 one bracketed or not) and
// the aliases (host or host:port, an IPv6 host bracketed when it has a port).
func NewSelf(host string, aliases []string) (Self, error) {
	s := Self{URI: host, host: newSelfHost(host)}
	if s.host.ip6.IsValid() {
		s.URI = "[" + s.host.bare + "]"
	}
	for _, a := range aliases {
		h, p := a, 0
		if hh, pp, err := net.SplitHostPort(a); err == nil {
			n, err := strconv.Atoi(pp)
			if err != nil || n < 1 || n > 65535 {
				return Self{}, fmt.Errorf("sipmsg: alias %q: port must be 1..65535", a)
			}
			h, p = hh, n
		}
		if h == "" {
			return Self{}, fmt.Errorf("sipmsg: alias %q: no host", a)
		}
		s.aliases = append(s.aliases, selfAlias{host: newSelfHost(h), port: p})
	}
	return s, nil
}

func newSelfHost(host string) selfHost {
	h := selfHost{bare: strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")}
	if a, err := netip.ParseAddr(h.bare); err == nil && a.Is6() && a.Zone() == "" {
		h.ip6 = a
	}
	return h
}

// IsSelf is the one rule for "this URI names Herald" (RFC 3261 §16.4 for a Route, §16.5 for the
// Request-URI), given the URI's host (bracketed or not) and port (its transport's default when it
// names none, RFC 3261 §19.1.2): the advertised host at a port Herald serves (serves), or an alias
// at the port it names, at any port when it names none. Host names compare case-insensitively
// (RFC 3261 §19.1.4), IPv6 addresses as addresses in any spelling (RFC 5954 §4). The general path
// calls it with sipgo's parsed URI, the fast path with the scanner's bytes, without converting them.
func IsSelf[H ~string | ~[]byte](s *Self, host H, port int, serves func(port int) bool) bool {
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	for _, a := range s.aliases {
		if isHost(a.host, host) && (a.port == 0 || a.port == port) {
			return true
		}
	}
	return isHost(s.host, host) && serves(port)
}

// isHost reports whether host (without brackets) is h.
func isHost[H ~string | ~[]byte](h selfHost, host H) bool {
	if len(host) == len(h.bare) {
		same := true
		for i := 0; i < len(host) && same; i++ {
			same = lowerASCII(host[i]) == lowerASCII(h.bare[i])
		}
		if same {
			return true
		}
	}
	// Another spelling of the same IPv6 address ("0:0::1" for "::1"); 45 is the longest text form.
	if !h.ip6.IsValid() || len(host) < 2 || len(host) > 45 {
		return false
	}
	var b [45]byte
	a, err := netip.ParseAddr(string(b[:copy(b[:], host)]))
	return err == nil && a == h.ip6
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
