package sipdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/herald-ims/herald/core/sipfast"
)

// naptr.go: NAPTR lookups (RFC 3403), which Go's resolver does not make, for RFC 3263 §4.1's choice
// of transport: a query over UDP (again over TCP when the answer is truncated, RFC 1035 §4.2.1) to
// the resolver's servers: r's Dial when it has one (sip.dns_server, a test's server), else each
// nameserver of /etc/resolv.conf in turn.

// naptrTimeout bounds one server's exchange; the cache's own deadline (2 s for NAPTR, within the
// 5 s of a whole lookup) bounds the lookup, so a server that drops NAPTR questions costs the
// first call toward a name 1 s, and the next server is asked.
const naptrTimeout = time.Second

// errNoServer is a NAPTR lookup with neither a Dial nor a nameserver to ask.
var errNoServer = errors.New("NAPTR: no DNS server (resolv.conf has none)")

// naptrLookup is a NAPTR lookup through r (nil: /etc/resolv.conf's servers, read at each lookup
// as Go's resolver does). A name without NAPTR records (NXDOMAIN, or no answer of that type) has
// none and no error; a server that fails (SERVFAIL, REFUSED, no answer) is an error, and the next
// server is asked.
func naptrLookup(r *net.Resolver, resolvConf string) func(ctx context.Context, name string) ([]sipfast.NAPTR, error) {
	return func(ctx context.Context, name string) ([]sipfast.NAPTR, error) {
		if name == "" || name == "." {
			return nil, nil // no domain: no records (the root is not asked)
		}
		servers := []string{""} // r.Dial ignores the address
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) { return r.Dial(ctx, network, addr) }
		if r == nil || r.Dial == nil {
			conf, err := dns.ClientConfigFromFile(resolvConf)
			if err != nil {
				return nil, fmt.Errorf("NAPTR %s: %w", name, err)
			}
			servers = servers[:0]
			for _, s := range conf.Servers {
				servers = append(servers, net.JoinHostPort(s, conf.Port))
			}
			var d net.Dialer
			dial = d.DialContext
		}
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeNAPTR)
		// EDNS0 (RFC 6891) with DNS Flag Day 2020's 1,232 bytes, as Go's resolver asks: an answer
		// of a few NAPTR records passes 512 bytes, and a server may cut it without the TC bit.
		q.SetEdns0(1232, false)
		last := errNoServer
		for _, server := range servers {
			recs, err := exchangeNAPTR(ctx, dial, server, q)
			if err == nil {
				return recs, nil
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
		return nil, fmt.Errorf("NAPTR %s: %w", name, last)
	}
}

// exchangeNAPTR asks server for q's NAPTR records, over UDP, then over TCP when truncated.
func exchangeNAPTR(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	server string, q *dns.Msg) ([]sipfast.NAPTR, error) {
	var resp *dns.Msg
	for _, network := range [...]string{"udp", "tcp"} {
		ctx, cancel := context.WithTimeout(ctx, naptrTimeout)
		conn, err := dial(ctx, network, server)
		if err != nil {
			cancel()
			return nil, err
		}
		c := &dns.Client{Net: network, Timeout: naptrTimeout}
		resp, _, err = c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
		conn.Close()
		cancel()
		if err != nil {
			return nil, err
		}
		if !resp.Truncated {
			break
		}
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("%s", dns.RcodeToString[resp.Rcode])
	}
	// The records of the name asked, or of the name a CNAME in the answer leads it to (RFC 1034
	// §3.6.2: a recursive server answers with the chain and the records at its end).
	owner := q.Question[0].Name
	for range len(resp.Answer) {
		moved := false
		for _, rr := range resp.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
				owner, moved = c.Target, true
				break
			}
		}
		if !moved {
			break
		}
	}
	var out []sipfast.NAPTR
	for _, rr := range resp.Answer {
		if n, ok := rr.(*dns.NAPTR); ok && strings.EqualFold(n.Hdr.Name, owner) {
			out = append(out, sipfast.NAPTR{Order: n.Order, Preference: n.Preference, Flags: n.Flags, Service: n.Service, Replacement: n.Replacement})
		}
	}
	return out, nil
}
