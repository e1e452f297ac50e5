package sipmsg

import (
	"context"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// chooser is a TransportChooser that names TCP for every domain and counts what it is asked.
type chooser struct{ asked []string }

func (c *chooser) Transport(_ context.Context, host string) string {
	c.asked = append(c.asked, host)
	return "TCP"
}

// The configured next hop as a Route (NextHopRoute) goes where TowardNextHop sends any Route: its
// address and port, its transport, DNS's transport (RFC 3263 §4.1) only for a domain naming neither
// transport nor port (pinned udp, tcp and tls are named; an address is not a domain).
func TestNextHopRoute(t *testing.T) {
	for _, tc := range []struct {
		hostport, transport string
		pinned              bool
		dest, tp            string
		asked               bool
	}{
		{"192.0.2.5:5070", "udp", false, "192.0.2.5:5070", "UDP", false},
		{"[2001:db8::5]:5070", "udp", false, "[2001:db8::5]:5070", "UDP", false},
		{"scscf.home1.net:0", "udp", false, "scscf.home1.net:0", "TCP", true},
		{"scscf.home1.net:0", "udp", true, "scscf.home1.net:0", "UDP", false},
		{"scscf.home1.net:5060", "udp", false, "scscf.home1.net:5060", "UDP", false},
		{"scscf.home1.net:0", "tcp", false, "scscf.home1.net:0", "TCP", false},
		{"scscf.home1.net:0", "tls", false, "scscf.home1.net:0", "TLS", false},
	} {
		c := &chooser{}
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "home1.net"})
		TowardNextHop(req, NextHopRoute(tc.hostport, tc.transport, tc.pinned), c)
		if req.Destination() != tc.dest || req.Transport() != tc.tp || (len(c.asked) > 0) != tc.asked {
			t.Errorf("%s %s pinned %t: %s over %s, DNS asked %q; want %s over %s, asked %t", tc.hostport, tc.transport, tc.pinned,
				req.Destination(), req.Transport(), c.asked, tc.dest, tc.tp, tc.asked)
		}
	}
}
