package signal

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/netio/dnstest"
)

// srvDNS is a DNS server on loopback that names the callee as an S-CSCF is named in IMS: the
// domain scscf.herald.test has SRV records for UDP and TCP (RFC 3263 §4.2) pointing at
// scscf1.herald.test on the callee's port; the domain's own A record points where nothing listens,
// so a call that reached the callee did not go by A record and port 5060.
func srvDNS(t *testing.T, callee string) *dnstest.Server {
	t.Helper()
	d := dnstest.New(t)
	ap := netip.MustParseAddrPort(callee)
	d.SetAddr("scscf1.herald.test", ap.Addr())
	d.SetAddr("scscf.herald.test", netip.MustParseAddr("127.0.0.254"))
	for _, proto := range []string{"udp", "tcp"} {
		d.SetSRV("_sip._"+proto+".scscf.herald.test",
			net.SRV{Target: "gone.herald.test", Port: 9, Priority: 5}, // does not resolve: the next one is tried
			net.SRV{Target: "scscf1.herald.test", Port: ap.Port(), Priority: 10, Weight: 1})
	}
	return d
}

// TestNextHopSRV proves RFC 3263 §4.2 for a next hop named by a domain without a port, on both paths
// and with one lookup per name for all of them: Herald finds the callee's S-CSCF through SRV
// records (the target that does not resolve skipped), for UDP and, when RFC 3261 §18.1.1 moves the
// caller card's INVITE to TCP, for TCP. The first plain call waits on the general path for the
// lookup the fast path started; the next ones take the fast path. A call with both cards (general
// path, INVITE over TCP) and one with the callee card only (its INVITE on the engine) reach the same
// callee. DNS is asked once per name and transport, not per call or message.
func TestNextHopSRV(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	d := srvDNS(t, callee.Addr())
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver = d.Resolver() })
	caller := newCaller(t, uesim.CallerOptions{})

	for i := range 3 {
		res := h.mustCall(t, caller, erin, dave)
		if ce := calleeSide(t, callee, res.CallID); !ce.Acked || !ce.Bye {
			t.Fatalf("plain call %d: callee acked %t bye %t", i, ce.Acked, ce.Bye)
		}
	}
	if n := h.sig.Stats.Fast.Calls.Load(); n != 2 {
		t.Fatalf("%d plain calls on the fast path, want 2 (the first waits for the lookup on the general path)", n)
	}

	res := h.mustCall(t, caller, alice, bob) // both cards: the INVITE outgrows UDP
	ce := calleeSide(t, callee, res.CallID)
	if tp := strings.ToLower(ce.Invite.Transport()); tp != "tcp" || !ce.EarlyOffered {
		t.Fatalf("caller card INVITE over %s, early-session offered %t; want TCP with the card", tp, ce.EarlyOffered)
	}
	if len(res.Pages[uesim.CalleeCard]) != len(pages["bob-callee.html"].Body) {
		t.Fatalf("both cards: callee card at the caller %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	res = h.mustCall(t, caller, dave, carol) // callee card only: the INVITE goes on the engine
	if len(res.Pages[uesim.CalleeCard]) != len(pages["carol-callee.html"].Body) {
		t.Fatalf("callee card only: page %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	ce = calleeSide(t, callee, res.CallID)
	if v := ce.Invite.Via(); v == nil || !strings.Contains(v.Value(), "branch="+sipfast.BranchPrefix) {
		t.Fatalf("callee card only: forwarded INVITE's Via %v, want the engine's branch", v)
	}

	asked := d.Questions()
	for range 3 {
		h.mustCall(t, caller, erin, dave)
	}
	h.quiet(t)
	if n := d.Questions(); n != asked {
		t.Fatalf("DNS asked %d more questions for 3 more calls, want none (cached)", n-asked)
	}
	for _, q := range []struct {
		typ, name string
		want      int
	}{
		{"SRV", "_sip._udp.scscf.herald.test", 1},
		{"SRV", "_sip._tcp.scscf.herald.test", 1},
		{"A", "scscf1.herald.test", 2}, // once per transport's SRV answer
		{"A", "scscf.herald.test", 0},
	} {
		if n := d.Asked(q.typ, q.name); n != q.want {
			t.Errorf("DNS asked %s %s %d times, want %d", q.typ, q.name, n, q.want)
		}
	}
	f := &h.sig.Stats.Fast
	if f.DNSSRV.Load() != 2 || f.DNSFailures.Load() != 0 {
		t.Errorf("lookups through SRV %d, failed %d; want 2, 0", f.DNSSRV.Load(), f.DNSFailures.Load())
	}
	if n := h.sig.Stats.Fast.Calls.Load(); n != 5 {
		t.Errorf("%d plain calls on the fast path, want 5", n)
	}
	t.Logf("DNS questions for %d calls: %d; next hop found on port %s", 8, d.Questions(), strconv.Itoa(int(netip.MustParseAddrPort(callee.Addr()).Port())))
}

// TestRouteSRV proves RFC 3263 §4.2 for a Route naming a domain without a port, as an S-CSCF's ISC
// Route often does (3GPP TS 24.229 §5.4.3.3): the first INVITE takes the general path, whose
// lookup the fast path started, and reaches the SRV target; the second is forwarded by the fast
// path to the same place; the Route is forwarded untouched (loose routing, RFC 3261 §16.6 step 7).
func TestRouteSRV(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	d := srvDNS(t, callee.addr())
	r := startHerald(t, st, "127.0.0.1:9", func(o *Options) { o.Resolver = d.Resolver() }) // the next hop is not used
	for i := range 2 {
		c := newFPCall(caller, erin, dave)
		c.routes = []string{"<sip:scscf.herald.test;lr>"}
		caller.send(t, r.addr, c.invite())
		fwd := parseFP(t, "INVITE", callee.next(t, "INVITE toward the SRV target").data)
		if got := fwd.all("Route"); !slices.Equal(got, c.routes) {
			t.Fatalf("call %d: Route %q, want %q", i, got, c.routes)
		}
		if fast := strings.Contains(fwd.all("Via")[0], "branch="+sipfast.BranchPrefix); i == 1 && !fast {
			t.Fatalf("second INVITE not on the fast path: Via %q", fwd.all("Via"))
		}
		callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "fb", false, "", ""))
		m := parseFP(t, "486", caller.nextNot100(t, "486").data)
		caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, m.one(t, "486", "To"), c.routes))
		if a := parseFP(t, "ACK", callee.next(t, "ACK for the 486").data); !strings.HasPrefix(a.start, "ACK ") {
			t.Fatalf("call %d: callee got %q, want the ACK for its 486", i, a.start)
		}
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	fpStat(t, "Fast.DNSSRV", &r.sig.Stats.Fast.DNSSRV, 1)
	r.quiet(t)
}

// TestNextHopSRVFastPathOff proves that names resolve the same way with the fast path off
// (fast_path: false, to rule it out): through SRV, once per name, on the general path alone.
func TestNextHopSRVFastPathOff(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	d := srvDNS(t, callee.Addr())
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver, o.DisableFastPath = d.Resolver(), true })
	caller := newCaller(t, uesim.CallerOptions{})
	for range 3 {
		h.mustCall(t, caller, erin, dave)
	}
	h.mustCall(t, caller, dave, carol)
	h.quiet(t)
	if n := d.Asked("SRV", "_sip._udp.scscf.herald.test"); n != 1 || d.Asked("A", "scscf.herald.test") != 0 {
		t.Fatalf("SRV asked %d times, the domain's A record %d; want once, never", n, d.Asked("A", "scscf.herald.test"))
	}
	if n := h.sig.Stats.Fast.Calls.Load(); n != 0 {
		t.Fatalf("%d calls on the fast path with it off", n)
	}
}

// TestSRVFailover proves RFC 3263 §4.3 on both paths, through real sockets: a next hop found by
// SRV whose first target lets a plain INVITE go unanswered (a socket that reads and never answers)
// is marked down at the INVITE's third retransmission, and that INVITE goes on to the next target
// with a new branch, so the call completes there, 7·T1 late; the next calls go there at once; and a caller card's INVITE, moved to TCP by its size (RFC 3261 §18.1.1), refused by the
// first _sip._tcp target, goes at once to the next one, in the same call, and so does the next
// call's (the refused target marked down).
func TestSRVFailover(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	deaf, err := net.ListenPacket("udp", "127.0.0.1:0") // reads, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	refused, err := net.Listen("tcp", "127.0.0.1:0") // closed at once: connections are refused
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()
	d := dnstest.New(t)
	ce := netip.MustParseAddrPort(callee.Addr())
	d.SetAddr("dead.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetAddr("live.herald.test", ce.Addr())
	d.SetSRV("_sip._udp.scscf.herald.test",
		net.SRV{Target: "dead.herald.test", Port: netip.MustParseAddrPort(deaf.LocalAddr().String()).Port(), Priority: 1},
		net.SRV{Target: "live.herald.test", Port: ce.Port(), Priority: 2})
	d.SetSRV("_sip._tcp.scscf.herald.test",
		net.SRV{Target: "dead.herald.test", Port: netip.MustParseAddrPort(refused.Addr().String()).Port(), Priority: 1},
		net.SRV{Target: "live.herald.test", Port: ce.Port(), Priority: 2})
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver = d.Resolver() })
	for _, tp := range []string{"udp", "tcp"} {
		if _, err := h.sig.names.Resolve(context.Background(), tp, "scscf.herald.test", 0); err != nil {
			t.Fatal(err)
		}
	}
	caller := newCaller(t, uesim.CallerOptions{})

	if res, _ := h.call(t, caller, erin, dave); res.Final != 200 || !calleeSide(t, callee, res.CallID).Acked {
		t.Fatalf("first call: final %d, want 200 from the next target (the INVITE sent on at 7·T1)", res.Final)
	}
	if n := h.sig.Stats.Fast.DNSRetargets.Load(); n != 1 {
		t.Fatalf("%d INVITEs sent on to the next target, want 1", n)
	}
	for range 2 {
		h.mustCall(t, caller, erin, dave)
	}

	for i := range 2 { // the caller card's INVITE over TCP: refused by the first target, then the next
		res := h.mustCall(t, caller, alice, bob)
		if tp := calleeSide(t, callee, res.CallID).Invite.Transport(); !strings.EqualFold(tp, "tcp") {
			t.Fatalf("caller card call %d: INVITE arrived over %s, want TCP from the next target", i, tp)
		}
	}
	h.quiet(t)
	s := &h.sig.Stats
	if s.Fast.DNSDown.Load() != 2 || s.Fast.DNSFailovers.Load() != 1 || s.TCPRefusedUDP.Load() != 0 {
		t.Fatalf("marked down %d, sent at once to the next target %d, TCP refused then UDP %d; want 2, 1, 0",
			s.Fast.DNSDown.Load(), s.Fast.DNSFailovers.Load(), s.TCPRefusedUDP.Load())
	}
}

// TestSRVFailoverSilentTCP proves RFC 3263 §4.3 on the general path for a next hop that accepts the
// connection and never answers (a host gone silent with its TCP connection up, where nothing is
// retransmitted and Timer B would take 64·T1): the caller card's INVITE, over TCP by its size,
// gets no response at all within 7·T1 (any INVITE server transaction sends 100 Trying within
// 200 ms, RFC 3261 §17.2.1), so its target is marked down and the INVITE goes as a new request to
// the name's next _sip._tcp target, where the call completes with both cards; the next call goes
// there at once.
func TestSRVFailoverSilentTCP(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, reads, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var invites atomic.Int32
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					if strings.HasPrefix(string(buf[:n]), "INVITE ") {
						invites.Add(1)
					}
				}
			}()
		}
	}()
	d := dnstest.New(t)
	poolDNS(d, netip.MustParseAddrPort(silent.Addr().String()), netip.MustParseAddrPort(callee.Addr()))
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver = d.Resolver() })
	caller := newCaller(t, uesim.CallerOptions{})

	if took := bothCardsOverTCP(t, h, caller, callee, pages); took < 7*testT1 {
		t.Fatalf("the first call took %v: it cannot have waited 7·T1 at the silent target", took)
	}
	h.quiet(t)
	f := &h.sig.Stats.Fast
	if invites.Load() != 1 || f.DNSDown.Load() != 1 || f.DNSFailovers.Load() != 1 {
		t.Fatalf("INVITEs at the silent target %d, marked down %d, sent on %d; want 1, 1, 1", invites.Load(), f.DNSDown.Load(), f.DNSFailovers.Load())
	}
}

// bothCardsOverTCP places two calls with both cards (alice to bob), checks that each reached the
// callee over TCP with the caller card offered and the callee card delivered, and returns how long
// the first took.
func bothCardsOverTCP(t *testing.T, h *rig, caller *uesim.Caller, callee *uesim.Callee, pages cards) (first time.Duration) {
	t.Helper()
	for i := range 2 {
		start := time.Now()
		res := h.mustCall(t, caller, alice, bob)
		if i == 0 {
			first = time.Since(start)
		}
		ce := calleeSide(t, callee, res.CallID)
		if !strings.EqualFold(ce.Invite.Transport(), "tcp") || !ce.EarlyOffered || len(res.Pages[uesim.CalleeCard]) != len(pages["bob-callee.html"].Body) {
			t.Fatalf("call %d: INVITE over %s, caller card offered %t, callee card %d bytes (%v)", i, ce.Invite.Transport(), ce.EarlyOffered,
				len(res.Pages[uesim.CalleeCard]), res.PageErrors)
		}
	}
	return first
}

// poolDNS names an S-CSCF pool on d as scscf.herald.test: _sip._tcp names first (priority 1), then
// live (priority 2), where the callee listens; _sip._udp names live alone.
func poolDNS(d *dnstest.Server, first, live netip.AddrPort) {
	d.SetAddr("first.herald.test", first.Addr())
	d.SetAddr("live.herald.test", live.Addr())
	d.SetSRV("_sip._udp.scscf.herald.test", net.SRV{Target: "live.herald.test", Port: live.Port(), Priority: 1})
	d.SetSRV("_sip._tcp.scscf.herald.test",
		net.SRV{Target: "first.herald.test", Port: first.Port(), Priority: 1},
		net.SRV{Target: "live.herald.test", Port: live.Port(), Priority: 2})
}
