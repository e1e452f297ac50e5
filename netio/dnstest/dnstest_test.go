package dnstest

import (
	"context"
	"net"
	"net/netip"
	"testing"
)

// Go's resolver, pointed at the server, gets its A, AAAA and SRV records, NXDOMAIN for others, and
// every question is counted.
func TestServer(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
	s.SetSRV("_sip._udp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5070, Priority: 10, Weight: 1})
	r := s.Resolver()
	ctx := context.Background()

	addrs, err := r.LookupNetIP(ctx, "ip", "scscf1.herald.test")
	if err != nil || len(addrs) != 2 {
		t.Fatalf("A/AAAA: %v %v", addrs, err)
	}
	_, srvs, err := r.LookupSRV(ctx, "sip", "udp", "scscf.herald.test")
	if err != nil || len(srvs) != 1 || srvs[0].Target != "scscf1.herald.test." || srvs[0].Port != 5070 {
		t.Fatalf("SRV: %v %v", srvs, err)
	}
	if _, err := r.LookupNetIP(ctx, "ip", "nowhere.herald.test"); err == nil {
		t.Fatal("an unknown name resolved")
	}
	if _, _, err := r.LookupSRV(ctx, "sip", "tcp", "scscf.herald.test"); err == nil {
		t.Fatal("SRV of a name without records resolved")
	}
	if s.Asked("SRV", "_sip._udp.scscf.herald.test") != 1 || s.Asked("A", "scscf1.herald.test") != 1 || s.Asked("AAAA", "scscf1.herald.test") != 1 {
		t.Fatalf("questions counted: %v", s.asks)
	}
}
