package sipfast

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// FuzzNamesDNS: whatever a DNS server answers for a domain's NAPTR and SRV records (RFC 3263 §4.1,
// §4.2; RFC 3403, RFC 2782), the name cache neither panics nor asks without bound, and every
// destination it gives is an address the server gave, with a port of a record (or the default),
// of the transport asked for. The records are built from the input: orders, preferences, flags,
// services and replacements from pools of usual and odd values (a replacement of the domain itself,
// ".", empty, the wrong service), SRV targets among names with and without addresses, ".", the
// domain itself.
func FuzzNamesDNS(f *testing.F) {
	f.Add([]byte{2, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 2, 3, 0, 1, 1, 1, 0, 5})
	f.Add([]byte{5, 1, 1, 2, 3, 4, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 9, 9})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{16, 3, 2, 1, 0, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	flags := []string{"s", "S", "a", "", "u", "sa"}
	services := []string{"SIP+D2U", "SIP+D2T", "SIPS+D2T", "sip+d2t", "E2U+sip", "SIP+D2S", ""}
	names := []string{"_sip._udp.d.test.", "_sip._tcp.d.test.", "_sips._tcp.d.test.", "d.test.", ".", "",
		"_sip._udp.other.test.", "h1.test.", "_sip._udp.d.test"}
	targets := []string{"h1.test.", "h2.test.", "h3.test.", ".", "", "d.test.", "none.test.", "h1.test"}
	addrs := map[string][]netip.Addr{
		"h1.test": {netip.MustParseAddr("192.0.2.1")},
		"h2.test": {netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("192.0.2.2")},
		"h3.test": {netip.MustParseAddr("192.0.2.3")},
		"d.test":  {netip.MustParseAddr("192.0.2.4")},
	}
	srvNames := []string{"_sip._udp.d.test", "_sip._tcp.d.test", "_sips._tcp.d.test", "_sip._udp.other.test", "d.test"}
	f.Fuzz(func(t *testing.T, in []byte) {
		next := func() int {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return int(b)
		}
		d := newSRVDNS()
		for h, a := range addrs {
			d.set(h, a...)
		}
		ports := map[uint16]bool{5060: true, 5061: true}
		for range next() % 24 {
			d.naptrs["d.test"] = append(d.naptrs["d.test"], NAPTR{
				Order: uint16(next() % 4), Preference: uint16(next() % 4),
				Flags: flags[next()%len(flags)], Service: services[next()%len(services)], Replacement: names[next()%len(names)],
			})
		}
		for _, name := range srvNames {
			for range next() % 6 {
				p := uint16(next() % 3 * 1000)
				ports[p] = true
				d.srvs[name] = append(d.srvs[name], SRV{Target: targets[next()%len(targets)], Port: p})
			}
		}
		n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), &Stats{}).WithNAPTR(d.lookupNAPTR)
		defer n.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		switch n.Transport(ctx, "d.test") {
		case "", "UDP", "TCP":
		default:
			t.Fatal("a transport other than UDP and TCP")
		}
		valid := func(ap netip.AddrPort) bool {
			for _, a := range addrs {
				if slices.Contains(a, ap.Addr().Unmap()) {
					return ports[ap.Port()]
				}
			}
			return false
		}
		for _, tp := range []string{"UDP", "TCP", "TLS"} {
			for range 3 { // and again with the target marked down: the next one, if any
				ap, err := n.Resolve(ctx, tp, "d.test", 0)
				if err != nil {
					break
				}
				if !valid(ap) {
					t.Fatalf("%s: %v, an address or port the server never gave", tp, ap)
				}
				n.DownAt(tp, "d.test:0", ap)
			}
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		// Per fill: one NAPTR question, at most dnsMaxTarget replacements and one SRV name per
		// transport; a fill per kind asked (auto, UDP, TCP, TLS) and none again within the TTL.
		if q := len(d.asked); q > 4*(1+dnsMaxTarget+3) {
			t.Fatalf("%d NAPTR and SRV questions: %q", q, d.asked)
		}
	})
}
