package signal

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/netio/dnstest"
)

// TestNextHopNAPTR proves RFC 3263 §4.1 for a next hop named by a domain alone, as an IMS core
// publishes a TCP-only S-CSCF: NAPTR records prefer SIP+D2T, whose replacement's SRV records name
// the callee; the domain has no _sip._udp records, and its A record points where nothing listens.
// Every call reaches the callee over TCP whatever the caller used: plain calls from a UDP caller
// (the general path, since the fast path forwards over the transport a request came over), a call
// with both cards, one with the callee card only; plain calls from a TCP caller take the fast path
// once a connection to the S-CSCF is open. DNS is asked once per name, and never for _sip._udp.
func TestNextHopNAPTR(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	d := dnstest.New(t)
	ce := netip.MustParseAddrPort(callee.Addr())
	d.SetAddr("scscf1.herald.test", ce.Addr())
	d.SetAddr("scscf.herald.test", netip.MustParseAddr("127.0.0.254"))
	d.SetNAPTR("scscf.herald.test",
		dnstest.NAPTR{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.pool.herald.test."},
		dnstest.NAPTR{Order: 10, Preference: 20, Flags: "s", Service: "SIPS+D2T", Replacement: "_sips._tcp.scscf.herald.test."})
	d.SetSRV("_sip._tcp.pool.herald.test", net.SRV{Target: "scscf1.herald.test", Port: ce.Port(), Priority: 1, Weight: 1})
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver = d.Resolver() })

	overTCP := func(what, callID string) {
		t.Helper()
		if tp := calleeSide(t, callee, callID).Invite.Transport(); !strings.EqualFold(tp, "tcp") {
			t.Fatalf("%s: INVITE reached the callee over %s, want TCP (NAPTR SIP+D2T)", what, tp)
		}
	}
	udp := newCaller(t, uesim.CallerOptions{})
	for range 2 {
		overTCP("plain call from a UDP caller", h.mustCall(t, udp, erin, dave).CallID)
	}
	res := h.mustCall(t, udp, alice, bob)
	overTCP("both cards", res.CallID)
	if len(res.Pages[uesim.CalleeCard]) != len(pages["bob-callee.html"].Body) || !calleeSide(t, callee, res.CallID).EarlyOffered {
		t.Fatalf("both cards: callee card %d bytes (%v), caller card offered %t", len(res.Pages[uesim.CalleeCard]), res.PageErrors,
			calleeSide(t, callee, res.CallID).EarlyOffered)
	}
	res = h.mustCall(t, udp, dave, carol)
	overTCP("callee card only", res.CallID)
	if len(res.Pages[uesim.CalleeCard]) != len(pages["carol-callee.html"].Body) {
		t.Fatalf("callee card only: page %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	if n := h.sig.Stats.Fast.Calls.Load(); n != 0 {
		t.Fatalf("%d calls from the UDP caller on the fast path, want 0 (it forwards over the transport a request came over)", n)
	}

	tcp := newCaller(t, uesim.CallerOptions{Transport: "tcp"})
	for range 3 {
		res := h.mustCall(t, tcp, erin, dave)
		overTCP("plain call from a TCP caller", res.CallID)
		if v := calleeSide(t, callee, res.CallID).Invite.Via(); !strings.Contains(v.Value(), "branch="+sipfast.BranchPrefix) {
			t.Fatalf("plain call over TCP toward a connected S-CSCF: Via %v, want the fast path's branch", v)
		}
	}
	h.quiet(t)
	for _, q := range []struct {
		typ, name string
		want      int
	}{
		{"NAPTR", "scscf.herald.test", 1},
		{"SRV", "_sip._tcp.pool.herald.test", 1},
		{"SRV", "_sip._udp.scscf.herald.test", 0},
		{"SRV", "_sips._tcp.scscf.herald.test", 0}, // TLS is not chosen for a sip: URI
		{"A", "scscf.herald.test", 0},
	} {
		if n := d.Asked(q.typ, q.name); n != q.want {
			t.Errorf("DNS asked %s %s %d times, want %d", q.typ, q.name, n, q.want)
		}
	}
	if f := &h.sig.Stats.Fast; f.DNSNAPTR.Load() != 1 || f.Calls.Load() != 3 {
		t.Errorf("lookups through NAPTR %d, fast-path calls %d; want 1 and 3", f.DNSNAPTR.Load(), f.Calls.Load())
	}
}
