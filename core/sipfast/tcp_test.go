package sipfast

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// The engine over TCP (RFC 3261 §18): the same proxy as over UDP, without the retransmissions
// of an unreliable transport (§17.1.1.2 Timer A, §17.1.2.2 Timer E, §17.2.1 Timer G), with Herald's
// Via and Record-Route naming TCP, and forwarding only to a next hop Herald holds a connection to.

// recStream is a Stream over a recConn: what it sends is recorded there; it has a connection to
// the addresses in open, and Open opens one (counted in opened).
type recStream struct {
	rc     *recConn
	mu     sync.Mutex
	open   map[netip.AddrPort]bool
	opened int
}

func (s *recStream) Send(b []byte, to netip.AddrPort) error { return s.rc.Send(b, to) }

func (s *recStream) Open(b []byte, to netip.AddrPort) error {
	s.mu.Lock()
	if !s.open[to] {
		s.open[to] = true
		s.opened++
	}
	s.mu.Unlock()
	return s.rc.Send(b, to)
}
func (s *recStream) Connected(to netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[to]
}

// newTCPHarness is a harness whose peers speak TCP to the engine (which also has a UDP socket,
// as Herald does), with connections from the caller and to the callee, and the next hop over TCP.
func newTCPHarness(t *testing.T) (*harness, *recStream) {
	x := newHarness(t, func(c *Config) { c.TCPPort = func() int { return 5060 } })
	s := &recStream{rc: x.c, open: map[netip.AddrPort]bool{x.caller: true, x.callee: true}}
	x.e.AddConn(s, false)
	x.conn = s
	x.h.nextTransport = "tcp"
	return x, s
}

// tcp turns a test message from the caller into its TCP form: its Via names TCP, and the callee's
// Request-URI ;transport=tcp (without it a URI names UDP, RFC 3263 §4.1).
func tcp(msg []byte) []byte {
	s := strings.Replace(string(msg), "Via: SIP/2.0/UDP ", "Via: SIP/2.0/TCP ", 1)
	s = strings.Replace(s, " sip:dave@127.0.0.1:5070 SIP/2.0", " sip:dave@127.0.0.1:5070;transport=tcp SIP/2.0", 1)
	return []byte(s)
}

// TestTCPPlainCall: a plain call over TCP on both sides, INVITE to BYE, on the fast path; the
// forwarded INVITE carries Herald's TCP Via and a Record-Route with ;transport=tcp (RFC 3261
// §16.6 step 4, §19.1.1), and no timer sends anything again.
func TestTCPPlainCall(t *testing.T) {
	const T1 = testT1
	x, _ := newTCPHarness(t)
	inv := tcp(invite("z9hG4bKt1", "t1@x", "sip:dave@home1.net"))
	to := "<sip:dave@home1.net>;tag=d1"
	rr := "Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n"
	runSteps(t, x, []step{
		{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
		{at: T1}, // no Timer A over TCP
		{at: 2 * T1, sent: []string{"caller SIP/2.0 100 Trying"}},
		{at: 7 * T1},
		{in: calleeAnswers("INVITE", "180 Ringing", "d1"), want: ReasonResponse, at: 8 * T1, sent: []string{"caller SIP/2.0 180 Ringing"}},
		{in: calleeAnswers("INVITE", "200 OK", "d1"), want: ReasonResponse, at: 9 * T1, sent: []string{"caller SIP/2.0 200 OK"}},
		{in: callerSends(tcp(request("ACK", "z9hG4bKt1a", "t1@x", to, 1, rr))), want: ReasonForwarded, at: 10 * T1, sent: []string{"callee ACK"}},
		{in: callerSends(tcp(request("BYE", "z9hG4bKt1b", "t1@x", to, 2, rr))), want: ReasonForwarded, at: 11 * T1, sent: []string{"callee BYE"}},
		{at: 30 * T1}, // no Timer E over TCP
		{in: calleeAnswers("BYE", "200 OK", ""), want: ReasonResponse, at: 31 * T1, sent: []string{"caller SIP/2.0 200 OK"}},
	})
	fwd := string(x.last["callee INVITE"])
	for _, want := range []string{
		"\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=" + BranchPrefix,
		"\r\nRecord-Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n",
		"\r\nVia: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bKt1\r\n",
	} {
		if !strings.Contains(fwd, want) {
			t.Errorf("forwarded INVITE lacks %q:\n%s", want, fwd)
		}
	}
	if bye := string(x.last["callee BYE"]); !strings.HasPrefix(bye, "BYE sip:dave@127.0.0.1:5070;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;") ||
		strings.Contains(bye, "\r\nRoute:") {
		t.Errorf("forwarded BYE:\n%s", bye)
	}
	if n := x.st.Retransmissions.Load(); n != 0 {
		t.Errorf("%d retransmissions over TCP", n)
	}
	if x.st.Calls.Load() != 1 || x.e.Calls() != 0 {
		t.Errorf("calls %d, in progress %d", x.st.Calls.Load(), x.e.Calls())
	}
}

// TestTCPTimers: over TCP the timers that guard against loss are off (RFC 3261 §17.1.1.2 Timer A,
// §17.1.2.2 Timer E, §17.2.1 Timer G) and those that guard against a silent peer are kept (Timer B,
// F, C; the 100 Trying at 200 ms).
func TestTCPTimers(t *testing.T) {
	const T1 = testT1
	to := "<sip:dave@home1.net>"
	for _, tc := range []struct {
		name  string
		steps []step
	}{{
		// No answer: Timer B's 408 at 64·T1, not retransmitted; the caller's ACK is absorbed.
		name: "Timer B, no A, no G",
		steps: []step{
			{in: callerSends(tcp(invite("z9hG4bKb1", "b1@x", "sip:dave@home1.net"))), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{at: 2 * T1, sent: []string{"caller SIP/2.0 100 Trying"}},
			{at: 64*T1 - 1},
			{at: 64 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{at: 70 * T1},
			{in: callerSends(tcp(request("ACK", "z9hG4bKb1", "b1@x", to+";tag=x", 1))), want: ReasonAbsorbed, at: 71 * T1},
		},
	}, {
		// Timer C: 408 upstream, one CANCEL downstream (no Timer E for it); the callee's 487 is
		// ACKed.
		name: "Timer C, one CANCEL",
		steps: []step{
			{in: callerSends(tcp(invite("z9hG4bKc1", "c1@x", "sip:dave@home1.net"))), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: calleeAnswers("INVITE", "180 Ringing", "d1"), want: ReasonResponse, at: T1, sent: []string{"caller SIP/2.0 180 Ringing"}},
			{at: testTimerC, sent: []string{"caller SIP/2.0 408 Request Timeout", "callee CANCEL"}},
			{at: testTimerC + 10*T1},
			{in: calleeAnswers("CANCEL", "200 OK", "d1"), want: ReasonResponse, at: testTimerC + 11*T1},
			{in: calleeAnswers("INVITE", "487 Request Terminated", "d1"), want: ReasonResponse, at: testTimerC + 12*T1,
				sent: []string{"callee ACK"}},
		},
	}, {
		// Timer F for a BYE nobody answers: 408 at 64·T1, never the BYE again.
		name: "Timer F, no E",
		steps: []step{
			{in: callerSends(tcp(request("BYE", "z9hG4bKf1", "f1@x", to+";tag=d1", 2))), want: ReasonForwarded, sent: []string{"callee BYE"}},
			{at: 63 * T1},
			{at: 64 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
		},
	}, {
		// The caller cancels: 200 and 487 upstream, CANCEL downstream once.
		name: "CANCEL",
		steps: []step{
			{in: callerSends(tcp(invite("z9hG4bKx1", "x1@x", "sip:dave@home1.net"))), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: calleeAnswers("INVITE", "180 Ringing", "d1"), want: ReasonResponse, at: T1, sent: []string{"caller SIP/2.0 180 Ringing"}},
			{in: callerSends(tcp(request("CANCEL", "z9hG4bKx1", "x1@x", to, 1))), want: ReasonAnswered, at: 2 * T1,
				sent: []string{"caller SIP/2.0 200 OK", "caller SIP/2.0 487 Request Terminated", "callee CANCEL"}},
			{at: 20 * T1},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			x, _ := newTCPHarness(t)
			runSteps(t, x, tc.steps)
			if n := x.st.Retransmissions.Load(); n != 0 {
				t.Errorf("%d retransmissions over TCP", n)
			}
		})
	}
}

// TestTCPRouting: what the engine leaves to the general path over TCP, each with its reason and
// nothing sent: a next hop without a connection (the general path opens one, ReasonNoConnection),
// a Route naming UDP or no transport, a Via naming the other transport than the one the request
// came over (ReasonTransport, both ways).
func TestTCPRouting(t *testing.T) {
	for _, tc := range []struct {
		name string
		prep func(x *harness, s *recStream)
		msg  []byte
		udp  bool // offered on the UDP socket, not the Stream
		want Reason
	}{
		{name: "next hop not connected", prep: func(x *harness, s *recStream) { delete(s.open, x.callee) },
			msg: tcp(invite("z9hG4bKn1", "n1@x", "sip:dave@home1.net")), want: ReasonNoConnection},
		{name: "next hop named ;transport=udp", prep: func(x *harness, _ *recStream) { x.h.nextTransport = "udp" },
			msg: tcp(invite("z9hG4bKn2", "n2@x", "sip:dave@home1.net")), want: ReasonRoute},
		{name: "next hop without transport, request small", prep: func(x *harness, _ *recStream) { x.h.nextTransport = "" },
			msg: tcp(invite("z9hG4bKn8", "n8@x", "sip:dave@home1.net")), want: ReasonRoute},
		{name: "next hop without transport, request too big for UDP", prep: func(x *harness, _ *recStream) { x.h.nextTransport = "" },
			msg: tcp(invite("z9hG4bKn9", "n9@x", "sip:dave@home1.net", bigHeader)), want: ReasonForwarded},
		{name: "next hop ;transport=udp, request too big for UDP", prep: func(x *harness, _ *recStream) { x.h.nextTransport = "udp" },
			msg: tcp(invite("z9hG4bKn10", "n10@x", "sip:dave@home1.net", bigHeader)), want: ReasonRoute},
		{name: "Route without transport, request too big for UDP", msg: tcp(invite("z9hG4bKn11", "n11@x", "sip:dave@home1.net",
			"Route: <sip:127.0.0.1:5070;lr>\r\n", bigHeader)), want: ReasonForwarded},
		{name: "Route without transport", msg: tcp(invite("z9hG4bKn3", "n3@x", "sip:dave@home1.net", "Route: <sip:127.0.0.1:5070;lr>\r\n")),
			want: ReasonRoute},
		{name: "Route ;transport=tcp", msg: tcp(invite("z9hG4bKn4", "n4@x", "sip:dave@home1.net", "Route: <sip:127.0.0.1:5070;transport=tcp;lr>\r\n")),
			want: ReasonForwarded},
		{name: "BYE to a Request-URI without transport", msg: []byte(strings.Replace(string(tcp(request("BYE", "z9hG4bKn5", "n5@x",
			"<sip:dave@home1.net>;tag=d", 2))), ";transport=tcp", "", 1)), want: ReasonRoute},
		{name: "TCP Via over UDP", msg: tcp(invite("z9hG4bKn6", "n6@x", "sip:dave@home1.net")), udp: true, want: ReasonTransport},
		{name: "UDP Via over TCP", msg: invite("z9hG4bKn7", "n7@x", "sip:dave@home1.net"), want: ReasonTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, s := newTCPHarness(t)
			if tc.prep != nil {
				tc.prep(x, s)
			}
			if tc.udp {
				x.conn = x.c
			}
			r, sent := x.in(x.caller, tc.msg)
			if r != tc.want {
				t.Fatalf("reason %v, want %v", r, tc.want)
			}
			if tc.want != ReasonForwarded && len(sent) != 0 {
				t.Errorf("sent %q", sent)
			}
		})
	}
}

// bigHeader makes a request larger than UDP's limit (RFC 3261 §18.1.1: 1,300 bytes).
var bigHeader = "X-Filler: " + strings.Repeat("a", 1400) + "\r\n"

// TestTCPLargeInvite: RFC 3261 §18.1.1's limit is UDP's; over TCP an INVITE of any size the
// scanner reads stays on the fast path.
func TestTCPLargeInvite(t *testing.T) {
	x, _ := newTCPHarness(t)
	big := "X-Filler: " + strings.Repeat("a", 3000) + "\r\n"
	if r, sent := x.in(x.caller, tcp(invite("z9hG4bKl1", "l1@x", "sip:dave@home1.net", big))); r != ReasonForwarded || len(sent) != 1 {
		t.Fatalf("reason %v, sent %q", r, sent)
	}
	y := newHarness(t, nil) // over UDP the general path sends it (over TCP)
	if r, _ := y.in(y.caller, invite("z9hG4bKl1", "l1@x", "sip:dave@home1.net", big)); r != ReasonSize {
		t.Fatalf("UDP: reason %v, want size", r)
	}
}

// TestTCPStray2xx: a retransmitted 2xx whose transaction is gone is relayed by its Via alone
// (RFC 6026 §8.4): over the connection to the caller when the caller's Via names TCP and the
// connection is open, nowhere when it is not.
func TestTCPStray2xx(t *testing.T) {
	x, s := newTCPHarness(t)
	inv := tcp(invite("z9hG4bKs1", "s1@x", "sip:dave@home1.net"))
	if r, _ := x.in(x.caller, inv); r != ReasonForwarded {
		t.Fatalf("INVITE: %v", r)
	}
	ok := reply(x.last["callee INVITE"], "200 OK", "d1")
	if r, sent := x.in(x.callee, ok); r != ReasonResponse || len(sent) != 1 {
		t.Fatalf("200: %v %q", r, sent)
	}
	// Forget the transaction (Timer L) and compacted records: a 2xx now has no transaction.
	x.at(200 * testT1)
	if n := x.e.Transactions(); n != 0 {
		t.Fatalf("%d transactions left", n)
	}
	r, sent := x.in(x.callee, ok)
	if r != ReasonStray2xx || len(sent) != 1 || sent[0] != "caller SIP/2.0 200 OK" {
		t.Fatalf("stray 2xx: %v %q", r, sent)
	}
	if !bytes.HasPrefix(x.last["caller SIP/2.0"], []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bKs1\r\n")) {
		t.Errorf("relayed:\n%s", x.last["caller SIP/2.0"])
	}
	delete(s.open, x.caller)
	if _, sent := x.in(x.callee, ok); len(sent) != 0 {
		t.Errorf("relayed without a connection: %q", sent)
	}
}
