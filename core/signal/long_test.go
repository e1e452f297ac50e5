package signal

import (
	"bytes"
	"fmt"
	"testing"
)

// fpPad is res with n more header lines right after its status line.
func fpPad(res []byte, n int) []byte {
	line, rest, _ := bytes.Cut(res, []byte("\r\n"))
	var b bytes.Buffer
	b.Write(line)
	b.WriteString("\r\n")
	for i := range n {
		fmt.Fprintf(&b, "P-Extra-%d: x\r\n", i)
	}
	b.Write(rest)
	return b.Bytes()
}

// TestFastPathLongResponses: a plain call whose callee answers with more header lines than the
// scanner indexes on the stack (64) is carried over real UDP sockets like any other. The long 180
// and 200, and the 200 again as the callee retransmits it (RFC 6026 §8.4), each reach the caller
// whole, without Herald's Via; none is counted unreadable. Before the scanner's bound went to 512
// lines the engine dropped these responses and the call failed.
func TestFastPathLongResponses(t *testing.T) {
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
	ring := fpPad(fpReply(t, fwd, 180, "Ringing", "long1", false, contact, ""), 100)
	callee.send(t, r.addr, ring)
	if got := caller.nextNot100(t, "relayed long 180").data; !bytes.Equal(got, fpWithoutVia(t, ring, hv)) {
		t.Fatalf("relayed 180:\n%s\nwant\n%s", got, fpWithoutVia(t, ring, hv))
	}
	ok := fpPad(fpReply(t, fwd, 200, "OK", "long1", false, contact, fpSDPAnswer), 150)
	for _, what := range []string{"relayed long 200", "relayed retransmitted long 200"} {
		callee.send(t, r.addr, ok)
		if got := caller.next(t, what).data; !bytes.Equal(got, fpWithoutVia(t, ok, hv)) {
			t.Fatalf("%s:\n%s\nwant\n%s", what, got, fpWithoutVia(t, ok, hv))
		}
	}
	s := &r.sig.Stats
	fpStat(t, "Fast.Calls", &s.Fast.Calls, 1)
	fpStat(t, "Fast.Unreadable", &s.Fast.Unreadable, 0)
	fpStat(t, "Fast.Fallbacks", &s.Fast.Fallbacks, 0)
	r.quiet(t)
}
