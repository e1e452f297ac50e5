// Package sipdns gives Herald's one cache of name answers (sipfast.Names: RFC 3263 §4.1 NAPTR, §4.2
// SRV and A/AAAA, cached for both SIP paths) its lookups: Go's resolver, or a DNS server of the operator's
// (sip.dns_server). It is apart from core/sipfast, which does no I/O of its own.
package sipdns

import (
	"context"
	"net"
	"net/netip"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/wheel"
)

// Names is Herald's one cache of name answers (sipfast.Names, RFC 3263) over r (nil: Go's default
// resolver, which reads /etc/hosts, then the servers of /etc/resolv.conf), its answers aging on
// clock and counted in st; its NAPTR lookups go to r's Dial, else to /etc/resolv.conf's servers.
// lookup, when set, replaces r's A/AAAA lookups and r has no SRV or NAPTR records (the whole-server fuzz harness: no DNS off the machine).
func Names(r *net.Resolver, clock wheel.Clock, st *sipfast.Stats, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *sipfast.Names {
	if lookup != nil {
		return sipfast.NewNames(lookup, nil, clock, st)
	}
	naptr := naptrLookup(r, "/etc/resolv.conf")
	if r == nil {
		r = net.DefaultResolver
	}
	return sipfast.NewNames(func(ctx context.Context, host string) ([]netip.Addr, error) { return r.LookupNetIP(ctx, "ip", host) },
		func(ctx context.Context, service, proto, name string) ([]sipfast.SRV, error) {
			_, recs, err := r.LookupSRV(ctx, service, proto, name) // the well-formed records, in RFC 2782's order
			out := make([]sipfast.SRV, len(recs))
			for i, rec := range recs {
				out[i] = sipfast.SRV{Target: rec.Target, Port: rec.Port, Priority: rec.Priority, Weight: rec.Weight}
			}
			return out, err
		}, clock, st).WithNAPTR(naptr)
}
