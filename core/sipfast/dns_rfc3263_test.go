package sipfast

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/wheel"
)

// RFC 3263 §4.1, as a table: for a sip: URI naming a domain and neither transport nor port, the
// transport and targets come from the domain's NAPTR records (SIP+D2U, SIP+D2T; lowest order, then
// preference; each by the SRV records of its replacement, the next record when those give no
// target), else from _sip._udp SRV, then _sip._tcp, else UDP to A/AAAA at 5060. Records Herald does
// not take (TLS for a sip: URI, a flag other than "s", another service) are passed over. Each
// lookup is counted, those NAPTR records led to apart.
func TestHostCacheRFC3263Transport(t *testing.T) {
	d := newSRVDNS()
	a1, a2, a3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	d.set("scscf1.home1.net", a1)
	d.set("scscf2.home1.net", a2)
	d.set("plain.home1.net", a3)
	d.set("tcponly.home1.net", a3)
	d.set("naptr.home1.net", a3)

	// NAPTR prefers TCP (order 10) over UDP (order 20); the TCP record's replacement is not
	// _sip._tcp.<domain>, so only following the record finds scscf2.
	d.naptrs["naptr.home1.net"] = []NAPTR{
		{Order: 20, Preference: 10, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.naptr.home1.net."},
		{Order: 10, Preference: 20, Flags: "S", Service: "sip+d2t", Replacement: "tcp-pool.home1.net."},
		{Order: 10, Preference: 10, Flags: "s", Service: "SIPS+D2T", Replacement: "_sips._tcp.naptr.home1.net."}, // TLS: not for a sip: URI
		{Order: 5, Preference: 10, Flags: "a", Service: "SIP+D2U", Replacement: "naptr.home1.net."},              // not an SRV name
		{Order: 1, Preference: 10, Flags: "s", Service: "E2U+sip", Replacement: "x.home1.net."},                  // ENUM, not SIP
	}
	d.srvs["tcp-pool.home1.net"] = []SRV{{Target: "scscf2.home1.net.", Port: 5081}}
	d.srvs["_sip._udp.naptr.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.srvs["_sip._tcp.naptr.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5071}}
	d.srvs["_sips._tcp.naptr.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5062}}

	// The preferred record's SRV targets do not resolve: the next record's are used.
	d.naptrs["fallthrough.home1.net"] = []NAPTR{
		{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.fallthrough.home1.net."},
		{Order: 10, Preference: 20, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.fallthrough.home1.net."},
	}
	d.srvs["_sip._tcp.fallthrough.home1.net"] = []SRV{{Target: "gone.home1.net.", Port: 5071}}
	d.srvs["_sip._udp.fallthrough.home1.net"] = []SRV{{Target: "scscf2.home1.net.", Port: 5080}}

	// Only TLS and foreign records: as if there were none (SRV per transport).
	d.naptrs["tlsonly.home1.net"] = []NAPTR{{Order: 10, Preference: 10, Flags: "s", Service: "SIPS+D2T", Replacement: "_sips._tcp.tlsonly.home1.net."}}
	d.srvs["_sip._udp.tlsonly.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}

	d.srvs["_sip._tcp.tcponly.home1.net"] = []SRV{{Target: "scscf2.home1.net.", Port: 5091}}
	d.srvs["_sip._udp.both.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.srvs["_sip._tcp.both.home1.net"] = []SRV{{Target: "scscf2.home1.net.", Port: 5071}}

	for _, tc := range []struct {
		host  string
		want  string // "UDP 192.0.2.1:5070"; "": fails
		naptr bool
		asked []string
	}{
		{"naptr.home1.net", "TCP 192.0.2.2:5081", true, []string{"NAPTR naptr.home1.net", "SRV tcp-pool.home1.net"}},
		{"fallthrough.home1.net", "UDP 192.0.2.2:5080", true, []string{"NAPTR fallthrough.home1.net", "SRV _sip._tcp.fallthrough.home1.net", "SRV _sip._udp.fallthrough.home1.net"}},
		{"tlsonly.home1.net", "UDP 192.0.2.1:5070", false, []string{"NAPTR tlsonly.home1.net", "SRV _sip._udp.tlsonly.home1.net"}},
		{"tcponly.home1.net", "TCP 192.0.2.2:5091", false, []string{"NAPTR tcponly.home1.net", "SRV _sip._udp.tcponly.home1.net", "SRV _sip._tcp.tcponly.home1.net"}},
		{"both.home1.net", "UDP 192.0.2.1:5070", false, []string{"NAPTR both.home1.net", "SRV _sip._udp.both.home1.net"}},
		{"plain.home1.net", "UDP 192.0.2.3:5060", false, []string{"NAPTR plain.home1.net", "SRV _sip._udp.plain.home1.net", "SRV _sip._tcp.plain.home1.net"}},
		{"nowhere.home1.net", "", false, nil},
	} {
		t.Run(tc.host, func(t *testing.T) {
			st := &Stats{}
			n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), st).WithNAPTR(d.lookupNAPTR)
			d.mu.Lock()
			d.asked = nil
			d.mu.Unlock()
			tp := n.Transport(context.Background(), tc.host)
			got := ""
			if tp != "" {
				ap, err := n.Resolve(context.Background(), tp, tc.host, 0)
				if err != nil {
					t.Fatalf("Transport %s, then Resolve: %v", tp, err)
				}
				got = tp + " " + ap.String()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.want == "" {
				if st.DNSFailures.Load() != 1 {
					t.Fatalf("%d failures counted, want 1", st.DNSFailures.Load())
				}
				return
			}
			d.mu.Lock()
			asked := d.asked
			d.mu.Unlock()
			if tc.asked != nil && !slices.Equal(asked, tc.asked) {
				t.Fatalf("asked %q, want %q (Resolve over the chosen transport asks nothing more)", asked, tc.asked)
			}
			if got := st.DNSNAPTR.Load() == 1; got != tc.naptr || st.DNSLookups.Load() != 1 {
				t.Fatalf("NAPTR counted %v (want %v), %d lookups (want 1)", got, tc.naptr, st.DNSLookups.Load())
			}
		})
	}
}

// A request too big for UDP toward a name DNS sends over UDP goes over TCP by _sip._tcp (RFC 3261
// §18.1.1); one with an explicit transport or port is resolved by §4.2 as before, without NAPTR.
func TestNamesTransportNotChosen(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.naptrs["scscf.home1.net"] = []NAPTR{{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.scscf.home1.net."}}
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.srvs["_sip._tcp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5071}}
	n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), &Stats{}).WithNAPTR(d.lookupNAPTR)
	if tp := n.Transport(context.Background(), "scscf.home1.net"); tp != "UDP" {
		t.Fatalf("transport %q", tp)
	}
	if ap, err := n.Resolve(context.Background(), "TCP", "scscf.home1.net", 0); err != nil || ap.Port() != 5071 {
		t.Fatalf("over TCP after all: %v %v, want _sip._tcp's 5071", ap, err)
	}
	if tp := n.Transport(context.Background(), "192.0.2.9"); tp != "" {
		t.Fatalf("an IP literal: transport %q, want none", tp)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := strings.Count(strings.Join(d.asked, ","), "NAPTR"); c != 1 {
		t.Fatalf("NAPTR asked %d times, want once: %q", c, d.asked)
	}
}

// A hostile NAPTR answer of a thousand records, none of whose replacements has SRV records, costs
// 16 SRV questions (dnsMaxTarget), not a thousand, before §4.1's SRV per transport.
func TestNAPTRBounded(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	var recs []NAPTR
	for i := range 1000 {
		recs = append(recs, NAPTR{Order: uint16(i), Flags: "s", Service: "SIP+D2U", Replacement: fmt.Sprintf("_sip._udp.n%d.home1.net.", i)})
	}
	d.naptrs["big.home1.net"] = recs
	d.srvs["_sip._udp.big.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), &Stats{}).WithNAPTR(d.lookupNAPTR)
	if tp := n.Transport(context.Background(), "big.home1.net"); tp != "UDP" {
		t.Fatalf("transport %q", tp)
	}
	if d.srvCalls != dnsMaxTarget+1 {
		t.Fatalf("%d SRV questions, want %d", d.srvCalls, dnsMaxTarget+1)
	}
}

// The engine (RFC 3263 §4.1): a Route naming a domain and neither transport nor port is forwarded on
// the fast path when DNS names the transport the request came over (UDP here), and left to the
// general path, which sends over the one DNS names, when it names another (TCP); a name not cached
// yet goes the general way while its lookup runs.
func TestEngineTransportByDNS(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("127.0.0.1"))
	d.naptrs["udp.home1.net"] = []NAPTR{{Order: 10, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.udp.home1.net."}}
	d.srvs["_sip._udp.udp.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.naptrs["tcp.home1.net"] = []NAPTR{{Order: 10, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.tcp.home1.net."}}
	d.srvs["_sip._tcp.tcp.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	names := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), &Stats{}).WithNAPTR(d.lookupNAPTR)
	t.Cleanup(names.Close)
	x := newHarness(t, func(c *Config) { c.Names = names })

	if r, _ := x.in(x.caller, invite("z9hG4bKt0", "t0@x", "sip:dave@home1.net", "Route: <sip:udp.home1.net;lr>\r\n")); r != ReasonRoute {
		t.Fatalf("a name not cached yet: %v, want %v", r, ReasonRoute)
	}
	names.c.wg.Wait()
	if r, sent := x.in(x.caller, invite("z9hG4bKt1", "t1@x", "sip:dave@home1.net", "Route: <sip:udp.home1.net;lr>\r\n")); r != ReasonForwarded || !slices.Contains(sent, "callee INVITE") {
		t.Fatalf("DNS names UDP: %v %q, want forwarded to the SRV target", r, sent)
	}
	if tp := names.Transport(context.Background(), "tcp.home1.net"); tp != "TCP" {
		t.Fatalf("transport %q", tp)
	}
	d.set("tcp.home1.net", netip.MustParseAddr("127.0.0.1")) // its A record: where UDP would go at 5060
	for i := range 2 {
		if r, sent := x.in(x.caller, invite(fmt.Sprintf("z9hG4bKt2%d", i), fmt.Sprintf("t2%d@x", i), "sip:dave@home1.net", "Route: <sip:tcp.home1.net;lr>\r\n")); r != ReasonRoute || len(sent) != 0 {
			t.Fatalf("DNS names TCP for a request over UDP: %v %q, want the general path's", r, sent)
		}
		names.c.wg.Wait()
	}
	// An explicit transport is the URI's: NAPTR does not decide it (§4.2: no _sip._udp records, so
	// the A record at 5060).
	route := "Route: <sip:tcp.home1.net;transport=udp;lr>\r\n"
	x.in(x.caller, invite("z9hG4bKt3", "t3@x", "sip:dave@home1.net", route))
	names.c.wg.Wait()
	if r, sent := x.in(x.caller, invite("z9hG4bKt4", "t4@x", "sip:dave@home1.net", route)); r != ReasonForwarded || !slices.Contains(sent, "127.0.0.1:5060 INVITE") {
		t.Fatalf("transport=udp: %v %q, want forwarded to the A record at 5060", r, sent)
	}
}

// Over TCP (RFC 3263 §4.3, RFC 3261 §16.2): nothing is retransmitted, but an INVITE with not even a
// 100 Trying by 7·T1 marks its next hop down then, not at Timer B, and goes on with a new branch to
// the name's next target: on the connection Herald holds to it, else on one the stream opens
// (Stream.Open: in an SRV pool whose calls all went to the first target, none is open). The next
// call goes to the next target at once.
func TestTCPEngineFailover(t *testing.T) {
	d := deadLivePool("tcp")
	for _, connected := range []bool{true, false} {
		t.Run(fmt.Sprintf("connected %t", connected), func(t *testing.T) {
			x, s := newTCPHarness(t)
			names := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), x.st) // shared counters, as Herald's
			t.Cleanup(names.Close)
			x.e.cfg.Names, x.e.names, x.e.dns = names, names, names.c
			s.open[netip.MustParseAddrPort("127.0.0.1:5099")] = true
			s.open[x.callee] = connected
			if tp := names.Transport(context.Background(), "scscf.home1.net"); tp != "TCP" {
				t.Fatalf("transport %q, want TCP (only _sip._tcp records)", tp)
			}
			route := "Route: <sip:scscf.home1.net;lr>\r\n"
			if r, sent := x.in(x.caller, tcp(invite("z9hG4bKg1", "g1@x", "sip:dave@home1.net", route))); r != ReasonForwarded || !slices.Equal(sent, []string{"127.0.0.1:5099 INVITE"}) {
				t.Fatalf("first call: %v %q, want forwarded to the first target", r, sent)
			}
			first := x.last["127.0.0.1:5099 INVITE"]
			if sent := x.at(7*testT1 - 1); slices.Contains(sent, "127.0.0.1:5099 INVITE") || x.st.DNSDown.Load() != 0 {
				t.Fatalf("before 7·T1: %q, %d marked", sent, x.st.DNSDown.Load())
			}
			sent := x.at(7 * testT1)
			if x.st.DNSDown.Load() != 1 || slices.Contains(sent, "127.0.0.1:5099 INVITE") {
				t.Fatalf("at 7·T1: %q, %d marked down; want the first target marked, nothing sent again to it", sent, x.st.DNSDown.Load())
			}
			if !slices.Contains(sent, "callee INVITE") || x.st.DNSRetargets.Load() != 1 {
				t.Fatalf("at 7·T1: %q (%d sent on); want the INVITE sent on to the next target", sent, x.st.DNSRetargets.Load())
			}
			if want := map[bool]int{false: 1}[connected]; s.opened != want {
				t.Fatalf("%d connections opened, want %d", s.opened, want)
			}
			again := x.last["callee INVITE"]
			if branchOf(t, again) == branchOf(t, first) || !bytes.Equal(withoutVia(again), withoutVia(first)) {
				t.Fatalf("sent on with branch %s (first %s): want a new branch and nothing else changed", branchOf(t, again), branchOf(t, first))
			}
			if r, sent := x.in(x.callee, reply(again, "200 OK", "l1")); r != ReasonResponse || !slices.Contains(sent, "caller SIP/2.0 200 OK") {
				t.Fatalf("the next target's 200: %v %q", r, sent)
			}
			if r, sent := x.in(x.caller, tcp(invite("z9hG4bKg2", "g2@x", "sip:dave@home1.net", route))); r != ReasonForwarded || !slices.Contains(sent, "callee INVITE") {
				t.Fatalf("the next call: %v %q", r, sent)
			}
			if n := x.st.Retransmissions.Load(); n != 0 {
				t.Fatalf("%d retransmissions over TCP", n)
			}
		})
	}
}

// An INVITE the caller cancelled before any response came is not sent on to the next target at
// 7·T1: its target is still marked down, but the INVITE keeps being retransmitted where it was,
// for the CANCEL that waits for a provisional (RFC 3261 §9.1).
func TestEngineFailoverCancelled(t *testing.T) {
	d := deadLivePool("udp")
	x := newHarness(t, func(c *Config) { c.Lookup, c.LookupSRV = d.lookup, d.lookupSRV })
	if tp := x.e.Names().Transport(context.Background(), "scscf.home1.net"); tp != "UDP" {
		t.Fatalf("transport %q", tp)
	}
	route := "Route: <sip:scscf.home1.net;lr>\r\n"
	if r, sent := x.in(x.caller, invite("z9hG4bKc1", "c1@x", "sip:dave@home1.net", route)); r != ReasonForwarded || !slices.Contains(sent, "127.0.0.1:5099 INVITE") {
		t.Fatalf("forwarded: %v %q", r, sent)
	}
	x.at(testT1)
	if r, sent := x.in(x.caller, request("CANCEL", "z9hG4bKc1", "c1@x", "<sip:dave@home1.net>", 1, route)); r != ReasonAnswered || !slices.Contains(sent, "caller SIP/2.0 487 Request Terminated") {
		t.Fatalf("CANCEL: %v %q", r, sent)
	}
	x.at(3 * testT1)
	if sent := x.at(7 * testT1); slices.Contains(sent, "callee INVITE") || !slices.Contains(sent, "127.0.0.1:5099 INVITE") {
		t.Fatalf("at 7·T1: %q, want the INVITE retransmitted where it was, not sent on", sent)
	}
	if x.st.DNSDown.Load() != 1 || x.st.DNSRetargets.Load() != 0 {
		t.Fatalf("marked down %d, sent on %d; want 1, 0", x.st.DNSDown.Load(), x.st.DNSRetargets.Load())
	}
}

// A sips: URI naming a domain without a port (RFC 3263 §4.1, §4.2): its SIPS+D2T NAPTR records
// alone are read (SIP+D2T ones passed over), each by its replacement's SRV records; without one that
// gives a target, _sips._tcp.
func TestNamesTLSNAPTR(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.set("scscf2.home1.net", netip.MustParseAddr("192.0.2.2"))
	d.naptrs["naptr.home1.net"] = []NAPTR{
		{Order: 5, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.naptr.home1.net."}, // not for sips:
		{Order: 10, Flags: "s", Service: "SIPS+D2T", Replacement: "tls-pool.home1.net."},
	}
	d.srvs["_sip._tcp.naptr.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5060}}
	d.srvs["tls-pool.home1.net"] = []SRV{{Target: "scscf2.home1.net.", Port: 5063}}
	d.srvs["_sips._tcp.naptr.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5061}}
	d.srvs["_sips._tcp.plain.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5062}}
	st := &Stats{}
	n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), st).WithNAPTR(d.lookupNAPTR)
	defer n.Close()
	for host, want := range map[string]string{"naptr.home1.net": "192.0.2.2:5063", "plain.home1.net": "192.0.2.1:5062"} {
		if ap, err := n.Resolve(context.Background(), "tls", host, 0); err != nil || ap.String() != want {
			t.Errorf("%s over TLS: %v %v, want %s", host, ap, err, want)
		}
	}
	if st.DNSNAPTR.Load() != 1 {
		t.Errorf("%d lookups through NAPTR, want 1", st.DNSNAPTR.Load())
	}
}
