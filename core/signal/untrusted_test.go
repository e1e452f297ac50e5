package signal

import (
	"net/netip"
	"strings"
	"testing"
)

// An in-dialog request from a peer outside the trusted list is proxied only along Herald's own
// Record-Route (its Route first): any other is answered 403 on both paths, so Herald is no open
// relay sending anyone's BYE, repeated by Timer E, to any address. Along the Route it goes on.
func TestUntrustedInDialogForbidden(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	for _, fast := range []bool{true, false} {
		caller, callee := newFPPeer(t), newFPPeer(t)
		r := startHerald(t, st, callee.addr(), func(o *Options) {
			o.Trusted = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // loopback is not
			o.DisableFastPath = !fast
		})
		c := newFPCall(caller, erin, dave)
		to := "<" + dave + ">;tag=x1"
		caller.send(t, r.addr, c.request("BYE", "sip:dave@"+callee.addr(), fpBranch(), 2, to, nil))
		if m := parseFP(t, "answer", caller.next(t, "answer to the BYE").data); !strings.HasPrefix(m.start, "SIP/2.0 403 ") {
			t.Fatalf("fast path %v: BYE from an untrusted peer, no Route of Herald's: %q, want 403", fast, m.start)
		}
		callee.silent(t, "callee", 3*testT1)
		caller.send(t, r.addr, c.request("BYE", "sip:dave@"+callee.addr(), fpBranch(), 3, to, []string{fpRoute(r)}))
		if m := parseFP(t, "forwarded BYE", callee.next(t, "BYE along Herald's Route").data); !strings.HasPrefix(m.start, "BYE ") {
			t.Fatalf("fast path %v: along Herald's Route: callee got %q", fast, m.start)
		}
	}
}
