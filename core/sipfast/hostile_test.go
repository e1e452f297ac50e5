package sipfast

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// A request with so many header lines that Herald's Via and Record-Route would take its forwarded
// copy past the scanner's bound goes to the general path: before, the engine took it, could not
// scan its own copy, built no 100 Trying, 408, CANCEL or ACK from it, and the 100 Trying's timer
// panicked (or sent another call's 100) while the call held its admission for good.
func TestLongRequestGeneral(t *testing.T) {
	x := newHarness(t, func(c *Config) { c.MaxRequest = 60000 }) // the size is not what is tested
	var extra strings.Builder
	for i := range maxHeaderLines - 10 {
		fmt.Fprintf(&extra, "X-Pad-%d: %d\r\n", i, i)
	}
	if r, sent := x.in(x.caller, invite("z9hG4bKlong", "long@x", "sip:dave@home1.net", extra.String())); r != ReasonUnscanned || len(sent) != 0 {
		t.Fatalf("%d header lines: %v %q, want the general path's", maxHeaderLines-4, r, sent)
	}
	extra.Reset()
	for i := range maxHeaderLines - 20 {
		fmt.Fprintf(&extra, "X-Pad-%d: %d\r\n", i, i)
	}
	if r, _ := x.in(x.caller, invite("z9hG4bKlong2", "long2@x", "sip:dave@home1.net", extra.String())); r != ReasonForwarded {
		t.Fatalf("%d header lines: %v, want forwarded", maxHeaderLines-14, r)
	}
}

// A transaction whose timer panics is let go (the panic recovered, counted), and the others due in
// the same tick still run: before, they were off the wheel and never ran again, their calls held.
func TestTickPanicKeepsOthers(t *testing.T) {
	x := newHarness(t, nil)
	for i := range 3 {
		if r, _ := x.in(x.caller, invite(fmt.Sprintf("z9hG4bKk%d", i), fmt.Sprintf("k%d@x", i), "sip:dave@home1.net")); r != ReasonForwarded {
			t.Fatalf("INVITE %d: %v", i, r)
		}
	}
	once := false
	boom := func(*Tx) {
		if !once {
			once = true
			panic("injected")
		}
	}
	x.e.Faults.Fire.Store(&boom)
	x.at(testT1)
	x.e.Faults.Fire.Store(nil)
	var all []string // the first due panics: the two after it were taken off the wheel with it
	for at := testT1 + 1; at <= 70*testT1; at += testT1 {
		all = append(all, x.at(at)...)
	}
	if n := len(slices.DeleteFunc(all, func(s string) bool { return s != "caller SIP/2.0 408 Request Timeout" })); n < 2 {
		t.Fatalf("%d 408s (with Timer G's retransmissions) at Timer B, want the two calls whose timers did not panic to get theirs", n)
	}
	if x.h.panics != 1 {
		t.Fatalf("%d panics recovered, want 1", x.h.panics)
	}
}

// Herald's branches carry a MAC of their transaction id: a response on the branch of the next
// transaction's id (the ids count up), forged by a callee that saw one branch, matches nothing and
// is dropped, as is a 2xx on any branch the engine never minted (which it would otherwise relay to
// the address in the next Via); the real branch still works.
func TestForgedBranchDropped(t *testing.T) {
	x := newHarness(t, nil)
	if r, _ := x.in(x.caller, invite("z9hG4bKf1", "f1@x", "sip:dave@home1.net")); r != ReasonForwarded {
		t.Fatalf("first call: %v", r)
	}
	first := x.last["callee INVITE"]
	if r, _ := x.in(x.caller, invite("z9hG4bKf2", "f2@x", "sip:dave@home1.net")); r != ReasonForwarded {
		t.Fatalf("second call: %v", r)
	}
	second := x.last["callee INVITE"]
	b1 := branchOf(t, first)
	id, ours, ok := x.e.idOf([]byte(b1))
	if !ours || !ok {
		t.Fatalf("branch %s: not the engine's", b1)
	}
	guess := string(x.e.branchOf(id + 1)[:len(BranchPrefix)+16]) + b1[len(BranchPrefix)+16:] // the next id, the old MAC
	if guess == branchOf(t, second) {
		t.Fatal("the MAC of one id is another's")
	}
	forged := strings.Replace(string(reply(second, "200 OK", "evil")), branchOf(t, second), guess, 1)
	if r, sent := x.in(x.callee, []byte(forged)); r != ReasonStray || len(sent) != 0 {
		t.Fatalf("forged 200 on the next id: %v %q, want dropped", r, sent)
	}
	if r, sent := x.in(x.callee, reply(second, "200 OK", "real")); r != ReasonResponse || !slices.Contains(sent, "caller SIP/2.0 200 OK") {
		t.Fatalf("the real 200: %v %q", r, sent)
	}
}

// An in-dialog request (BYE, INFO) from a peer Herald does not trust goes on the fast path only
// along Herald's own Record-Route (a Route naming Herald first): any other goes to the general
// path, which answers 403. Before, anyone's BYE to any Request-URI was forwarded there, Timer E
// repeating it a dozen times: an open relay and an amplifier. A trusted peer's is forwarded as
// before.
func TestUntrustedInDialog(t *testing.T) {
	x := newHarness(t, nil)
	to := "<sip:dave@home1.net>;tag=d"
	x.h.untrusted = x.caller.Addr()
	if r, sent := x.in(x.caller, request("BYE", "z9hG4bKu1", "u1@x", to, 2)); r != ReasonUntrusted || len(sent) != 0 {
		t.Fatalf("untrusted BYE, no Route of Herald's: %v %q", r, sent)
	}
	if r, sent := x.in(x.caller, request("INFO", "z9hG4bKu2", "u2@x", to, 2)); r != ReasonUntrusted || len(sent) != 0 {
		t.Fatalf("untrusted INFO, no Route of Herald's: %v %q", r, sent)
	}
	if r, sent := x.in(x.caller, request("BYE", "z9hG4bKu3", "u3@x", to, 2, "Route: <sip:127.0.0.1:5060;lr>\r\n")); r != ReasonForwarded || !slices.Contains(sent, "callee BYE") {
		t.Fatalf("untrusted BYE along Herald's Record-Route: %v %q", r, sent)
	}
	x.h.untrusted = netip.Addr{}
	if r, sent := x.in(x.caller, request("BYE", "z9hG4bKu4", "u4@x", to, 2)); r != ReasonForwarded || !slices.Contains(sent, "callee BYE") {
		t.Fatalf("trusted BYE: %v %q", r, sent)
	}
}
