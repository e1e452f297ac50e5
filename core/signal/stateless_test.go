package signal

import (
	"bytes"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// TestRetransmitted2xxTakesTheCallersTransport loses Herald's 200 OK to the caller once. With a
// caller card the forwarded INVITE is larger than 1300 bytes and goes to the callee over TCP while
// the caller's leg is UDP (RFC 3261 §18.1.1). The callee retransmits its 2xx until the ACK arrives
// (§13.3.1.4); those retransmissions reach Herald after its INVITE transaction ended, and Herald
// forwards them statelessly (§16.7 step 1, §16.11) over the transport of the caller's Via, UDP
// (§18.2.2), not the TCP they came in on. The caller ACKs the retransmission and the call completes.
func TestRetransmitted2xxTakesTheCallersTransport(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond, T1: testT1})
	h := startHerald(t, st, callee.Addr(), nil)
	lost := 0
	// Set under the tap's lock, which WriteTo holds when it calls it: Herald's goroutines are already
	// serving (unsynchronised, the race detector saw this write race with WriteTo's read).
	h.tap.mu.Lock()
	h.tap.lose = func(b []byte) bool { // called with the tap's lock held
		if lost == 0 && bytes.HasPrefix(b, []byte("SIP/2.0 200 ")) && bytes.Contains(b, []byte(" INVITE\r\n")) {
			lost++
			return true
		}
		return false
	}
	h.tap.mu.Unlock()
	caller := newCaller(t, uesim.CallerOptions{})
	res := h.mustCall(t, caller, alice, bob)
	ce := calleeSide(t, callee, res.CallID)
	if ce.Invite == nil || ce.Invite.Transport() != "TCP" {
		t.Fatalf("forwarded INVITE did not go over TCP: %v", ce.Invite)
	}
	oks := h.udpResponses(res.CallID, "INVITE")
	var n200 int
	for _, r := range oks {
		if r.StatusCode == 200 {
			n200++
		}
	}
	if n200 < 2 {
		t.Fatalf("Herald sent %d 200 OKs to the INVITE over UDP, want the lost one and a retransmission", n200)
	}
	if !ce.Acked || !ce.Bye || ce.Err != nil {
		t.Fatalf("callee: acked %t bye %t err %v", ce.Acked, ce.Bye, ce.Err)
	}
	h.quiet(t)
}
