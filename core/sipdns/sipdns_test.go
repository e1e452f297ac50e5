package sipdns

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/netio/dnstest"
)

// Names over a real resolver asking a DNS server on loopback: SRV for a domain without a port
// (RFC 3263 §4.2), A/AAAA at the default port for one without SRV records, and the lookup
// override (no DNS at all) answering A/AAAA alone.
func TestNames(t *testing.T) {
	d, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetAddr("plain.herald.test", netip.MustParseAddr("127.0.0.2"))
	d.SetSRV("_sip._tcp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5071, Priority: 1, Weight: 1})
	n := Names(d.Resolver(), nil, &sipfast.Stats{}, nil)
	defer n.Close()
	ctx := context.Background()
	for _, tc := range []struct{ tp, host, want string }{
		{"tcp", "scscf.herald.test", "127.0.0.1:5071"},
		{"udp", "plain.herald.test", "127.0.0.2:5060"},
	} {
		if ap, err := n.Resolve(ctx, tc.tp, tc.host, 0); err != nil || ap.String() != tc.want {
			t.Errorf("%s %s: %v %v, want %s", tc.tp, tc.host, ap, err, tc.want)
		}
	}
	fixed := Names(nil, nil, &sipfast.Stats{}, func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil
	})
	defer fixed.Close()
	if ap, err := fixed.Resolve(ctx, "udp", "scscf.herald.test", 0); err != nil || ap.String() != "192.0.2.9:5060" {
		t.Errorf("with the lookup override: %v %v", ap, err)
	}
}
