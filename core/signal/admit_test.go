package signal

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
)

// TestAdmissionTable proves the admission owner's rules on its own: a Call-ID is admitted once
// whichever path asks (loop), the limit counts both paths' calls, a release by another owner of
// the same Call-ID frees nothing, and a released Call-ID can be admitted again.
func TestAdmissionTable(t *testing.T) {
	a := newAdmission()
	fastTx, otherTx := &sipfast.Tx{}, &sipfast.Tx{}
	ctl := &callsip.Call{}
	steps := []struct {
		what string
		do   func() any
		want any
	}{
		{"fast call", func() any { return a.admit("A", admitted{fast: fastTx}, 2) }, admitOK},
		{"same Call-ID on the general path", func() any { return a.admit("A", admitted{ctl: ctl}, 2) }, admitLoop},
		{"same Call-ID on the fast path", func() any { return a.admit("A", admitted{fast: otherTx}, 2) }, admitLoop},
		{"general call", func() any { return a.admit("B", admitted{ctl: ctl}, 2) }, admitOK},
		{"third call: both paths count", func() any { return a.admit("C", admitted{fast: otherTx}, 2) }, admitFull},
		{"lookup names the path", func() any { return a.lookup("A").fast == fastTx && a.lookup("B").ctl == ctl }, true},
		{"release by another owner", func() any { a.release("A", admitted{fast: otherTx}); return a.len() }, 2},
		{"release by the owner", func() any { a.release("A", admitted{fast: fastTx}); return a.len() }, 1},
		{"A again, on the general path", func() any { return a.admit("A", admitted{ctl: ctl}, 2) }, admitOK},
		{"limit again", func() any { return a.admit("D", admitted{ctl: ctl}, 2) }, admitFull},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: %v, want %v", s.what, got, s.want)
		}
	}
}

// TestAdmissionAcrossPaths proves over real sockets that both paths consult the one owner: with
// max_calls 2, a fast-path call (plain) and a general-path call (the callee has a card) in progress,
// an INVITE with the fast call's Call-ID that the general path handles gets 482, one with the general
// call's Call-ID that the fast path would take gets 482, and a third new call gets 503 (the limit
// counts both paths); neither reaches the callee. Both calls then end and free their Call-IDs.
func TestAdmissionAcrossPaths(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.MaxCalls = 2 })
	contact := "<sip:x@" + callee.addr() + ">"

	fast := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, fast.invite())
	fastFwd := parseFP(t, "fast INVITE", callee.next(t, "fast INVITE").data)
	callee.send(t, r.addr, fpReply(t, fastFwd, 180, "Ringing", "fa", false, contact, ""))
	caller.nextNot100(t, "fast 180")

	gen := newFPCall(caller, erin, carol)
	caller.send(t, r.addr, gen.invite())
	genFwd := parseFP(t, "general INVITE", callee.next(t, "general INVITE").data)
	callee.send(t, r.addr, fpReply(t, genFwd, 180, "Ringing", "ge", false, contact, ""))
	caller.nextNot100(t, "general 180")
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	if e := r.sig.adm.lookup(fast.callID); e.fast == nil {
		t.Fatal("the fast call is not admitted on the fast path")
	}
	if e := r.sig.adm.lookup(gen.callID); e.ctl == nil {
		t.Fatal("the general call is not admitted on the general path")
	}

	loopToGeneral := *fast // the fast call's Call-ID, to a callee with a card: the general path
	loopToGeneral.branch, loopToGeneral.to, loopToGeneral.ruri = fpBranch(), carol, carol
	caller.send(t, r.addr, loopToGeneral.invite())
	if m := fpFinal(t, "482 (general path)", caller); m.start != "SIP/2.0 482 Loop Detected" {
		t.Fatalf("INVITE with the fast call's Call-ID: %s, want 482", m.start)
	}
	loopToFast := *gen // the general call's Call-ID, plain: the fast path would take it
	loopToFast.branch, loopToFast.to, loopToFast.ruri = fpBranch(), dave, dave
	caller.send(t, r.addr, loopToFast.invite())
	if m := fpFinal(t, "482 (fast path)", caller); m.start != "SIP/2.0 482 Loop Detected" {
		t.Fatalf("INVITE with the general call's Call-ID: %s, want 482", m.start)
	}
	third := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, third.invite())
	m := fpFinal(t, "503", caller)
	if m.start != "SIP/2.0 503 Service Unavailable" || !strings.Contains(strings.Join(m.lines, "\n"), "Retry-After:") {
		t.Fatalf("third call: %s, want 503 with Retry-After", m.start)
	}
	fpStat(t, "Rejected503", &r.sig.Stats.Rejected503, 1)
	// Only the two calls' INVITEs may come again: with T1 at 20 ms a loaded box can fire Timer A
	// before Herald has read the callee's 180 (RFC 3261 §17.1.1.2); that is a retransmission, not a
	// refused INVITE let through.
	callee.silent(t, "callee after the refused INVITEs", 0, fastFwd.raw, genFwd.raw)

	// Both calls end (486): their Call-IDs are free again.
	callee.send(t, r.addr, fpReply(t, fastFwd, 486, "Busy Here", "fa", false, "", ""))
	callee.send(t, r.addr, fpReply(t, genFwd, 486, "Busy Here", "ge", false, "", ""))
	r.quiet(t)
	if n := r.sig.adm.len(); n != 0 {
		t.Fatalf("%d calls admitted after both ended", n)
	}
}

// fpFinal is the next final response p receives, skipping provisionals (the general call's 183
// with its Call-Info may still be on its way).
func fpFinal(t *testing.T, what string, p *fpPeer) fpMsg {
	t.Helper()
	for {
		m := parseFP(t, what, p.next(t, what).data)
		if !strings.HasPrefix(m.start, "SIP/2.0 1") {
			return m
		}
	}
}

// TestIsSelfOneRule proves that the general path (sipgo's URI) and the fast path (the scanner's
// bytes) answer "is this URI Herald" by the one rule, isSelfAt: for every URI both can read, both
// give the expected answer (host case-insensitive, the transport's default port, any served port).
func TestIsSelfOneRule(t *testing.T) {
	for _, tc := range []struct {
		host string // Options.Host
		uri  string
		self bool
	}{
		{"Herald.Example", "sip:herald.example:5070;lr", true},
		{"Herald.Example", "sip:HERALD.example:5070;lr", true},
		{"Herald.Example", "sip:herald.example:5071;transport=tcp;lr", true},
		{"Herald.Example", "sip:herald.example;transport=tls;lr", true}, // default 5061, served for TLS
		{"Herald.Example", "sip:herald.example;lr", false},              // default 5060, not served
		{"Herald.Example", "sip:herald.example:5062;lr", false},
		{"Herald.Example", "sip:other.example:5070;lr", false},
		{"Herald.Example", "sip:herald.example.:5070;lr", false},
		{"Herald.Example", "sip:192.0.2.1:5070;lr", false}, // Herald is Options.Host, not its address
		// An IPv6 host (RFC 3261 §25.1 IPv6reference), configured with or without brackets, is
		// Herald in any spelling of its address (RFC 5954 §4), and only at a served port.
		{"2001:db8::1", "sip:[2001:db8::1]:5070;lr", true},
		{"[2001:db8::1]", "sip:[2001:db8::1]:5070;lr", true},
		{"2001:db8::1", "sip:[2001:DB8:0:0:0:0:0:1]:5070;lr", true},
		{"2001:db8::1", "sip:[2001:db8::1]:5071;transport=tcp;lr", true},
		{"2001:db8::1", "sip:[2001:db8::1];lr", false},
		{"2001:db8::1", "sip:[2001:db8::2]:5070;lr", false},
		{"2001:db8::1", "sip:[::ffff:192.0.2.1]:5070;lr", false},
		{"2001:db8::1", "sip:herald.example:5070;lr", false},
		{"192.0.2.1", "sip:[::ffff:192.0.2.1]:5070;lr", false}, // an IPv4 host is compared as text
		{"192.0.2.1", "sip:192.0.2.1:5070;lr", true},
	} {
		self, _ := sipmsg.NewSelf(tc.host, nil)
		s := &Server{opts: Options{Host: tc.host}, self: self}
		s.port.Store(5070)
		s.Listening(net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5070")))
		s.Listening(net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5071")))
		s.ListeningTLS(net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5061")))
		h := &fastHost{s}
		var u sip.Uri
		if err := sip.ParseUri(tc.uri, &u); err != nil {
			t.Fatal(err)
		}
		fast, ok := sipfast.IsSelf(h, []byte(tc.uri))
		if !ok {
			t.Fatalf("%s: the scanner cannot read it", tc.uri)
		}
		if got := s.isSelf(u); got != tc.self || fast != tc.self {
			t.Errorf("host %s, %s: general %t, fast %t, want %t", tc.host, tc.uri, got, fast, tc.self)
		}
	}
	// Options.Aliases: a name at any port, a name or an address at the port it gives.
	self, err := sipmsg.NewSelf("192.0.2.1", []string{"AS.ims.example", "lb.example:5099", "[2001:db8::7]:5060", "198.51.100.9"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{opts: Options{Host: "192.0.2.1"}, self: self}
	s.port.Store(5070)
	s.Listening(net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5070")))
	h := &fastHost{s}
	for uri, want := range map[string]bool{
		"sip:as.ims.example;lr": true, "sip:AS.IMS.EXAMPLE:6000;lr": true, "sip:as.ims.example.org;lr": false,
		"sip:lb.example:5099;lr": true, "sip:lb.example;lr": false, "sip:lb.example:5070;lr": false,
		"sip:[2001:db8:0::7]:5060;lr": true, "sip:[2001:db8::7];lr": true, "sip:[2001:db8::7]:5070;lr": false,
		"sip:198.51.100.9:1234;lr": true, "sip:192.0.2.1:5070;lr": true, "sip:192.0.2.1:5099;lr": false,
	} {
		var u sip.Uri
		if err := sip.ParseUri(uri, &u); err != nil {
			t.Fatal(err)
		}
		fast, ok := sipfast.IsSelf(h, []byte(uri))
		if !ok {
			t.Fatalf("%s: the scanner cannot read it", uri)
		}
		if got := s.isSelf(u); got != want || fast != want {
			t.Errorf("aliases, %s: general %t, fast %t, want %t", uri, got, fast, want)
		}
	}
}

// TestDialogOneStack proves that one dialog is handled by one stack from INVITE to BYE: a call with
// a card (the general path's: fast verdict general_call for its INVITE) is answered, its controller
// ends, and the caller's ACK and BYE, which reach Herald over UDP where the fast path reads every
// datagram first, still go through the general path (sipgo's branch toward the callee, no fast
// in-dialog transaction), because the general path's Record-Route says so (;herald=general). The
// call's controller forwards its INVITE on the engine's client transaction (Engine.ForwardInvite:
// the engine's branch, Fast.HostInvites), a transport the controller drives, as it would sipgo's.
// A plain call's BYE stays on the fast path (TestFastPathPlainCall).
func TestDialogOneStack(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, carol) // carol has a callee card: the general path
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	if v := fwd.all("Via")[0]; !strings.Contains(v, sipfast.BranchPrefix) {
		t.Fatalf("the call's INVITE left on sipgo's client transaction, not the engine's: %s", v)
	}
	contact := "<sip:carol@" + callee.addr() + ">"
	callee.send(t, r.addr, fpReply(t, fwd, 200, "OK", "ds", false, contact, fpSDPAnswer))
	ok := fpFinal(t, "200", caller)
	if ok.start != "SIP/2.0 200 OK" {
		t.Fatalf("caller got %s", ok.start)
	}
	// Counted once the INVITE was sent; the 200 the controller relayed came after.
	fpStat(t, "Fast.HostInvites", &r.sig.Stats.Fast.HostInvites, 1)
	rr := ok.all("Record-Route")
	if len(rr) != 1 || !strings.Contains(rr[0], ";herald=general") {
		t.Fatalf("200's Record-Route %q: want Herald's, naming the general path", rr)
	}
	to := ok.one(t, "200", "To")
	target := "sip:carol@" + callee.addr()
	caller.send(t, r.addr, c.request("ACK", target, fpBranch(), 1, to, rr))
	if ack := parseFP(t, "ACK", callee.next(t, "ACK").data); ack.start != "ACK "+target+" SIP/2.0" {
		t.Fatalf("callee got %s, want the ACK", ack.start)
	}
	fpUntil(t, "the call's controller ended", func() bool { return r.sig.adm.len() == 0 })

	caller.send(t, r.addr, c.request("BYE", target, fpBranch(), 2, to, rr))
	bye := parseFP(t, "BYE", callee.next(t, "BYE").data)
	if v := bye.all("Via")[0]; bye.start != "BYE "+target+" SIP/2.0" || strings.Contains(v, sipfast.BranchPrefix) {
		t.Fatalf("callee got %s with Via %s: want the BYE from the general path", bye.start, v)
	}
	callee.send(t, r.addr, fpReply(t, bye, 200, "OK", "", false, "", ""))
	if m := fpFinal(t, "200 (BYE)", caller); m.start != "SIP/2.0 200 OK" || m.one(t, "200", "CSeq") != "2 BYE" {
		t.Fatalf("caller got %s (%s), want the BYE's 200", m.start, m.one(t, "200", "CSeq"))
	}
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, 0)
	fpStat(t, "Fast.Verdicts[general_call]", &r.sig.Stats.Fast.Verdicts[sipfast.ReasonGeneralCall], 1)
	r.quiet(t)
}

// TestCancelOneBuilder proves that both paths build a CANCEL with the one builder (sipfast's appendHop): for
// the same forwarded INVITE, the fast path's CANCEL (from the bytes it sent) and the general path's
// (callsip.CancelRequest, from sipgo's request) are the same message, with RFC 3261 §9.1's content: the
// Request-URI, only the top Via (its branch), the Route set, From, To, Call-ID, the CSeq number with
// CANCEL, no body. The general path's reader also takes what the fast path's scanner does not (a
// tel: Request-URI).
func TestCancelOneBuilder(t *testing.T) {
	parse := func(b []byte) *sip.Request {
		t.Helper()
		m, err := sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers())).ParseSIP(b)
		if err != nil {
			t.Fatalf("%v:\n%s", err, b)
		}
		return m.(*sip.Request)
	}
	inv := parse([]byte("INVITE sip:dave@192.0.2.20:5070 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcaller;rport=5060;received=192.0.2.10\r\n" +
		"Record-Route: <sip:192.0.2.1:5060;lr>\r\nRoute: <sip:192.0.2.30;lr>\r\nRoute: <sip:192.0.2.31;lr>\r\nMax-Forwards: 69\r\n" +
		"From: \"Erin\" <sip:erin@home1.net>;tag=e1\r\nTo: <sip:dave@home1.net>\r\nCall-ID: c1@192.0.2.10\r\nCSeq: 7 INVITE\r\n" +
		"Contact: <sip:erin@192.0.2.10>\r\nSupported: 100rel\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"))
	general := callsip.CancelRequest(inv)
	fast := sipfast.Cancel([]byte(inv.String()))
	if general == nil || fast == nil {
		t.Fatalf("no CANCEL: general %v, fast %q", general, fast)
	}
	if g, f := general.String(), parse(fast).String(); g != f {
		t.Fatalf("the paths' CANCELs differ:\ngeneral\n%s\nfast\n%s", g, f)
	}
	want := "CANCEL sip:dave@192.0.2.20:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop\r\n" +
		"Route: <sip:192.0.2.30;lr>\r\nRoute: <sip:192.0.2.31;lr>\r\nFrom: \"Erin\" <sip:erin@home1.net>;tag=e1\r\n" +
		"To: <sip:dave@home1.net>\r\nCall-ID: c1@192.0.2.10\r\nCSeq: 7 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if string(fast) != want {
		t.Fatalf("CANCEL\n%s\nwant\n%s", fast, want)
	}
	tel := parse([]byte(strings.Replace(inv.String(), "INVITE sip:dave@192.0.2.20:5070 ", "INVITE tel:+12125553333 ", 1)))
	if c := callsip.CancelRequest(tel); c == nil || c.Recipient.String() != "tel:+12125553333" || c.CSeq().String() != "CSeq: 7 CANCEL" {
		t.Fatalf("CANCEL of a tel: INVITE: %v", c)
	}
}
