package signal

import (
	"bytes"
	"strings"
	"testing"
)

// fpNoCL is msg without its Content-Length line, as linphone 5.1 sends its responses over UDP:
// RFC 3261 §18.3 and §20.14 make the header optional there (the body is the rest of the datagram).
func fpNoCL(t *testing.T, msg []byte) []byte {
	t.Helper()
	i := bytes.Index(msg, []byte("\r\nContent-Length: "))
	if i < 0 {
		t.Fatalf("no Content-Length in\n%s", msg)
	}
	e := bytes.Index(msg[i+2:], []byte("\r\n"))
	return append(append([]byte(nil), msg[:i]...), msg[i+2+e:]...)
}

// parseFPUDP is parseFP for a datagram that may lack Content-Length (RFC 3261 §18.3): a present one
// must still be the body's length.
func parseFPUDP(t *testing.T, what string, b []byte) fpMsg {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("%s: no end of headers:\n%s", what, b)
	}
	head := strings.Split(string(b[:i]), "\r\n")
	m := fpMsg{raw: b, start: head[0], lines: head[1:], body: b[i+4:]}
	if len(m.all("Content-Length")) > 0 {
		return parseFP(t, what, b)
	}
	return m
}

// TestFastPathNoContentLength is a plain call whose callee answers every response without
// Content-Length over UDP (the 180, the 200 with its SDP, the 200 to the BYE) and whose caller sends
// its BYE without one, through real UDP sockets. The fast path takes every one of them (none is
// left to sipgo or counted unreadable), relays each byte for byte without Herald's Via, sends the
// callee no INVITE again once the 180 arrived, and the BYE's 200 reaches the caller at once.
// Before the fix the scanner refused these responses, the INVITE was retransmitted, the caller
// never saw the 180 and the BYE waited for its transaction to time out.
func TestFastPathNoContentLength(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	inv := c.invite()
	caller.send(t, r.addr, inv)
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	hv := fpForwarded(t, "INVITE", parseFP(t, "INVITE", inv), fwd, r, c.viaSeen(c.branch), nil, true)

	contact := "<sip:dave@" + callee.addr() + ">"
	ring := fpNoCL(t, fpReply(t, fwd, 180, "Ringing", "cal1", false, contact, ""))
	callee.send(t, r.addr, ring)
	if got := caller.nextNot100(t, "relayed 180").data; !bytes.Equal(got, fpWithoutVia(t, ring, hv)) {
		t.Fatalf("relayed 180:\n%s\nwant\n%s", got, fpWithoutVia(t, ring, hv))
	}
	ok := fpNoCL(t, fpReply(t, fwd, 200, "OK", "cal1", false, contact, fpSDPAnswer))
	callee.send(t, r.addr, ok)
	got := caller.next(t, "relayed 200").data
	if !bytes.Equal(got, fpWithoutVia(t, ok, hv)) {
		t.Fatalf("relayed 200:\n%s\nwant\n%s", got, fpWithoutVia(t, ok, hv))
	}
	if m := parseFPUDP(t, "relayed 200", got); string(m.body) != fpSDPAnswer {
		t.Fatalf("relayed 200: body %q, want the callee's SDP", m.body)
	}

	to := "<" + dave + ">;tag=cal1"
	target := "sip:dave@" + callee.addr()
	routeSet := []string{fpRoute(r)}
	ack := c.request("ACK", target, fpBranch(), 1, to, routeSet)
	caller.send(t, r.addr, ack)
	callee.next(t, "forwarded ACK", fwd.raw)

	byeBranch := fpBranch()
	bye := fpNoCL(t, c.request("BYE", target, byeBranch, 2, to, routeSet))
	caller.send(t, r.addr, bye)
	fb := parseFPUDP(t, "forwarded BYE", callee.next(t, "forwarded BYE", fwd.raw).data)
	bv := fpForwarded(t, "BYE", parseFPUDP(t, "BYE", bye), fb, r, c.viaSeen(byeBranch), nil, false)
	byeOK := fpNoCL(t, fpReply(t, fb, 200, "OK", "", false, "", ""))
	callee.send(t, r.addr, byeOK)
	if got := caller.next(t, "relayed 200 to BYE").data; !bytes.Equal(got, fpWithoutVia(t, byeOK, bv)) {
		t.Fatalf("relayed 200 to BYE:\n%s\nwant\n%s", got, fpWithoutVia(t, byeOK, bv))
	}

	// The 180 stopped Timer A and the BYE's 200 Timer E: nothing is sent again either way.
	callee.silent(t, "callee after the BYE", 3*testT1, fwd.raw, fb.raw)
	caller.silent(t, "caller after the BYE", 3*testT1)
	s := &r.sig.Stats
	fpStat(t, "Fast.Unreadable", &s.Fast.Unreadable, 0)
	fpStat(t, "Fast.Calls", &s.Fast.Calls, 1)
	fpStat(t, "Fast.InDialog", &s.Fast.InDialog, 2)
	fpStat(t, "Fast.Fallbacks", &s.Fast.Fallbacks, 0)
	fpStat(t, "Fast.Stray", &s.Fast.Stray, 0)
	r.quiet(t)
}
