package sipfast

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/wheel"
)

// An INVITE the engine sends on at 7·T1 (RFC 3263 §4.3) goes to the next target of the answer it
// was sent by, never to another name's that holds the same address: a peer can make Herald resolve
// a name of its own (a Route of a stray request) whose SRV records list the S-CSCF's address and
// one of the peer's, and before, the answer looked up last owned the address for failover.
func TestEngineFailoverOwnName(t *testing.T) {
	d := deadLivePool("udp")
	d.set("peer.example", netip.MustParseAddr("127.0.0.1"))
	d.srvs["_sip._udp.evil.example"] = []SRV{{Target: "dead.home1.net.", Port: 5099}, {Target: "peer.example.", Port: 6666}}
	x := newHarness(t, func(c *Config) { c.Lookup, c.LookupSRV = d.lookup, d.lookupSRV })
	for _, name := range []string{"scscf.home1.net", "evil.example"} { // the peer's name last
		if tp := x.e.Names().Transport(context.Background(), name); tp != "UDP" {
			t.Fatalf("%s: transport %q", name, tp)
		}
	}
	if r, sent := x.in(x.caller, invite("z9hG4bKo1", "o1@x", "sip:dave@home1.net", "Route: <sip:scscf.home1.net;lr>\r\n")); r != ReasonForwarded || !slices.Contains(sent, "127.0.0.1:5099 INVITE") {
		t.Fatalf("forwarded: %v %q", r, sent)
	}
	x.at(testT1)
	x.at(3 * testT1) // Timer A: the third retransmission is due at 7·T1
	sent := x.at(7 * testT1)
	if slices.Contains(sent, "127.0.0.1:6666 INVITE") || !slices.Contains(sent, "callee INVITE") || x.st.DNSRetargets.Load() != 1 {
		t.Fatalf("at 7·T1: %q; want the INVITE sent on to scscf.home1.net's next target, not the other name's", sent)
	}
}

// On an engine whose sockets are IPv4, an INVITE is sent on to the next target it can send to: a
// target of the other family is passed over (before, retarget gave up on it although an IPv4 target
// followed).
func TestEngineFailoverFamily(t *testing.T) {
	d := newSRVDNS()
	d.set("v.home1.net", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
	d.set("w.home1.net", netip.MustParseAddr("127.0.0.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "v.home1.net.", Port: 5099}, {Target: "w.home1.net.", Port: 5070}}
	x := newHarness(t, func(c *Config) { c.Lookup, c.LookupSRV = d.lookup, d.lookupSRV })
	if tp := x.e.Names().Transport(context.Background(), "scscf.home1.net"); tp != "UDP" {
		t.Fatalf("transport %q", tp)
	}
	if r, sent := x.in(x.caller, invite("z9hG4bKv1", "v1@x", "sip:dave@home1.net", "Route: <sip:scscf.home1.net;lr>\r\n")); r != ReasonForwarded || !slices.Contains(sent, "127.0.0.1:5099 INVITE") {
		t.Fatalf("forwarded: %v %q", r, sent)
	}
	x.at(testT1)
	x.at(3 * testT1)
	if sent := x.at(7 * testT1); !slices.Contains(sent, "callee INVITE") || x.st.DNSRetargets.Load() != 1 {
		t.Fatalf("at 7·T1: %q (%d sent on); want the IPv6 target passed over for the next IPv4 one", sent, x.st.DNSRetargets.Load())
	}
}

// What a domain's records say, read as RFC 2782, RFC 3403 and RFC 3263 mean them:
//   - records of other services cannot hide the SIP ones behind the bound on records followed;
//   - a target "." or a port 0 is no server; SRV records of which none gives a server leave the
//     domain without SIP: no A/AAAA fallback at 5060, which is for a domain without SRV records;
//   - SRV targets and NAPTR replacements are asked as the absolute names they are (the trailing
//     dot kept), so a resolver's search list is not tried first.
func TestHostCacheRecordsRead(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.set("nosip.home1.net", netip.MustParseAddr("192.0.2.9"))
	d.set("zero.home1.net", netip.MustParseAddr("192.0.2.9"))
	var other []NAPTR
	for i := range 20 {
		other = append(other, NAPTR{Order: uint16(i), Flags: "u", Service: "E2U+sip", Replacement: fmt.Sprintf("x%d.home1.net.", i)})
	}
	d.naptrs["hidden.home1.net"] = append(other, NAPTR{Order: 50, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.pool.home1.net."})
	d.srvs["_sip._tcp.pool.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5081}}
	d.srvs["_sip._udp.nosip.home1.net"] = []SRV{{Target: ".", Port: 0}}
	d.srvs["_sip._tcp.nosip.home1.net"] = []SRV{{Target: ".", Port: 0}}
	d.srvs["_sip._udp.zero.home1.net"] = []SRV{{Target: "zero.home1.net.", Port: 0}, {Target: ".", Port: 5060}, {Target: "scscf1.home1.net.", Port: 5070}}
	var asked []string
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		asked = append(asked, host)
		return d.lookup(ctx, host)
	}
	n := NewNames(lookup, d.lookupSRV, wheel.NewMono(), &Stats{}).WithNAPTR(d.lookupNAPTR)
	defer n.Close()
	ctx := context.Background()
	if tp := n.Transport(ctx, "hidden.home1.net"); tp != "TCP" {
		t.Fatalf("20 ENUM records before the SIP+D2T one: transport %q, want TCP", tp)
	}
	if ap, err := n.Resolve(ctx, "TCP", "hidden.home1.net", 0); err != nil || ap.String() != "192.0.2.1:5081" {
		t.Fatalf("hidden.home1.net over TCP: %v %v", ap, err)
	}
	if tp := n.Transport(ctx, "nosip.home1.net"); tp != "" {
		t.Fatalf(`_sip._udp and _sip._tcp both ".": transport %q, want none`, tp)
	}
	if ap, err := n.Resolve(ctx, "UDP", "nosip.home1.net", 0); err == nil {
		t.Fatalf(`_sip._udp ".": resolved to %v, want no server`, ap)
	}
	if ap, err := n.Resolve(ctx, "UDP", "zero.home1.net", 0); err != nil || ap.String() != "192.0.2.1:5070" {
		t.Fatalf(`port 0 and "." among the records: %v %v, want the one real server`, ap, err)
	}
	if slices.Contains(asked, "nosip.home1.net") || slices.Contains(asked, "zero.home1.net.") {
		t.Fatalf("asked %q: no A/AAAA for a domain whose SRV records say no SIP, none for a port-0 target", asked)
	}
	for _, h := range asked {
		if !strings.HasSuffix(h, ".") {
			t.Fatalf("asked %q: %q is relative", asked, h)
		}
	}
}

// A request from a peer Herald does not trust marks nothing down when it goes unanswered (Timer F,
// RFC 3263 §4.3): a peer's requests toward names of its own that lead nowhere would fill the list
// of targets down (bounded), and a real S-CSCF failure would then go unmarked. A trusted peer's
// request marks its target as before.
func TestUntrustedTimeoutMarksNothing(t *testing.T) {
	d := deadLivePool("udp")
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted %t", trusted), func(t *testing.T) {
			x := newHarness(t, func(c *Config) { c.Lookup, c.LookupSRV = d.lookup, d.lookupSRV })
			if tp := x.e.Names().Transport(context.Background(), "scscf.home1.net"); tp != "UDP" {
				t.Fatalf("transport %q", tp)
			}
			if !trusted {
				x.h.untrusted = x.caller.Addr()
			}
			// Along Herald's Record-Route (an untrusted peer's in-dialog request goes no other way).
			bye := request("BYE", "z9hG4bKu1", "u1@x", "<sip:dave@home1.net>;tag=d", 2, "Route: <sip:127.0.0.1:5060;lr>, <sip:scscf.home1.net;lr>\r\n")
			if r, sent := x.in(x.caller, bye); r != ReasonForwarded || !slices.Contains(sent, "127.0.0.1:5099 BYE") {
				t.Fatalf("BYE: %v %q, want forwarded to the first target", r, sent)
			}
			for at := testT1; at <= 64*testT1; at += testT1 {
				x.at(at)
			}
			if x.st.Timeouts.Load() != 1 || x.st.DNSDown.Load() != map[bool]uint64{true: 1}[trusted] {
				t.Fatalf("timeouts %d, marked down %d; want 1, %d", x.st.Timeouts.Load(), x.st.DNSDown.Load(), map[bool]uint64{true: 1}[trusted])
			}
		})
	}
}

// A SRV target whose address lookup never returns (its name's servers do not answer) costs the
// name dnsTargetTimeout, and the targets after it are still looked up: before, the first one took
// the whole lookup's time and the name failed.
func TestSRVLameTarget(t *testing.T) {
	d := newSRVDNS()
	d.set("good.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "lame.home1.net.", Port: 5060}, {Target: "good.home1.net.", Port: 5070}}
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "lame.home1.net." {
			<-ctx.Done()
		}
		if err := ctx.Err(); err != nil { // as a resolver does past its deadline
			return nil, err
		}
		return d.lookup(ctx, host)
	}
	n := NewNames(lookup, d.lookupSRV, wheel.NewMono(), &Stats{})
	defer n.Close()
	ap, err := n.Resolve(context.Background(), "UDP", "scscf.home1.net", 0)
	if err != nil || ap.String() != "192.0.2.1:5070" {
		t.Fatalf("%v %v, want the second target", ap, err)
	}
}

// RFC 2782 per request: targets of the lowest priority share the requests by weight (3:1 here;
// uniformly when every weight is 0), a target of a higher priority number gets none while one of
// the lowest is up, a record's second address is used only when its first is down, and with the
// lowest priority's targets all down the next priority's take over. Before, the order the resolver
// shuffled at lookup time held for the answer's 30 s: one S-CSCF of a pool got every call.
func TestSRVWeighted(t *testing.T) {
	d := newSRVDNS()
	d.set("a.home1.net", netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.11"))
	d.set("b.home1.net", netip.MustParseAddr("192.0.2.2"))
	d.set("c.home1.net", netip.MustParseAddr("192.0.2.3"))
	d.srvs["_sip._udp.w.home1.net"] = []SRV{{Target: "a.home1.net.", Port: 5060, Priority: 10, Weight: 3},
		{Target: "b.home1.net.", Port: 5060, Priority: 10, Weight: 1}, {Target: "c.home1.net.", Port: 5060, Priority: 20, Weight: 5}}
	d.srvs["_sip._udp.z.home1.net"] = []SRV{{Target: "a.home1.net.", Port: 5060, Priority: 10}, {Target: "b.home1.net.", Port: 5060, Priority: 10}}
	n := NewNames(d.lookup, d.lookupSRV, wheel.NewMono(), &Stats{})
	defer n.Close()
	count := func(host string) map[string]int {
		got := map[string]int{}
		for range 4000 {
			ap, err := n.Resolve(context.Background(), "UDP", host, 0)
			if err != nil {
				t.Fatal(err)
			}
			got[ap.Addr().String()]++
		}
		return got
	}
	got := count("w.home1.net")
	if got["192.0.2.3"] != 0 || got["192.0.2.11"] != 0 || got["192.0.2.1"] < 2800 || got["192.0.2.1"] > 3200 {
		t.Fatalf("weights 3:1 at priority 10: %v, want about 3,000 / 1,000 and none to the rest", got)
	}
	if got := count("z.home1.net"); got["192.0.2.1"] < 1800 || got["192.0.2.1"] > 2200 {
		t.Fatalf("weights 0: %v, want about even", got)
	}
	n.DownAt("UDP", "w.home1.net:0", netip.MustParseAddrPort("192.0.2.1:5060"))
	if got := count("w.home1.net"); got["192.0.2.11"] < 2800 || got["192.0.2.11"] > 3200 || got["192.0.2.1"] != 0 {
		t.Fatalf("a's first address down: %v, want its second address in its place", got)
	}
	n.DownAt("UDP", "w.home1.net:0", netip.MustParseAddrPort("192.0.2.11:5060"))
	n.DownAt("UDP", "w.home1.net:0", netip.MustParseAddrPort("192.0.2.2:5060"))
	if got := count("w.home1.net"); got["192.0.2.3"] != 4000 {
		t.Fatalf("priority 10 all down: %v, want priority 20's target", got)
	}
}

// A domain whose 16 NAPTR records each lead to 16 SRV targets that do not resolve costs at most
// dnsMaxLookups SRV and A/AAAA lookups, not some 300: one request toward a hostile domain does not
// flood the operator's resolver. The name fails, counted.
func TestLookupBudget(t *testing.T) {
	d := newSRVDNS()
	var recs []NAPTR
	for i := range 16 {
		recs = append(recs, NAPTR{Order: uint16(i), Flags: "s", Service: "SIP+D2U", Replacement: fmt.Sprintf("_sip._udp.p%d.evil.example.", i)})
		var srvs []SRV
		for j := range 16 {
			srvs = append(srvs, SRV{Target: fmt.Sprintf("t%d-%d.evil.example.", i, j), Port: 5060})
		}
		d.srvs[fmt.Sprintf("_sip._udp.p%d.evil.example", i)] = srvs
	}
	d.naptrs["evil.example"] = recs
	var lookups int
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		lookups++
		return d.lookup(ctx, host)
	}
	st := &Stats{}
	n := NewNames(lookup, d.lookupSRV, wheel.NewMono(), st).WithNAPTR(d.lookupNAPTR)
	defer n.Close()
	if tp := n.Transport(context.Background(), "evil.example"); tp != "" {
		t.Fatalf("transport %q, want none", tp)
	}
	if got := lookups + d.srvCalls; got > dnsMaxLookups {
		t.Fatalf("%d SRV and A/AAAA lookups, want at most %d", got, dnsMaxLookups)
	}
	if st.DNSFailures.Load() != 1 {
		t.Fatalf("failures %d, want 1", st.DNSFailures.Load())
	}
}
