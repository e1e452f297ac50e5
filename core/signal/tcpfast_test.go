package signal

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/sipfast"
)

// Plain calls over TCP on both legs (RFC 3261 §18.3) through real sockets: a caller connected to
// Herald's TCP port, and a callee listening as Herald's next hop (;transport=tcp). The first call
// goes the general way (sipgo opens the connection to the next hop: ReasonNoConnection); the next
// ones take the fast path over the same connections, whatever way TCP cuts or joins the bytes.

// tcpPeer is one end of a TCP connection with Herald, reading whole SIP messages.
type tcpPeer struct {
	conn net.Conn
	br   *bufio.Reader
}

// dialTCP connects a caller to Herald at addr (closed with the test).
func dialTCP(t *testing.T, addr string) *tcpPeer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &tcpPeer{conn: conn, br: bufio.NewReader(conn)}
}

func (p *tcpPeer) read(t *testing.T, what string) fpMsg {
	t.Helper()
	return parseFP(t, what, fpReadTCP(t, p.conn, p.br))
}

func (p *tcpPeer) write(t *testing.T, b []byte) { t.Helper(); fpWriteTCP(t, p.conn, b) }

// dribble writes b a few bytes at a time, each in its own segment (Nagle off), so Herald's reads
// end anywhere in a message.
func (p *tcpPeer) dribble(t *testing.T, b []byte) {
	t.Helper()
	_ = p.conn.(*net.TCPConn).SetNoDelay(true)
	for len(b) > 0 {
		n := min(len(b), 1+rand.IntN(7))
		p.write(t, b[:n])
		b = b[n:]
		time.Sleep(200 * time.Microsecond)
	}
}

// tcpCall is one call's messages from the caller's side.
type tcpCall struct {
	caller *tcpPeer
	callID string
	tag    string
	branch string // the INVITE's
	extra  string // header lines added to the INVITE
}

func (c *tcpCall) via(branch string) string {
	return "SIP/2.0/TCP " + c.caller.conn.LocalAddr().String() + ";branch=" + branch + ";rport"
}

func (c *tcpCall) invite() []byte {
	c.branch = fpBranch()
	return []byte(fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: <%s>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:erin@%s;transport=tcp>\r\n%sContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", dave, c.via(c.branch), erin, c.tag, dave, c.callID, c.caller.conn.LocalAddr(), c.extra, len(fpSDP), fpSDP))
}

// inDialog is the caller's ACK or BYE to the callee's Contact along the Record-Route of its 200.
func (c *tcpCall) inDialog(method string, cseq int, ok fpMsg, t *testing.T) []byte {
	contact := strings.Trim(ok.one(t, "200", "Contact"), "<>")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\n", method, contact, c.via(fpBranch()))
	for _, rr := range ok.all("Record-Route") {
		fmt.Fprintf(&b, "Route: %s\r\n", rr)
	}
	fmt.Fprintf(&b, "From: <%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n",
		erin, c.tag, ok.one(t, "200", "To"), c.callID, cseq, method)
	return []byte(b.String())
}

// TestTCPFastPath: four plain calls over TCP, each INVITE to BYE, through real sockets.
//   - Call 1 goes the general way: Herald has no connection to the next hop yet, and the fast path
//     does not open one (counted as no_connection); sipgo opens it.
//   - Calls 2-4 take the fast path over the same two connections (Herald's Via branch and a
//     Record-Route with ;transport=tcp, RFC 3261 §19.1.1), with the caller's bytes dribbled a few at
//     a time (call 3), its ACK and BYE in one write (calls 3 and 4), a CRLF keep-alive ping before
//     the INVITE (call 4, RFC 5626 §3.5.1: answered with a pong), and the callee hanging up (call 4:
//     the BYE goes to the caller over the caller's own connection, §18.2.2 reuse by address).
//   - Nothing is retransmitted over TCP, and every call ends.
func TestTCPFastPath(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := startHerald(t, st, ln.Addr().String(), func(o *Options) { o.NextHopTransport = "tcp" })
	calleeContact := "sip:dave@" + ln.Addr().String() + ";transport=tcp"

	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	caller := &tcpPeer{conn: conn, br: bufio.NewReader(conn)}
	var callee *tcpPeer

	for i := 1; i <= 4; i++ {
		c := &tcpCall{caller: caller, callID: fmt.Sprintf("tcp%d-%016x@127.0.0.1", i, rand.Uint64()), tag: fmt.Sprintf("f%d", i)}
		what := fmt.Sprintf("call %d", i)
		inv := c.invite()
		switch i {
		case 3:
			caller.dribble(t, inv)
		case 4:
			caller.write(t, append([]byte("\r\n\r\n"), inv...))
			pong := make([]byte, 2)
			_ = conn.SetReadDeadline(time.Now().Add(fpWait))
			if _, err := caller.br.Read(pong); err != nil || string(pong) != "\r\n" {
				t.Fatalf("%s: keep-alive pong %q, %v", what, pong, err)
			}
		default:
			caller.write(t, inv)
		}
		if callee == nil {
			_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(fpWait))
			cc, err := ln.Accept()
			if err != nil {
				t.Fatalf("%s: no connection from Herald: %v", what, err)
			}
			defer cc.Close()
			callee = &tcpPeer{conn: cc, br: bufio.NewReader(cc)}
		}
		fwd := callee.read(t, what+": INVITE")
		via := fwd.all("Via")[0]
		fast := strings.Contains(via, ";branch="+sipfast.BranchPrefix)
		if fast != (i > 1) || !strings.HasPrefix(via, "SIP/2.0/TCP 127.0.0.1:"+portOf(r.addr)+";") {
			t.Fatalf("%s: forwarded with Via %q (fast path: %v)", what, via, fast)
		}
		if rr := fwd.all("Record-Route"); len(rr) != 1 || !strings.HasPrefix(rr[0], "<sip:127.0.0.1:"+portOf(r.addr)+";transport=tcp;lr") {
			t.Fatalf("%s: Record-Route %q", what, rr)
		}
		callee.write(t, fpReply(t, fwd, 180, "Ringing", "d", false, "<"+calleeContact+">", ""))
		if m := caller.read(t, what+": 180"); m.start != "SIP/2.0 180 Ringing" {
			// A 100 Trying may come first on the general path.
			if m.start != "SIP/2.0 100 Trying" || caller.read(t, what+": 180").start != "SIP/2.0 180 Ringing" {
				t.Fatalf("%s: caller got %q", what, m.start)
			}
		}
		callee.write(t, fpReply(t, fwd, 200, "OK", "d", false, "<"+calleeContact+">", ""))
		ok := caller.read(t, what+": 200")
		if ok.start != "SIP/2.0 200 OK" {
			t.Fatalf("%s: caller got %q", what, ok.start)
		}
		ack := c.inDialog("ACK", 1, ok, t)
		if i < 4 {
			bye := c.inDialog("BYE", 2, ok, t)
			if i >= 3 {
				caller.write(t, append(ack, bye...)) // coalesced: one segment, two messages
			} else {
				caller.write(t, ack)
				caller.write(t, bye)
			}
			a, b := callee.read(t, what+": ACK"), callee.read(t, what+": BYE")
			if i == 1 && strings.HasPrefix(a.start, "BYE ") {
				a, b = b, a // sipgo handles each request on a goroutine of its own: either order
			}
			if !strings.HasPrefix(a.start, "ACK "+calleeContact) || !strings.HasPrefix(b.start, "BYE "+calleeContact) {
				t.Fatalf("%s: callee got %q, then %q", what, a.start, b.start)
			}
			callee.write(t, fpReply(t, b, 200, "OK", "", false, "", ""))
			if m := caller.read(t, what+": 200 to BYE"); m.start != "SIP/2.0 200 OK" || !strings.HasSuffix(m.one(t, "200", "CSeq"), "BYE") {
				t.Fatalf("%s: caller got %q", what, m.start)
			}
			continue
		}
		// Call 4: the callee hangs up along the route it learnt (its Record-Route, the caller's Contact).
		caller.write(t, ack)
		if m := callee.read(t, what+": ACK"); !strings.HasPrefix(m.start, "ACK ") {
			t.Fatalf("%s: callee got %q", what, m.start)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "BYE sip:erin@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=%s\r\nMax-Forwards: 70\r\n",
			conn.LocalAddr(), ln.Addr(), fpBranch())
		for _, rr := range fwd.all("Record-Route") {
			fmt.Fprintf(&b, "Route: %s\r\n", rr)
		}
		fmt.Fprintf(&b, "From: <%s>;tag=d\r\nTo: <%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", dave, erin, c.tag, c.callID)
		callee.write(t, []byte(b.String()))
		bye := caller.read(t, what+": callee's BYE")
		if !strings.HasPrefix(bye.start, "BYE sip:erin@") || !strings.Contains(bye.all("Via")[0], ";branch="+sipfast.BranchPrefix) {
			t.Fatalf("%s: caller got %q, Via %q", what, bye.start, bye.all("Via"))
		}
		caller.write(t, fpReply(t, bye, 200, "OK", "", false, "", ""))
		if m := callee.read(t, what+": 200 to BYE"); m.start != "SIP/2.0 200 OK" {
			t.Fatalf("%s: callee got %q", what, m.start)
		}
	}
	fs := &r.sig.Stats.Fast
	if n := fs.Calls.Load(); n != 3 {
		t.Errorf("fast path calls %d, want 3", n)
	}
	if n := fs.Verdicts[sipfast.ReasonNoConnection].Load(); n != 1 {
		t.Errorf("no_connection verdicts %d, want 1", n)
	}
	if n := fs.Retransmissions.Load(); n != 0 {
		t.Errorf("%d retransmissions over TCP", n)
	}
	if n := fs.SendErrors.Load(); n != 0 {
		t.Errorf("%d send errors", n)
	}

	// Call 5: the caller cancels while the callee's 200 crosses the CANCEL (RFC 3261 §9.1): the
	// caller has its 487, so Herald ACKs the late 200 and ends the callee's dialog with a BYE, over
	// TCP like the call (the INVITE's transport, not UDP).
	c := &tcpCall{caller: caller, callID: fmt.Sprintf("tcp5-%016x@127.0.0.1", rand.Uint64()), tag: "f5"}
	caller.write(t, c.invite())
	fwd := callee.read(t, "call 5: INVITE")
	callee.write(t, fpReply(t, fwd, 180, "Ringing", "d", false, "<"+calleeContact+">", ""))
	if m := caller.read(t, "call 5: 180"); m.start != "SIP/2.0 180 Ringing" {
		t.Fatalf("call 5: caller got %q", m.start)
	}
	caller.write(t, []byte(fmt.Sprintf("CANCEL %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: <%s>;tag=f5\r\nTo: <%s>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", dave, c.via(c.branch), erin, dave, c.callID)))
	if a, b := caller.read(t, "call 5: 200 to CANCEL"), caller.read(t, "call 5: 487"); a.start != "SIP/2.0 200 OK" || b.start != "SIP/2.0 487 Request Terminated" {
		t.Fatalf("call 5: caller got %q, %q", a.start, b.start)
	}
	cancel := callee.read(t, "call 5: CANCEL")
	if !strings.HasPrefix(cancel.start, "CANCEL ") {
		t.Fatalf("call 5: callee got %q", cancel.start)
	}
	callee.write(t, fpReply(t, fwd, 200, "OK", "d", false, "<"+calleeContact+">", ""))
	callee.write(t, fpReply(t, cancel, 200, "OK", "d", false, "", ""))
	if a := callee.read(t, "call 5: ACK of the late 200"); !strings.HasPrefix(a.start, "ACK "+calleeContact) {
		t.Fatalf("call 5: callee got %q", a.start)
	}
	b := callee.read(t, "call 5: BYE")
	if !strings.HasPrefix(b.start, "BYE "+calleeContact) || !strings.HasPrefix(b.all("Via")[0], "SIP/2.0/TCP ") {
		t.Fatalf("call 5: callee got %q, Via %q", b.start, b.all("Via"))
	}
	callee.write(t, fpReply(t, b, 200, "OK", "", false, "", ""))

	// Call 6: the caller's connection closes after its INVITE; the responses go on a new connection
	// to its Via's address (RFC 3261 §18.2.2: received, and the sent-by port, where it listens), one
	// connection for both, on which the caller then sends its ACK and BYE.
	lc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	gone, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	c6 := &tcpCall{caller: &tcpPeer{conn: gone}, callID: fmt.Sprintf("tcp6-%016x@127.0.0.1", rand.Uint64()), tag: "f6"}
	inv6 := strings.Replace(string(c6.invite()), "Via: SIP/2.0/TCP "+gone.LocalAddr().String()+";", "Via: SIP/2.0/TCP "+lc.Addr().String()+";", 1)
	fpWriteTCP(t, gone, []byte(inv6))
	fwd = callee.read(t, "call 6: INVITE")
	_ = gone.Close()
	time.Sleep(20 * time.Millisecond) // Herald reads the close and drops the connection from its pool
	callee.write(t, fpReply(t, fwd, 180, "Ringing", "d", false, "<"+calleeContact+">", ""))
	_ = lc.(*net.TCPListener).SetDeadline(time.Now().Add(fpWait))
	back, err := lc.Accept()
	if err != nil {
		t.Fatalf("call 6: no new connection for the 180: %v", err)
	}
	defer back.Close()
	caller6 := &tcpPeer{conn: back, br: bufio.NewReader(back)}
	if m := caller6.read(t, "call 6: 180"); m.start != "SIP/2.0 180 Ringing" {
		t.Fatalf("call 6: caller got %q", m.start)
	}
	callee.write(t, fpReply(t, fwd, 200, "OK", "d", false, "<"+calleeContact+">", ""))
	ok6 := caller6.read(t, "call 6: 200")
	if ok6.start != "SIP/2.0 200 OK" {
		t.Fatalf("call 6: caller got %q", ok6.start)
	}
	c6.caller = caller6
	caller6.write(t, c6.inDialog("ACK", 1, ok6, t))
	caller6.write(t, c6.inDialog("BYE", 2, ok6, t))
	if a, b := callee.read(t, "call 6: ACK"), callee.read(t, "call 6: BYE"); !strings.HasPrefix(a.start, "ACK ") || !strings.HasPrefix(b.start, "BYE ") {
		t.Fatalf("call 6: callee got %q, %q", a.start, b.start)
	} else {
		callee.write(t, fpReply(t, b, 200, "OK", "", false, "", ""))
	}
	if m := caller6.read(t, "call 6: 200 to BYE"); m.start != "SIP/2.0 200 OK" {
		t.Fatalf("call 6: caller got %q", m.start)
	}
	if n, f := fs.Reconnects.Load(), fs.ReconnectFailed.Load(); n != 2 || f != 0 {
		t.Errorf("reconnects: %d sent, %d failed; want 2 sent (the 180 and the 200 on one new connection)", n, f)
	}
	r.quiet(t)
}

// TestTCPCallerUDPCalleeNoContentLength: a caller over TCP, the next hop over UDP (the general path:
// the fast path keeps one transport per call). The callee's responses carry no Content-Length, which
// UDP allows (RFC 3261 §20.14); relayed over TCP they must (§18.3), or the caller's stack reads past
// the message (a real baresip closed the connection, and the call failed). Each relayed response
// has a Content-Length of its body's length.
func TestTCPCallerUDPCalleeNoContentLength(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	caller := dialTCP(t, r.addr)
	c := &tcpCall{caller: caller, callID: fmt.Sprintf("tcpudp-%016x@127.0.0.1", rand.Uint64()), tag: "fu"}
	caller.write(t, c.invite())
	fwd := parseFP(t, "INVITE", callee.next(t, "forwarded INVITE").data)
	noCL := func(b []byte) []byte {
		head, body, _ := strings.Cut(string(b), "\r\nContent-Length: ")
		_, rest, _ := strings.Cut(body, "\r\n")
		return []byte(head + "\r\n" + rest)
	}
	callee.send(t, r.addr, noCL(fpReply(t, fwd, 180, "Ringing", "d", false, "<sip:dave@"+callee.addr()+">", "")))
	if m := caller.read(t, "180"); m.start != "SIP/2.0 180 Ringing" { // parseFP: Content-Length is the body's
		if m.start != "SIP/2.0 100 Trying" || caller.read(t, "180").start != "SIP/2.0 180 Ringing" {
			t.Fatalf("caller got %q", m.start)
		}
	}
	ok := noCL(fpReply(t, fwd, 200, "OK", "d", false, "<sip:dave@"+callee.addr()+">", fpSDPAnswer))
	if bytes.Contains(ok, []byte("Content-Length")) {
		t.Fatal("the test's 200 has a Content-Length")
	}
	callee.send(t, r.addr, ok)
	m := caller.read(t, "200")
	if m.start != "SIP/2.0 200 OK" || string(m.body) != fpSDPAnswer {
		t.Fatalf("caller got %q with a body of %d bytes", m.start, len(m.body))
	}
	caller.write(t, c.inDialog("ACK", 1, m, t))
	caller.write(t, c.inDialog("BYE", 2, m, t))
	var got []string
	for range 2 { // in either order: sipgo handles each request on a goroutine of its own
		d := parseFP(t, "ACK or BYE", callee.nextNot100(t, "ACK or BYE").data)
		got = append(got, strings.Fields(d.start)[0])
		if strings.HasPrefix(d.start, "BYE ") {
			callee.send(t, r.addr, noCL(fpReply(t, d, 200, "OK", "", false, "", "")))
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"ACK", "BYE"}) {
		t.Fatalf("callee got %q", got)
	}
	if m := caller.read(t, "200 to BYE"); m.start != "SIP/2.0 200 OK" {
		t.Fatalf("caller got %q", m.start)
	}
	r.quiet(t)
}

// TestTCPFastPathBigInviteDefaultNextHop: the next hop configured without a transport (UDP by RFC
// 3263 §4.1, not pinned) and INVITEs too big for UDP arriving over TCP, as an IMS core sends them
// (RFC 3261 §18.1.1). The general path sends such an INVITE over TCP; so, once that opened the
// connection, does the fast path: the second call's INVITE reaches the callee's TCP side with the
// fast path's branch.
func TestTCPFastPathBigInviteDefaultNextHop(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee, ln := newFPPeerTCP(t)
	r := startHerald(t, st, callee.addr(), nil)
	caller := dialTCP(t, r.addr)
	contact := "<sip:dave@" + callee.addr() + ";transport=tcp>"
	var cc *tcpPeer
	for i := 1; i <= 2; i++ {
		what := fmt.Sprintf("call %d", i)
		c := &tcpCall{caller: caller, callID: fmt.Sprintf("tcpbig%d-%016x@127.0.0.1", i, rand.Uint64()), tag: fmt.Sprintf("b%d", i),
			extra: "X-Filler: " + strings.Repeat("x", 1400) + "\r\n"}
		caller.write(t, c.invite())
		if cc == nil {
			c, br := fpAccept(t, ln)
			cc = &tcpPeer{conn: c, br: br}
		}
		fwd := cc.read(t, what+": INVITE")
		via := fwd.all("Via")[0]
		if fast := strings.Contains(via, ";branch="+sipfast.BranchPrefix); fast != (i == 2) || !strings.HasPrefix(via, "SIP/2.0/TCP ") {
			t.Fatalf("%s: forwarded over TCP with Via %q (fast path: %v)", what, via, fast)
		}
		cc.write(t, fpReply(t, fwd, 200, "OK", "d", false, contact, ""))
		ok := caller.read(t, what+": 200")
		for ok.start == "SIP/2.0 100 Trying" {
			ok = caller.read(t, what+": 200")
		}
		if ok.start != "SIP/2.0 200 OK" {
			t.Fatalf("%s: caller got %q", what, ok.start)
		}
		caller.write(t, c.inDialog("ACK", 1, ok, t))
		caller.write(t, c.inDialog("BYE", 2, ok, t))
		var got []string
		for range 2 {
			m := cc.read(t, what+": ACK or BYE")
			got = append(got, strings.Fields(m.start)[0])
			if m.start[:4] == "BYE " {
				cc.write(t, fpReply(t, m, 200, "OK", "", false, "", ""))
			}
		}
		if slices.Sort(got); !slices.Equal(got, []string{"ACK", "BYE"}) {
			t.Fatalf("%s: callee got %q", what, got)
		}
		if m := caller.read(t, what+": 200 to BYE"); m.start != "SIP/2.0 200 OK" {
			t.Fatalf("%s: caller got %q", what, m.start)
		}
	}
	if n := r.sig.Stats.Fast.Calls.Load(); n != 1 {
		t.Errorf("fast path calls %d, want 1 (the second)", n)
	}
	r.quiet(t)
}
