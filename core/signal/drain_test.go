package signal

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFastPathDrain: during a drain the fast path answers a new plain INVITE 503 with Retry-After
// itself (RFC 3261 §21.5.4), the call already ringing goes on, and AbortCalls ends it: 487 to the
// caller, CANCEL to the callee (RFC 3261 §16.10), answered and ACKed as any CANCEL.
func TestFastPathDrain(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "cal1", false, "<sip:dave@"+callee.addr()+">", ""))
	if got := parseFP(t, "180", caller.nextNot100(t, "relayed 180").data); !strings.HasPrefix(got.start, "SIP/2.0 180") {
		t.Fatalf("relayed %q", got.start)
	}

	r.sig.Drain()
	c2 := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c2.invite())
	res := parseFP(t, "answer to a new INVITE", caller.nextNot100(t, "answer to a new INVITE").data)
	if !strings.HasPrefix(res.start, "SIP/2.0 503") || res.one(t, "503", "Retry-After") != drainRetryAfter {
		t.Fatalf("new INVITE during the drain answered %q, Retry-After %q", res.start, res.all("Retry-After"))
	}
	fpStat(t, "Rejected503", &r.sig.Stats.Rejected503, 1)
	callee.silent(t, "callee after the refused INVITE", 3*testT1, fwd.raw)
	if n := r.sig.ActiveCalls(); n != 1 {
		t.Fatalf("ActiveCalls %d during the drain, want the ringing call", n)
	}

	r.sig.AbortCalls()
	res = parseFP(t, "final response", caller.nextNot100(t, "final response").data)
	if !strings.HasPrefix(res.start, "SIP/2.0 487") || res.one(t, "487", "Call-ID") != c.callID {
		t.Fatalf("ringing call ended with %q (%s)", res.start, res.all("Call-ID"))
	}
	fpCancelDown(t, "CANCEL downstream", r, callee, fwd, "cal1")
	fpStat(t, "DrainAborted", &r.sig.Stats.DrainAborted, 1)
	deadline := time.Now().Add(5 * time.Second)
	for r.sig.ActiveCalls() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ActiveCalls %d after AbortCalls", r.sig.ActiveCalls())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReloadTrustedAndNextHop: Reload changes who may start calls and where new calls go, at once,
// on the fast path.
func TestReloadTrustedAndNextHop(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, first, second := newFPPeer(t), newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, first.addr(), nil)

	r.sig.Reload(Reloadable{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, NextHop: second.addr()})
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	if res := parseFP(t, "answer", caller.nextNot100(t, "answer to an untrusted INVITE").data); !strings.HasPrefix(res.start, "SIP/2.0 403") {
		t.Fatalf("untrusted after the reload: %q", res.start)
	}

	r.sig.Reload(Reloadable{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, NextHop: second.addr()})
	c = newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", second.next(t, "INVITE at the new next hop").data)
	first.silent(t, "the old next hop", 0)
	second.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "b1", false, "", ""))
	if res := parseFP(t, "486", caller.nextNot100(t, "relayed 486").data); !strings.HasPrefix(res.start, "SIP/2.0 486") {
		t.Fatalf("relayed %q", res.start)
	}
}

// TestOptionsKeepaliveDrain: a keepalive OPTIONS addressed to Herald itself (as a dispatcher's
// probe is: Request-URI = the node, no To tag) is answered 200 with Allow while serving, and 503
// with Retry-After once draining (RFC 3261 §11.2, §21.5.4), so the dispatcher drops the node.
func TestOptionsKeepaliveDrain(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	probe, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	options := func(n int) []byte {
		return fmt.Appendf(nil, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKka%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:dispatcher@localhost>;tag=ds%d\r\nTo: <sip:%s>\r\nCall-ID: ka-%d@localhost\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n",
			r.addr, probe.addr(), n, n, r.addr, n, n)
	}
	probe.send(t, r.addr, options(1))
	res := parseFP(t, "answer to OPTIONS", probe.next(t, "answer to OPTIONS").data)
	if !strings.HasPrefix(res.start, "SIP/2.0 200") || !strings.Contains(res.one(t, "200", "Allow"), "INVITE") {
		t.Fatalf("OPTIONS while serving: %q", res.start)
	}
	r.sig.Drain()
	probe.send(t, r.addr, options(2))
	res = parseFP(t, "answer to OPTIONS", probe.next(t, "answer to OPTIONS while draining").data)
	if !strings.HasPrefix(res.start, "SIP/2.0 503") || res.one(t, "503", "Retry-After") != drainRetryAfter {
		t.Fatalf("OPTIONS while draining: %q, Retry-After %q", res.start, res.all("Retry-After"))
	}
	callee.silent(t, "callee: a keepalive is never forwarded", 0)
}
