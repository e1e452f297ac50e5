package signal

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/netio/dnstest"
)

// TestTCPFailoverOpensConnection: an S-CSCF pool over TCP (RFC 3263 §4.2: _sip._tcp records alone)
// whose calls all went to the first target, which then goes silent with its connection up. The
// next plain call takes the fast path over that connection; with not even a 100 Trying by 7·T1 the
// target is marked down and the INVITE goes on, with a new branch (§4.3), to the second target, to
// which Herald has no connection yet: the fast path opens one, and the call completes there
// instead of getting a 408 at Timer B. Real sockets throughout.
func TestTCPFailoverOpensConnection(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		return ln
	}
	first, live := listen(), listen()
	d := dnstest.New(t)
	d.SetAddr("first.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetAddr("live.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetSRV("_sip._tcp.scscf.herald.test",
		net.SRV{Target: "first.herald.test", Port: uint16(first.Addr().(*net.TCPAddr).Port), Priority: 1},
		net.SRV{Target: "live.herald.test", Port: uint16(live.Addr().(*net.TCPAddr).Port), Priority: 2})
	r := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver = d.Resolver() })
	accept := func(ln net.Listener, what string) *tcpPeer {
		t.Helper()
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(fpWait))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("%s: no connection from Herald: %v", what, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &tcpPeer{conn: c, br: bufio.NewReader(c)}
	}
	caller := dialTCP(t, r.addr)
	newCall := func(n int) *tcpCall {
		return &tcpCall{caller: caller, callID: fmt.Sprintf("tcpfo%d-%016x@127.0.0.1", n, rand.Uint64()), tag: fmt.Sprintf("f%d", n)}
	}
	final := func(what string) fpMsg { // the caller's next final response (a 100 Trying may come first)
		t.Helper()
		m := caller.read(t, what)
		for strings.HasPrefix(m.start, "SIP/2.0 1") {
			m = caller.read(t, what)
		}
		return m
	}

	// Call 1 opens the connection to the first target (the general path: none was open) and is
	// answered there: 486, so only that connection exists.
	c1 := newCall(1)
	caller.write(t, c1.invite())
	s1 := accept(first, "call 1")
	inv1 := s1.read(t, "call 1: INVITE")
	s1.write(t, fpReply(t, inv1, 486, "Busy Here", "b1", false, "", ""))
	busy := final("call 1: 486")
	if busy.start != "SIP/2.0 486 Busy Here" {
		t.Fatalf("call 1: caller got %q", busy.start)
	}
	caller.write(t, []byte(fmt.Sprintf("ACK %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", dave, c1.via(c1.branch), erin, c1.tag, busy.one(t, "486", "To"), c1.callID)))

	// Call 2: the fast path, over the open connection, to the first target, which says nothing.
	c2 := newCall(2)
	start := time.Now()
	caller.write(t, c2.invite())
	var toFirst fpMsg
	for {
		m := s1.read(t, "call 2: INVITE at the first target")
		if strings.HasPrefix(m.start, "INVITE ") { // call 1's hop-by-hop ACK may come first
			toFirst = m
			break
		}
	}
	branch := func(m fpMsg) string {
		_, b, _ := strings.Cut(m.all("Via")[0], ";branch=")
		b, _, _ = strings.Cut(b, ";")
		return b
	}
	if !strings.HasPrefix(branch(toFirst), sipfast.BranchPrefix) {
		t.Fatalf("call 2 went to the first target with Via %q, want the fast path's", toFirst.all("Via")[0])
	}
	s2 := accept(live, "call 2 sent on to the second target")
	toLive := s2.read(t, "call 2: INVITE at the second target")
	if took := time.Since(start); took < 7*testT1 || took > 64*testT1 {
		t.Fatalf("call 2 sent on after %v, want 7·T1 (%v) and before Timer B", took, 7*testT1)
	}
	if branch(toLive) == branch(toFirst) || !strings.HasPrefix(branch(toLive), sipfast.BranchPrefix) ||
		toLive.one(t, "INVITE", "Call-ID") != c2.callID {
		t.Fatalf("call 2 sent on with branch %s (first %s), Call-ID %s: want a new branch of the fast path's", branch(toLive), branch(toFirst), toLive.one(t, "INVITE", "Call-ID"))
	}
	contact := "<sip:dave@" + live.Addr().String() + ";transport=tcp>"
	s2.write(t, fpReply(t, toLive, 200, "OK", "l2", false, contact, ""))
	ok := final("call 2: 200")
	if ok.start != "SIP/2.0 200 OK" {
		t.Fatalf("call 2: caller got %q", ok.start)
	}
	caller.write(t, c2.inDialog("ACK", 1, ok, t))
	caller.write(t, c2.inDialog("BYE", 2, ok, t))
	if a := s2.read(t, "call 2: ACK"); !strings.HasPrefix(a.start, "ACK ") {
		t.Fatalf("call 2: second target got %q, want the ACK", a.start)
	}
	bye := s2.read(t, "call 2: BYE")
	s2.write(t, fpReply(t, bye, 200, "OK", "", false, "", ""))
	if m := caller.read(t, "call 2: 200 to BYE"); m.start != "SIP/2.0 200 OK" {
		t.Fatalf("call 2: caller got %q to its BYE", m.start)
	}
	f := &r.sig.Stats.Fast
	if f.DNSDown.Load() != 1 || f.DNSRetargets.Load() != 1 || f.Reconnects.Load() != 1 || f.SendErrors.Load() != 0 {
		t.Fatalf("marked down %d, sent on %d, connections opened %d, send errors %d; want 1, 1, 1, 0",
			f.DNSDown.Load(), f.DNSRetargets.Load(), f.Reconnects.Load(), f.SendErrors.Load())
	}
}
